"""The SIP connector's pieces without a peer: parsing and 400s, SDP answers, digest checks,
caller and called numbers, Record-Route in responses, dialog requests, RTP keys and gaps,
settings validation."""

from __future__ import annotations

import time

import numpy as np
import pytest
from aiosipua.auth import SipDigestAuth, build_credentials
from aiosipua.headers import parse_auth, stringify_auth
from aiosipua.message import SipRequest

from connectors.pbx import sip_sdp
from connectors.pbx.sip_auth import DigestChecker
from connectors.pbx.sip_config import SipAccount, SipSettings, SipTransferSettings
from connectors.pbx.sip_messages import Dialog, call_parties, contact, response
from connectors.pbx.sip_rtp import RtpStream
from connectors.pbx.sip_wire import BadMessage, Peer, bad_request, parse
from speech.g711 import alaw_encode

INVITE = (
    "INVITE sip:5555@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\n"
    "Record-Route: <sip:10.0.0.9;lr>\r\n"
    'From: "Ivan" <sip:79001112233@pbx.example>;tag=abc\r\n'
    "To: <sip:5555@127.0.0.1>\r\n"
    "Call-ID: c1@pbx\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:pbx@10.0.0.1:5060>\r\n"
    "Content-Length: 0\r\n\r\n"
)
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 8 96\r\na=rtpmap:96 telephone-event/8000\r\n{extra}"
)


def invite(extra_headers: str = "", uri: str = "sip:5555@127.0.0.1:5060") -> SipRequest:
    text = INVITE.replace("sip:5555@127.0.0.1:5060 SIP", f"{uri} SIP")
    text = text.replace("Content-Length: 0\r\n", extra_headers + "Content-Length: 0\r\n")
    message = parse(text.encode(), 16384)
    assert isinstance(message, SipRequest)
    return message


# -- wire --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"HELLO\r\n\r\n", "bad start line"),
        (INVITE.replace("Call-ID: c1@pbx\r\n", "").encode(), "missing call-id"),
        (INVITE.replace("CSeq: 1 INVITE", "CSeq: one INVITE").encode(), "CSeq"),
        (INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE").encode(), "CSeq method"),
        (INVITE.replace("Content-Length: 0", "Content-Length: 50").encode(), "Content-Length"),
        (INVITE.encode() + b"x" * 20000, "exceeds"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(data: bytes, error: str) -> None:
    with pytest.raises(BadMessage, match=error):
        parse(data, 16384)


def test_a_400_copies_the_request_headers_and_needs_a_via() -> None:
    reply = bad_request(INVITE.replace("Call-ID: c1@pbx\r\n", "").encode(), "missing call-id")
    assert reply is not None
    text = reply.decode()
    assert text.startswith("SIP/2.0 400 Bad Request (missing call-id)\r\n")
    assert "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport" in text
    assert "CSeq: 1 INVITE" in text and "Ivan" in text
    assert bad_request(b"INVITE sip:x SIP/2.0\r\n\r\n", "x") is None  # nowhere to answer
    assert bad_request(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", "x") is None  # never answer a response


# -- messages and dialogs ------------------------------------------------------------------------


def test_answers_to_an_invite_copy_record_route_and_tag() -> None:
    request = invite()
    ok = response(request, 200, to_tag="t1")
    ringing = response(request, 180, to_tag="t1")
    trying = response(request, 100, to_tag="t1")
    assert ok.headers.get("record-route") == ["<sip:10.0.0.9;lr>"]
    assert ringing.headers.get("record-route") == ["<sip:10.0.0.9;lr>"]
    assert not trying.headers.get("record-route")
    assert ok.headers.get_first("to") == "<sip:5555@127.0.0.1>;tag=t1"
    assert "tag=" not in (trying.headers.get_first("to") or "")


def test_dialog_requests_follow_the_route_set_and_carry_the_transport() -> None:
    dialog = Dialog.from_invite(invite(), Peer("10.0.0.1", 5060, "tcp"))
    assert dialog.peer == Peer("10.0.0.9", 5060, "tcp")  # the proxy that record-routed
    bye = dialog.request("BYE", "127.0.0.1", 5060)
    assert bye.uri == "sip:pbx@10.0.0.1:5060"
    assert bye.headers.get("route") == ["<sip:10.0.0.9;lr>"]
    assert (bye.headers.get_first("via") or "").startswith("SIP/2.0/TCP 127.0.0.1:5060;")
    assert bye.headers.get_first("to") == '"Ivan" <sip:79001112233@pbx.example>;tag=abc'
    assert contact("127.0.0.1", 5060, "tcp") == "<sip:bot@127.0.0.1:5060;transport=tcp>"
    assert dialog.matches(
        parse(
            bytes(bye)
            .replace(b"tag=abc", b"tag=XX")
            .replace(f"tag={dialog.local_tag}".encode(), b"tag=abc")
            .replace(b"tag=XX", f"tag={dialog.local_tag}".encode()),
            16384,
        )  # type: ignore[arg-type]
    )


def test_caller_and_called_numbers() -> None:
    plain = invite()
    assert call_parties(plain, {"bot"})[:2] == ("79001112233", "5555")
    pai = invite("P-Asserted-Identity: <tel:+74951234567>\r\n")
    assert call_parties(pai, {"bot"})[0] == "+74951234567"
    diverted = invite("Diversion: <sip:78123098635@pbx>;reason=unconditional\r\n")
    _, called, extra = call_parties(diverted, {"bot"})
    assert called == "78123098635" and extra["diversion"] == "78123098635"
    to_own_contact = invite(uri="sip:bot1@127.0.0.1:5060")
    assert call_parties(to_own_contact, {"bot", "bot1"})[1] == "5555"  # the To user


# -- SDP -------------------------------------------------------------------------------------


def test_sdp_answer_takes_our_preference_and_the_offered_event_type() -> None:
    media = sip_sdp.negotiate(OFFER.format(extra=""), ["PCMA", "PCMU"])
    assert (media.codec, media.payload_type, media.dtmf_payload_type) == ("PCMA", 8, 96)
    assert (media.host, media.port, media.direction) == ("10.0.0.1", 4000, "sendrecv")
    answer = sip_sdp.answer(media, "127.0.0.1", 10000, 5, 1)
    assert "m=audio 10000 RTP/AVP 8 96\r\n" in answer
    assert "a=rtpmap:96 telephone-event/8000" in answer and "a=ptime:20" in answer
    assert sip_sdp.negotiate(OFFER.format(extra=""), ["PCMU"]).codec == "PCMU"


def test_sdp_hold_and_refusals() -> None:
    held = sip_sdp.negotiate(OFFER.format(extra="a=sendonly\r\n"), ["PCMA"])
    assert held.direction == "recvonly" and not held.sending
    old_hold = sip_sdp.negotiate(
        OFFER.format(extra="").replace("c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0"), ["PCMA"]
    )
    assert old_hold.direction == "recvonly"
    with pytest.raises(sip_sdp.SdpError) as no_codec:
        sip_sdp.negotiate(OFFER.format(extra="").replace("0 8 96", "9 96"), ["PCMA", "PCMU"])
    assert not isinstance(no_codec.value, sip_sdp.SdpMalformed)
    for junk in (
        "this is not SDP",
        "v=0\r\ns=-\r\n",
        OFFER.format(extra="").replace("c=IN IP4 10.0.0.1\r\n", ""),
    ):
        with pytest.raises(sip_sdp.SdpMalformed):
            sip_sdp.negotiate(junk, ["PCMA"])


# -- digest ------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_digest_check(algorithm: str) -> None:
    checker = DigestChecker("trunk", "s3cret", "bot")
    challenge = next(c for c in checker.challenges() if f"algorithm={algorithm}" in c)

    def signed(password: str) -> SipRequest:
        request = invite()
        creds = build_credentials(
            SipDigestAuth("trunk", password), parse_auth(challenge), "INVITE", request.uri
        )
        assert creds is not None
        request.headers.set_single("Authorization", stringify_auth(creds))
        return request

    assert checker.check(signed("s3cret"))
    assert not checker.check(signed("wrong"))
    assert not checker.check(invite())
    md5_only = DigestChecker("trunk", "s3cret", "bot", ("MD5",))
    assert len(md5_only.challenges()) == 1


def test_digest_nonce_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    checker = DigestChecker("trunk", "s3cret", "bot")
    challenge = checker.challenges()[0]
    request = invite()
    creds = build_credentials(
        SipDigestAuth("trunk", "s3cret"), parse_auth(challenge), "INVITE", request.uri
    )
    assert creds is not None
    request.headers.set_single("Authorization", stringify_auth(creds))
    later = time.time() + 301
    monkeypatch.setattr("connectors.pbx.sip_auth.time.time", lambda: later)
    assert not checker.check(request)


# -- RTP -------------------------------------------------------------------------------------


def rtp(seq: int, ts: int, pt: int, payload: bytes) -> bytes:
    return (
        bytes([0x80, pt]) + seq.to_bytes(2, "big") + ts.to_bytes(4, "big") + b"\0\0\0\1" + payload
    )


def test_rtp_keys_once_per_event_gaps_filled_and_latching() -> None:
    audio: list[bytes] = []
    keys: list[str] = []
    stream = RtpStream(audio.append, keys.append)
    stream.payload_type, stream.dtmf_payload_type = 8, 101
    frame = alaw_encode(np.full(160, 1000, dtype=np.int16))
    source = ("10.0.0.1", 4000)
    stream.datagram_received(rtp(1, 160, 8, frame), source)
    stream.datagram_received(rtp(4, 640, 8, frame), source)  # 2 lost: filled with silence
    stream.datagram_received(rtp(4, 640, 8, frame), source)  # a duplicate: dropped
    stream.datagram_received(rtp(5, 800, 8, frame), ("10.0.0.66", 4000))  # not the latched peer
    for end in (0, 0, 0x80, 0x80, 0x80):  # one key: its packets and three ends
        stream.datagram_received(rtp(6, 960, 101, bytes([5, end | 10, 0, 160])), source)
    stream.datagram_received(rtp(7, 1760, 101, bytes([11, 0x8A, 0, 160])), source)
    stream.datagram_received(b"\x00" * 8, source)  # too short
    assert keys == ["5", "#"]
    assert [len(a) for a in audio] == [320, 640, 320]
    assert audio[1] == bytes(640)
    assert stream.remote == source and stream.dropped == 2


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"codecs": ["G729"]}, "codecs"),
        ({"allow_ips": ["not-an-ip"]}, "allow_ips"),
        ({"busy_status": 404}, "busy_status"),
        ({"udp": False, "tcp": False}, "udp, tcp"),
        ({"username": "x"}, "password"),
        ({"rtp_port_min": 2000, "rtp_port_max": 1000}, "rtp_port"),
        ({"digest_algorithms": ["SHA-512"]}, "digest_algorithms"),
    ],
)
def test_bad_settings_name_the_key(kwargs: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        SipSettings(**kwargs)  # type: ignore[arg-type]


def test_account_and_transfer_settings() -> None:
    account = SipAccount(
        username="00012*101", password="p", domain="sip.example", proxy="10.0.0.5:5070"
    )
    assert account.next_hop == ("10.0.0.5", 5070) and account.aor == "sip:00012*101@sip.example"
    with pytest.raises(ValueError, match="username and domain"):
        SipAccount(username="101")
    with pytest.raises(ValueError, match="fallback"):
        SipTransferSettings(fallback="dance")
    with pytest.raises(ValueError, match="header"):
        SipTransferSettings(caller_name_header="X Bad: header")


async def test_bot_serve_prints_how_to_call_it_with_baresip() -> None:
    from bot.config import Settings
    from bot.server import BotServer, how_to_call
    from connectors.pbx.sip_server import SipEndpoint

    settings = Settings()
    settings.server.sip.port = 0
    server = BotServer(settings)
    server.sip = SipEndpoint(server.handle_call, settings.server.sip)
    await server.sip.start()
    try:
        text = how_to_call(server)
    finally:
        await server.sip.stop(0)
    assert f'baresip -e "/dial sip:78123098635@127.0.0.1:{server.sip.port}"' in text
