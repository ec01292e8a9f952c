"""Signalling edge cases and load with Debian's SIPp (``sip-tester``) against the endpoint:
20 simultaneous calls, ``max_calls`` answered busy, sources outside ``allow_ips`` refused,
trunk digest, CANCEL before the answer, hold and resume by re-INVITE, malformed requests
answered 400, OPTIONS, and junk over UDP and TCP that never stops the server.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors.pbx.sip_config import SipSettings
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.transport import AudioIn, CallTransport, DtmfIn, HangupIn
from tests.fakes.sip_servers import sipp


class HoldBot:
    """Stays on the line until the caller hangs up; counts calls at once."""

    def __init__(self) -> None:
        self.calls: list[CallTransport] = []
        self.active = 0
        self.most = 0
        self.audio_frames = 0
        self.hangups: list[str] = []

    async def __call__(self, call: CallTransport) -> None:
        self.calls.append(call)
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            async for event in call.events():
                if isinstance(event, AudioIn):
                    self.audio_frames += 1
                elif isinstance(event, HangupIn):
                    self.hangups.append(event.reason)
        finally:
            self.active -= 1


async def endpoint_with(**kw: Any) -> tuple[SipEndpoint, HoldBot]:
    bot = HoldBot()
    endpoint = SipEndpoint(bot, SipSettings(port=0, **kw))
    await endpoint.start()
    return endpoint, bot


@pytest.fixture
async def bot() -> AsyncIterator[tuple[SipEndpoint, HoldBot]]:
    endpoint, holder = await endpoint_with()
    try:
        yield endpoint, holder
    finally:
        await endpoint.stop(0.5)


def target(endpoint: SipEndpoint) -> str:
    return f"127.0.0.1:{endpoint.port}"


async def run(
    scenario: str, endpoint: SipEndpoint, folder: Path, *, auth: bool = False, **kw: Any
) -> str:
    extra = ["-s", "5555"] + (["-au", "trunk", "-ap", "s3cret-pass"] if auth else [])
    code, output = await sipp(scenario, target(endpoint), folder, extra=extra, **kw)
    assert code == 0, output[-3000:]
    return output


async def test_twenty_simultaneous_calls(bot: tuple[SipEndpoint, HoldBot], tmp_path: Path) -> None:
    endpoint, holder = bot
    await run("call", endpoint, tmp_path, calls=20, rate=100)
    await asyncio.sleep(0.3)
    assert len(holder.calls) == 20 and holder.most == 20
    assert holder.hangups == ["caller_hangup"] * 20
    assert {c.info.caller for c in holder.calls} == {"79001112233"}
    assert {c.info.called for c in holder.calls} == {"5555"}
    assert not endpoint.calls and endpoint.calls_total == 20


async def test_calls_beyond_max_calls_are_busy(tmp_path: Path) -> None:
    endpoint, holder = await endpoint_with(max_calls=2, busy_status=503)
    try:
        held = asyncio.create_task(run("call", endpoint, tmp_path / "held", calls=2, rate=100))
        async with asyncio.timeout(5):
            while len(endpoint.calls) < 2:
                await asyncio.sleep(0.02)
        values = {"STATUS": "503", "CODECS": "8"}
        await run("refused", endpoint, tmp_path / "busy", values=values)
        await held
    finally:
        await endpoint.stop(0.5)
    assert len(holder.calls) == 2


async def test_a_source_outside_allow_ips_is_refused(tmp_path: Path) -> None:
    endpoint, holder = await endpoint_with(allow_ips=["192.0.2.0/24"])
    try:
        await run("refused", endpoint, tmp_path, values={"STATUS": "403", "CODECS": "8"})
    finally:
        await endpoint.stop(0.5)
    assert not holder.calls


async def test_no_common_codec_is_488(bot: tuple[SipEndpoint, HoldBot], tmp_path: Path) -> None:
    endpoint, holder = bot
    await run("refused", endpoint, tmp_path, values={"STATUS": "488", "CODECS": "9 18"})
    assert not holder.calls


async def test_trunk_digest(tmp_path: Path) -> None:
    # SIPp answers only the first challenge and only MD5
    endpoint, holder = await endpoint_with(
        username="trunk", password="s3cret-pass", digest_algorithms=["MD5"]
    )
    try:
        await run("auth", endpoint, tmp_path, auth=True)
    finally:
        await endpoint.stop(0.5)
    assert len(holder.calls) == 1


async def test_cancel_before_answer(bot: tuple[SipEndpoint, HoldBot], tmp_path: Path) -> None:
    endpoint, holder = bot
    endpoint.answer_after_ms = 1500
    await run("cancel", endpoint, tmp_path)
    await asyncio.sleep(1.8)  # past the answer time: nothing is answered late
    assert not holder.calls and not endpoint.calls and not endpoint.ringing


async def test_hold_and_resume(bot: tuple[SipEndpoint, HoldBot], tmp_path: Path) -> None:
    endpoint, holder = bot
    await run("hold", endpoint, tmp_path)
    assert holder.hangups == ["caller_hangup"]


async def test_malformed_requests_get_400(bot: tuple[SipEndpoint, HoldBot], tmp_path: Path) -> None:
    endpoint, holder = bot
    await run("malformed", endpoint, tmp_path)
    assert (
        endpoint.wire.bad_messages == 1 and not holder.calls
    )  # the SDP one: 400 from the call layer


async def test_junk_over_udp_and_tcp_never_stops_the_server(
    bot: tuple[SipEndpoint, HoldBot], tmp_path: Path
) -> None:
    endpoint, holder = bot
    port = endpoint.port
    junk = [b"\x00\xff" * 100, b"NOT SIP AT ALL\r\n\r\n", b"INVITE sip:x SIP/2.0\r\n\r\n"]
    junk.append(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\n" + b"X: y\r\n" * 5000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for data in junk:
            udp.sendto(data[:65000], ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"INVITE sip:x SIP/2.0\r\nContent-Length: 999999\r\n\r\n")
    await writer.drain()
    async with asyncio.timeout(5):
        assert await reader.read() == b""  # dropped: body over the limit
    writer.close()
    await asyncio.sleep(0.2)
    assert endpoint.wire.bad_messages >= 4
    await run("call", endpoint, tmp_path)  # and calls still work
    assert len(holder.calls) == 1


async def test_logs_hold_no_caller_number(
    bot: tuple[SipEndpoint, HoldBot], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint, holder = bot
    caplog.set_level(logging.DEBUG)
    await run("call", endpoint, tmp_path)
    await run("malformed", endpoint, tmp_path / "bad")
    assert len(holder.calls) == 1
    ours = [r for r in caplog.records if r.name.startswith(("connectors", "aiosipua"))]
    assert ours
    assert not [r for r in ours if "79001112233" in r.getMessage()]  # never in the text


NOTIFY_OK = """  <send retrans="500">
    <![CDATA[
      NOTIFY [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "79001112233" <sip:79001112233@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 NOTIFY
      Event: refer
      Subscription-State: terminated;reason=noresource
      Max-Forwards: 70
      Content-Type: message/sipfrag;version=2.0
      Content-Length: [len]

      SIP/2.0 200 OK
    ]]>
  </send>
  <recv response="200"/>
"""


class TransferBot(HoldBot):
    """Key 0 (SIP INFO here): caller name for operators, then transfer to «operator»."""

    async def __call__(self, call: CallTransport) -> None:
        self.calls.append(call)
        async for event in call.events():
            if isinstance(event, DtmfIn) and event.digit == "0":
                await call.set_caller_name("Иван 2(3)")
                await call.transfer("operator")
            elif isinstance(event, HangupIn):
                self.hangups.append(event.reason)


@pytest.mark.parametrize("accepted", [True, False], ids=["refer-accepted", "refer-refused"])
async def test_transfer_by_refer_or_fallback_bye(tmp_path: Path, accepted: bool) -> None:
    bot = TransferBot()
    endpoint = SipEndpoint(bot, SipSettings(port=0))
    await endpoint.start()
    if accepted:
        values = {"REFER_STATUS": "202", "REFER_REASON": "Accepted", "NOTIFY": NOTIFY_OK}
        values |= {"BYE_CHECK": "BYE sip:", "BYE_CHECK2": "CSeq: [0-9]+ BYE"}
    else:
        values = {"REFER_STATUS": "405", "REFER_REASON": "Method Not Allowed", "NOTIFY": ""}
        values |= {"BYE_CHECK": "X-Bot-Result: transfer", "BYE_CHECK2": "Reason: Q.850;cause=23"}
    try:
        output = await run("transfer", endpoint, tmp_path, values=values)
    finally:
        await endpoint.stop(0.5)
    assert "Successful call" in output
    assert bot.hangups == ["bot_hangup"]
    # the missed-call intake reads it (bot.missed.intake_bot): a refused REFER is no handoff
    assert bot.calls[0].outcome.transfer_failed == ("" if accepted else "refused")


BYE_FROM_SIPP = """  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "79001112233" <sip:79001112233@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
"""


@pytest.mark.parametrize("refresher", ["uas", "uac"])
async def test_session_timers(tmp_path: Path, refresher: str) -> None:
    """uas: the bot refreshes with UPDATE at half the interval and the call goes on;
    uac: the caller never refreshes, so the bot ends the session with BYE."""
    endpoint, holder = await endpoint_with(min_se=2, session_expires=4)
    values = {"EXPIRES": "4", "REFRESHER": refresher}
    if refresher == "uas":
        values |= {"EXPECT": "UPDATE", "AFTER": BYE_FROM_SIPP}
    else:
        values |= {"EXPECT": "BYE", "AFTER": ""}
    try:
        await run("timer", endpoint, tmp_path, values=values)
        await asyncio.sleep(0.2)
    finally:
        await endpoint.stop(0.5)
    expected = "caller_hangup" if refresher == "uas" else "bot_hangup"
    assert holder.hangups == [expected]
