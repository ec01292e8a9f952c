"""Extension mode against Debian's kamailio as registrar and record-routing proxy.

The bot registers with digest (MD5 and SHA-256), a baresip phone calls the extension through
the proxy, ACK, REFER and BYE follow the Record-Route through the proxy, the transfer
reaches an operator phone behind the proxy with the caller name header, and the bot
registers again after the registrar restarts (it forgets bindings: no database).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from connectors.pbx.sip_config import SipAccount, SipSettings, SipTransferSettings
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.transport import CallTransport, DtmfIn
from speech.audio import Audio, tone
from tests.fakes.sip_peers import baresip
from tests.fakes.sip_servers import Kamailio, kamailio


class KeyBot:
    """0: set the caller name and transfer to «operator»; 9: hang up."""

    def __init__(self) -> None:
        self.calls: list[CallTransport] = []
        self.done = asyncio.Event()

    async def __call__(self, call: CallTransport) -> None:
        self.calls.append(call)
        async for event in call.events():
            if isinstance(event, DtmfIn) and event.digit == "0":
                await call.set_caller_name("Иван 2(3)")
                await call.transfer("operator")
            elif isinstance(event, DtmfIn) and event.digit == "9":
                await call.hangup()
        self.done.set()


@pytest.fixture
def mic(tmp_path: Path) -> Path:
    path = tmp_path / "mic.wav"
    (tone(440, 1.0, rate=8000, amplitude=0.2) + Audio.silence(60, 8000)).write_wav(path)
    return path


def settings_for(proxy: Kamailio, transport: str = "udp", keepalive: float = 20.0) -> SipSettings:
    account = SipAccount(
        username="bot1",
        password="secret",
        domain=f"127.0.0.1:{proxy.port}",
        transport=transport,
        expires=60,
        keepalive=keepalive,
    )
    transfer = SipTransferSettings(domain=f"127.0.0.1:{proxy.port}")
    return SipSettings(port=0, accounts=[account], transfer=transfer)


async def start(settings: SipSettings, bot: KeyBot) -> SipEndpoint:
    endpoint = SipEndpoint(bot, settings)
    await endpoint.start()
    registration = endpoint.registrations.items[0]
    async with asyncio.timeout(10):
        await registration.registered.wait()
    return endpoint


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
async def test_registers_with_digest(tmp_path: Path, algorithm: str) -> None:
    """Two accounts (extensions bot1, bot2) at once; kamailio offers only ``algorithm``."""
    async with kamailio(tmp_path / "kamailio", algorithm=algorithm) as proxy:
        settings = settings_for(proxy)
        second = dataclasses.replace(settings.accounts[0], username="bot2")
        settings.accounts.append(second)
        endpoint = await start(settings, KeyBot())
        try:
            async with asyncio.timeout(10):
                await endpoint.registrations.items[1].registered.wait()
            for registration in endpoint.registrations.items:
                assert registration.state == "registered" and registration.granted == 60
        finally:
            await endpoint.stop(0.1)
        log = proxy.log()
    # each: challenged, registered, unregistered at stop
    assert log.count("REQ REGISTER") >= 6


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_call_through_the_proxy_follows_record_route(
    tmp_path: Path, mic: Path, transport: str
) -> None:
    async with kamailio(tmp_path / "kamailio") as proxy:
        bot = KeyBot()
        endpoint = await start(settings_for(proxy, transport), bot)
        try:
            async with baresip(tmp_path / "phone", mic=mic) as phone:
                await phone.dial(f"sip:bot1@127.0.0.1:{proxy.port}")
                await phone.wait_event("CALL_ESTABLISHED")
                await asyncio.sleep(0.5)
                await phone.keys("9")
                await phone.wait_event("CALL_CLOSED")
                async with asyncio.timeout(5):
                    await bot.done.wait()
        finally:
            await endpoint.stop(0.1)
        log = proxy.log()
    assert bot.calls[0].info.called == "bot1" and bot.calls[0].info.caller == "caller"
    assert "INDIALOG ACK via proxy" in log
    assert "INDIALOG BYE via proxy" in log  # our BYE took the Record-Route


async def test_refer_through_the_proxy_reaches_the_operator(tmp_path: Path, mic: Path) -> None:
    operator_account = "<sip:operator@127.0.0.1>;regint=0"
    async with (
        baresip(tmp_path / "op", mic=mic, account=operator_account, answer=True) as op,
        kamailio(tmp_path / "kamailio", operator_port=op.sip_port) as proxy,
    ):
        bot = KeyBot()
        endpoint = await start(settings_for(proxy), bot)
        try:
            async with baresip(tmp_path / "phone", mic=mic) as phone:
                await phone.dial(f"sip:bot1@127.0.0.1:{proxy.port}")
                await phone.wait_event("CALL_ESTABLISHED")
                await asyncio.sleep(0.5)
                await phone.keys("0")
                await op.wait_event("CALL_ESTABLISHED", timeout=10)
                async with asyncio.timeout(10):
                    await bot.done.wait()
        finally:
            await endpoint.stop(0.1)
        log = proxy.log()
    assert "INDIALOG REFER via proxy" in log
    assert "REQ REFER" in log and "name=Иван 2(3)" in log


async def test_registers_again_after_the_registrar_restarts(tmp_path: Path, mic: Path) -> None:
    folder = tmp_path / "kamailio"
    proxy = Kamailio(folder)
    await proxy.start()
    bot = KeyBot()
    endpoint = await start(settings_for(proxy, keepalive=0.5), bot)
    registration = endpoint.registrations.items[0]
    try:
        before = registration.registrations
        await proxy.stop()
        await asyncio.sleep(2.5)  # OPTIONS go unanswered
        restarted = Kamailio(folder)
        restarted.port = proxy.port
        await restarted.start()
        try:
            async with asyncio.timeout(15):
                while registration.registrations == before:
                    await asyncio.sleep(0.1)
            async with baresip(tmp_path / "phone", mic=mic) as phone:
                await phone.dial(f"sip:bot1@127.0.0.1:{restarted.port}")
                await phone.wait_event("CALL_ESTABLISHED")
                await phone.keys("9")
                await phone.wait_event("CALL_CLOSED")
        finally:
            await restarted.stop()
    finally:
        await endpoint.stop(0.1)
    assert len(bot.calls) == 1
