"""The two ways a SIP call-back leaves the bot: ``route: trunk`` to a trunk that challenges the
INVITE with digest (another SIP endpoint of ours with a trunk password, on a real socket), and
``route: account`` through the bot's registered extension at Debian's kamailio (registrar and
record-routing proxy), where the client's baresip is registered too; the in-dialog requests
(ACK, REFER, BYE) follow the Record-Route through the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.missed import statuses
from bot.missed.callback_jobs import CallbackJobs
from bot.missed.callback_rules import CallbackRule
from bot.missed.callback_settings import CallbackSettings, CallbackSipSettings
from bot.missed.dialer import SipDialer
from bot.missed.scheduler import CallbackScheduler
from bot.missed.store import MissedCall, MissedCallStore
from connectors.pbx.sip_config import SipAccount, SipSettings
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.transport import CallTransport, HangupIn
from connectors.shop.database import ShopDatabase
from connectors.shop.settings import ShopSettings
from speech.audio import Audio
from tests.fakes.sip_peers import baresip
from tests.fakes.sip_servers import kamailio
from tests.fakes.speech import ToneSynthesizer

pytestmark = pytest.mark.e2e
MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=MSK)


async def no_inbound(call: CallTransport) -> None:
    await call.hangup()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[ShopDatabase]:
    database = await ShopDatabase.open(ShopSettings(url=f"sqlite:///{tmp_path / 's.sqlite'}"))
    try:
        yield database
    finally:
        await database.close()


async def missed(db: ShopDatabase) -> MissedCall:
    call = await MissedCallStore(db).add(
        missed_at=T0, caller="9161234567", called="74951234567", source_kind="queue",
        source="sales", wait_s=25.0, intake="http", external_id="pbx-1",
    )  # fmt: skip
    assert call is not None
    return call


async def run(db: ShopDatabase, endpoint: SipEndpoint, rule: CallbackRule, **sip: Any) -> int:
    settings = CallbackSettings(enabled=True, sip=CallbackSipSettings(**sip))
    dialer = SipDialer(endpoint, settings, ToneSynthesizer(rate=8000))
    worker = CallbackScheduler(
        settings, CallbackJobs(db), MissedCallStore(db), dialer, lambda: [rule],
        clock=lambda: T0 + timedelta(minutes=5),
    )  # fmt: skip
    call = await missed(db)
    await worker.on_missed(call)
    async with asyncio.timeout(60):
        await worker.run_once()
    return call.id


class Trunk:
    """The far side of a trunk: takes the call, hears the bot, refuses its REFER (405)."""

    def __init__(self) -> None:
        self.calls: list[CallTransport] = []
        self.ended: HangupIn | None = None

    async def __call__(self, call: CallTransport) -> None:
        self.calls.append(call)
        async for event in call.events():
            if isinstance(event, HangupIn):
                self.ended = event


async def test_a_trunk_that_asks_for_a_password_and_refuses_the_transfer(
    db: ShopDatabase,
) -> None:
    trunk = Trunk()
    far = SipEndpoint(trunk, SipSettings(port=0, username="bot", password="trunk-secret"))
    await far.start()
    endpoint = SipEndpoint(no_inbound, SipSettings(port=0))
    await endpoint.start()
    try:
        rule = CallbackRule(name="Продажи", source_kind="queue", source="sales",
                            targets=("101",))  # fmt: skip
        missed_id = await run(db, endpoint, rule, trunk=f"127.0.0.1:{far.port}",
                              username="bot", password="trunk-secret")  # fmt: skip
    finally:
        await endpoint.stop(0.5)
        await far.stop(0.5)
    assert len(trunk.calls) == 1  # the digest answer was accepted
    info = trunk.calls[0].info
    assert info.caller == "bot" and info.called == "89161234567"
    assert trunk.ended is not None and trunk.ended.reason == "caller_hangup"  # the bot's BYE
    stored = await MissedCallStore(db).get(missed_id)
    assert stored is not None and stored.status == statuses.NOT_CALLED_BACK
    assert stored.history[-1]["transfer"] == "refused"


async def test_through_the_registered_extension_at_kamailio(
    db: ShopDatabase, tmp_path: Path
) -> None:
    mic = tmp_path / "mic.wav"
    Audio.silence(60, 8000).write_wav(mic)
    operator = "<sip:operator@127.0.0.1>;regint=0"
    async with (
        baresip(tmp_path / "op", mic=mic, account=operator, answer=True) as op,
        kamailio(tmp_path / "kamailio", operator_port=op.sip_port) as proxy,
    ):
        domain = f"127.0.0.1:{proxy.port}"
        account = SipAccount(username="bot1", password="secret", domain=domain, expires=60)
        endpoint = SipEndpoint(no_inbound, SipSettings(port=0, accounts=[account]))
        await endpoint.start()
        client_account = f"<sip:89161234567@{domain}>;auth_pass=secret;regint=60"
        try:
            async with baresip(tmp_path / "client", mic=mic, account=client_account,
                               answer=True) as client:  # fmt: skip
                async with asyncio.timeout(10):  # (its event may precede ctrl_tcp)
                    while "200 OK" not in client.log():
                        await asyncio.sleep(0.05)
                async with asyncio.timeout(10):
                    await endpoint.registrations.items[0].registered.wait()
                rule = CallbackRule(name="Продажи", source_kind="queue", source="sales",
                                    targets=("operator",))  # fmt: skip
                missed_id = await run(db, endpoint, rule, route="account")
                await op.wait_event("CALL_ESTABLISHED", timeout=10)
                assert client.has_event("TRANSFER")
        finally:
            await endpoint.stop(0.5)
        log = proxy.log()
    assert "REQ INVITE" in log and "INDIALOG REFER via proxy" in log
    stored = await MissedCallStore(db).get(missed_id)
    assert stored is not None and stored.status == statuses.CALLED_BACK
