"""A whole client-first call-back over SIP to Debian's baresip, ending in a transfer.

A missed call from the queue «sales» is scheduled by the real scheduler (SQLite shop
database); the SIP dialer sends an INVITE from the bot's own endpoint «through the trunk» (the
client's phone stands for it), the client's baresip answers, hears «Вы звонили в …»
(Festival) and is transferred with REFER to the operator's baresip, which answers. The missed
call ends «Успешно перезвонили», its job done. A busy client («486») and nobody answering at
all (the ring timeout ➜ CANCEL) are «Неуспешный вызов» with a retry scheduled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bot.missed import statuses
from bot.missed.callback_jobs import DONE, PENDING, CallbackJobs
from bot.missed.callback_rules import CallbackRule
from bot.missed.callback_settings import CallbackSettings, CallbackSipSettings
from bot.missed.dialer import SipDialer
from bot.missed.scheduler import CallbackScheduler
from bot.missed.store import MissedCall, MissedCallStore
from connectors.pbx.sip_config import SipSettings
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.transport import CallTransport
from connectors.shop.database import ShopDatabase
from connectors.shop.settings import ShopSettings
from speech.audio import Audio
from speech.tts import Synthesizer, create_synthesizer
from tests.fakes.sip_peers import Baresip, baresip

pytestmark = pytest.mark.e2e
MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=MSK)
CLIENT = "<sip:89161234567@127.0.0.1>;regint=0"


@pytest.fixture(scope="module")
def silence_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mic") / "silence.wav"
    Audio.silence(90, 8000).write_wav(path)
    return path


@pytest.fixture
async def voice() -> AsyncIterator[Synthesizer]:
    synthesizer = create_synthesizer("festival", rate=16000)
    try:
        yield synthesizer
    finally:
        synthesizer.close()


async def no_inbound(call: CallTransport) -> None:
    await call.hangup()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    db = await ShopDatabase.open(ShopSettings(url=f"sqlite:///{tmp_path / 'shop.sqlite'}"))
    endpoint = SipEndpoint(no_inbound, SipSettings(port=0))
    await endpoint.start()
    try:
        yield {"db": db, "endpoint": endpoint, "folder": tmp_path}
    finally:
        await endpoint.stop(0.5)
        await db.close()


async def missed(db: ShopDatabase) -> MissedCall:
    call = await MissedCallStore(db).add(
        missed_at=T0,
        caller="9161234567",
        called="74951234567",
        source_kind="queue",
        source="sales",
        wait_s=25.0,
        intake="ami",
        external_id="1733050000.42",
    )
    assert call is not None
    return call


def scheduler(
    world: dict[str, Any], phone: Baresip, rule: CallbackRule, voice: Synthesizer, **sip: Any
) -> CallbackScheduler:
    settings = CallbackSettings(
        enabled=True,
        shop_name="магазин «Ромашка»",
        sip=CallbackSipSettings(trunk=f"127.0.0.1:{phone.sip_port}", **sip),
    )
    db = world["db"]
    dialer = SipDialer(world["endpoint"], settings, voice)
    return CallbackScheduler(
        settings,
        CallbackJobs(db),
        MissedCallStore(db),
        dialer,
        lambda: [rule],
        clock=lambda: T0 + timedelta(minutes=5),
    )


async def test_client_first_call_back_greets_and_transfers_to_the_operator(
    world: dict[str, Any], silence_wav: Path, voice: Synthesizer
) -> None:
    db = world["db"]
    folder: Path = world["folder"]
    operator_account = "<sip:operator@127.0.0.1>;regint=0"
    async with (
        baresip(folder / "op", mic=silence_wav, account=operator_account, answer=True) as op,
        baresip(folder / "client", mic=silence_wav, account=CLIENT, answer=True) as client,
    ):
        rule = CallbackRule(
            name="Продажи",
            source_kind="queue",
            source="sales",
            delay_s=60,
            target_kind="employees",
            targets=(f"sip:operator@127.0.0.1:{op.sip_port}",),
        )
        worker = scheduler(world, client, rule, voice)
        call = await missed(db)
        await worker.on_missed(call)
        async with asyncio.timeout(60):
            await worker.run_once()
        assert client.has_event("CALL_ESTABLISHED"), client.log()[-2000:]
        assert client.has_event("TRANSFER"), client.log()[-2000:]
        await op.wait_event("CALL_ESTABLISHED", timeout=10)
        await client.command("hangup")
    heard = sorted((folder / "client").glob("dump-*-dec.wav"))[0]  # the call-back leg
    greeting = Audio.read_wav(heard).samples().astype(np.float64)
    assert np.sqrt(np.mean(greeting**2)) > 100  # the client heard the bot's greeting
    stored = await MissedCallStore(db).get(call.id)
    assert stored is not None and stored.status == statuses.CALLED_BACK
    entry = stored.history[-1]
    assert entry["outcome"] == "connected" and entry["transfer"] == "transferred"
    assert entry["target"] == f"sip:operator@127.0.0.1:{op.sip_port}"
    (job,) = await CallbackJobs(db).for_missed(call.id)
    assert (job.state, job.attempts) == (DONE, 1)
    assert not world["endpoint"].calls


async def test_a_busy_client_is_a_failed_attempt_retried_later(
    world: dict[str, Any], silence_wav: Path, voice: Synthesizer
) -> None:
    db = world["db"]
    async with baresip(world["folder"] / "client", mic=silence_wav, account=CLIENT) as client:
        rule = CallbackRule(name="Продажи", source_kind="queue", source="sales",
                            targets=("sip:operator@127.0.0.1:9",))  # fmt: skip
        worker = scheduler(world, client, rule, voice, ring_timeout_s=20)
        call = await missed(db)
        await worker.on_missed(call)
        run = asyncio.create_task(worker.run_once())
        await client.wait_event("CALL_INCOMING", timeout=10)
        await client.command("hangup")  # baresip rejects a ringing call with 486
        async with asyncio.timeout(20):
            await run
    stored = await MissedCallStore(db).get(call.id)
    assert stored is not None and stored.status == statuses.FAILED
    assert stored.history[-1]["outcome"] == "busy" and stored.history[-1]["sip_status"] == 486
    (job,) = await CallbackJobs(db).for_missed(call.id)
    assert job.state == PENDING and job.attempts == 1


async def test_nobody_answers_the_ring_timeout_cancels(
    world: dict[str, Any], silence_wav: Path, voice: Synthesizer
) -> None:
    db = world["db"]
    async with baresip(world["folder"] / "client", mic=silence_wav, account=CLIENT) as client:
        rule = CallbackRule(name="Продажи", source_kind="queue", source="sales",
                            targets=("sip:operator@127.0.0.1:9",))  # fmt: skip
        worker = scheduler(world, client, rule, voice, ring_timeout_s=5)
        call = await missed(db)
        await worker.on_missed(call)
        async with asyncio.timeout(20):
            await worker.run_once()
        await client.wait_event("CALL_CLOSED", timeout=5)  # the CANCEL reached the phone
    stored = await MissedCallStore(db).get(call.id)
    assert stored is not None and stored.status == statuses.FAILED
    assert stored.history[-1]["outcome"] == "no_answer"


async def test_employee_first_calls_the_employee_then_transfers_them_to_the_client(
    world: dict[str, Any], silence_wav: Path, voice: Synthesizer
) -> None:
    db = world["db"]
    folder: Path = world["folder"]
    async with (
        baresip(folder / "client", mic=silence_wav, account=CLIENT, answer=True) as client,
        baresip(folder / "emp", mic=silence_wav, account="<sip:101@127.0.0.1>;regint=0",
                answer=True) as employee,
    ):  # fmt: skip
        rule = CallbackRule(
            name="Менеджеры", source_kind="queue", source="sales", first="employee",
            targets=(f"sip:101@127.0.0.1:{employee.sip_port}",),
        )  # fmt: skip
        worker = scheduler(world, client, rule, voice)
        call = await missed(db)
        await worker.on_missed(call)
        async with asyncio.timeout(60):
            await worker.run_once()
        assert employee.has_event("TRANSFER"), employee.log()[-2000:]
        await client.wait_event("CALL_ESTABLISHED", timeout=10)  # the employee's new call
        await client.command("hangup")
    stored = await MissedCallStore(db).get(call.id)
    assert stored is not None and stored.status == statuses.CALLED_BACK
    assert stored.history[-1]["first"] == "employee"
