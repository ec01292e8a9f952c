"""SDP offer/answer for one G.711 audio stream with RFC 4733 telephone events.

Offers are parsed with ``aiosipua.parse_sdp``; answers and our own offers are written here
(only what we send: one audio line, our codec, the offer's telephone-event type, ptime 20,
the direction that answers the offer's: hold ``sendonly`` ➜ ``recvonly``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiosipua.sdp import parse_sdp

STATIC_PT = {"PCMU": 0, "PCMA": 8}
ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


class SdpError(ValueError):
    """The offer cannot be answered: no common codec or media (488)."""


class SdpMalformed(SdpError):
    """The body is not valid SDP (400)."""


@dataclass(frozen=True, slots=True)
class Media:
    """What was agreed: the far end's RTP address, our codec and DTMF payload types."""

    host: str
    port: int
    codec: str  # "PCMA" | "PCMU"
    payload_type: int
    dtmf_payload_type: int | None
    direction: str  # our direction: sendrecv, sendonly (the peer holds), recvonly, inactive

    @property
    def sending(self) -> bool:
        return self.direction in ("sendrecv", "sendonly") and self.port != 0


def negotiate(offer_text: str, codecs: list[str]) -> Media:
    """The answer to an offer: the first of ``codecs`` (preference order) the offer has."""
    if len(offer_text) > 8192:
        raise SdpMalformed("SDP offer too long")
    lines = [line.strip() for line in offer_text.strip().splitlines()]
    if not lines or lines[0] != "v=0" or not any(line.startswith("m=") for line in lines):
        raise SdpMalformed("not SDP (no v=0 or no m= line)")
    try:
        offer = parse_sdp(offer_text)
    except Exception as exc:
        raise SdpMalformed(f"unparseable SDP ({type(exc).__name__})") from None
    audio = offer.audio
    if audio is None:
        raise SdpError("no audio stream in the offer")
    if audio.proto.upper() not in ("RTP/AVP", "RTP/AVPF"):
        raise SdpError(f"unsupported media profile {audio.proto}")
    connection = audio.connection or offer.connection
    if connection is None:
        raise SdpMalformed("no connection address in the offer")
    offered: dict[str, int] = {}
    dtmf: int | None = None
    for codec in audio.codecs:
        name = codec.encoding_name.upper()
        rate = codec.clock_rate or 8000
        if name in STATIC_PT and rate == 8000 and name not in offered:
            offered[name] = codec.payload_type
        elif name == "TELEPHONE-EVENT" and rate == 8000 and dtmf is None:
            dtmf = codec.payload_type
    chosen = next((c for c in codecs if c in offered), None)
    if chosen is None:
        raise SdpError("no common codec (we take PCMA and PCMU)")
    direction = ANSWER_DIRECTION.get(audio.direction, "sendrecv")
    host = connection.address
    if host in ("0.0.0.0", "::"):  # RFC 2543 hold
        direction = "inactive" if direction in ("recvonly", "inactive") else "recvonly"
    return Media(host, audio.port, chosen, offered[chosen], dtmf, direction)


def answer(media: Media, host: str, port: int, session_id: int, version: int) -> str:
    """Our SDP answer (or a re-answer with ``version`` + 1)."""
    family = "IP6" if ":" in host else "IP4"
    formats = [str(media.payload_type)]
    lines = [f"a=rtpmap:{media.payload_type} {media.codec}/8000"]
    if media.dtmf_payload_type is not None:
        formats.append(str(media.dtmf_payload_type))
        lines += [
            f"a=rtpmap:{media.dtmf_payload_type} telephone-event/8000",
            f"a=fmtp:{media.dtmf_payload_type} 0-16",
        ]
    return _sdp(host, family, port, session_id, version, formats, lines, media.direction)


def offer(codecs: list[str], host: str, port: int, session_id: int) -> str:
    """An offer for an INVITE without SDP (the answer comes in the ACK) and for clients."""
    family = "IP6" if ":" in host else "IP4"
    formats = [str(STATIC_PT[c]) for c in codecs] + ["101"]
    lines = [f"a=rtpmap:{STATIC_PT[c]} {c}/8000" for c in codecs]
    lines += ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"]
    return _sdp(host, family, port, session_id, 1, formats, lines, "sendrecv")


def new_session_id() -> int:
    return int(time.time() * 1000) % 2**31


def _sdp(
    host: str,
    family: str,
    port: int,
    session_id: int,
    version: int,
    formats: list[str],
    attributes: list[str],
    direction: str,
) -> str:
    lines = [
        "v=0",
        f"o=bot {session_id} {version} IN {family} {host}",
        "s=bot",
        f"c=IN {family} {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(formats)}",
        *attributes,
        "a=ptime:20",
        f"a={direction}",
    ]
    return "\r\n".join(lines) + "\r\n"
