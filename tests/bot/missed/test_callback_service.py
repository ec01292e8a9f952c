"""What ``bot serve`` starts of the call-backs: ``callbacks:`` in the settings file, the service
subscribed to the missed-call intake, a missed call reported to the intake called back by the
running scheduler through the SIP endpoint to baresip (which ends in a transfer), and a
clear error for a dialer whose connection is not configured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_settings
from bot.missed import statuses
from bot.missed.callback_service import CallbackService
from bot.missed.callback_settings import CallbackSettings, CallbackSipSettings
from bot.missed.intake import MissedCallIntake, MissedReport
from bot.missed.store import MissedCallStore
from connectors.pbx.sip_config import SipSettings
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.transport import CallTransport
from connectors.shop.database import ShopDatabase
from connectors.shop.settings import ShopSettings
from speech.audio import Audio
from speech.tts import create_synthesizer
from tests.fakes.sip_peers import baresip
from tests.fakes.speech import ToneSynthesizer

pytestmark = pytest.mark.e2e


def test_the_callbacks_section_of_the_settings_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "callbacks:\n  enabled: true\n  dialer: ami\n  attempts: 5\n"
        "  sip: {trunk: 'pbx:5060', ring_timeout_s: 30}\n",
        "utf-8",
    )
    settings = load_settings(config, environ={"BOT_CALLBACKS__TIMEZONE": "Asia/Omsk"})
    callbacks = settings.callbacks
    assert (callbacks.enabled, callbacks.dialer, callbacks.attempts) == (True, "ami", 5)
    assert callbacks.sip.trunk == "pbx:5060" and callbacks.sip.ring_timeout_s == 30
    assert callbacks.zone == ZoneInfo("Asia/Omsk")
    assert not load_settings(None, environ={}).callbacks.enabled  # off by default


async def no_inbound(call: CallTransport) -> None:
    await call.hangup()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[ShopDatabase]:
    database = await ShopDatabase.open(ShopSettings(url=f"sqlite:///{tmp_path / 's.sqlite'}"))
    try:
        yield database
    finally:
        await database.close()


async def test_a_dialer_without_its_connection_is_a_clear_error(db: ShopDatabase) -> None:
    intake = MissedCallIntake(MissedCallStore(db), zone=UTC)
    assert CallbackService.start(CallbackSettings(), db, sip=None, synthesizer=None,
                                 intake=intake) is None  # fmt: skip
    with pytest.raises(ValueError, match=r"server\.sip"):
        CallbackService.start(CallbackSettings(enabled=True), db, sip=None, synthesizer=None,
                              intake=intake)  # fmt: skip
    endpoint = SipEndpoint(no_inbound, SipSettings(port=0))
    tts = ToneSynthesizer()
    with pytest.raises(ValueError, match=r"callbacks\.sip\.trunk"):
        CallbackService.start(CallbackSettings(enabled=True), db, sip=endpoint,
                              synthesizer=tts, intake=intake)  # fmt: skip
    account = CallbackSettings(enabled=True, sip=CallbackSipSettings(route="account"))
    with pytest.raises(ValueError, match=r"server\.sip\.accounts"):
        CallbackService.start(account, db, sip=endpoint, synthesizer=tts,
                              intake=intake)  # fmt: skip
    with pytest.raises(ValueError, match=r"missed\.ami"):
        CallbackService.start(CallbackSettings(enabled=True, dialer="ami"), db, sip=None,
                              synthesizer=None, intake=intake)  # fmt: skip
    with pytest.raises(ValueError, match=r"missed\.enabled"):
        CallbackService.start(CallbackSettings(enabled=True), db, sip=None, synthesizer=None,
                              intake=None)  # fmt: skip


async def test_a_missed_call_reported_to_the_intake_is_called_back(
    db: ShopDatabase, tmp_path: Path
) -> None:
    mic = tmp_path / "silence.wav"
    Audio.silence(60, 8000).write_wav(mic)
    endpoint = SipEndpoint(no_inbound, SipSettings(port=0))
    await endpoint.start()
    voice = create_synthesizer("festival", rate=16000)
    service: CallbackService | None = None
    try:
        async with (
            baresip(tmp_path / "op", mic=mic, account="<sip:op@127.0.0.1>;regint=0",
                    answer=True) as op,
            baresip(tmp_path / "client", mic=mic, account="<sip:89161234567@127.0.0.1>;regint=0",
                    answer=True) as client,
        ):  # fmt: skip
            rules = tmp_path / "callback_rules.yml"
            rules.write_text(
                "rules:\n  - name: Продажи\n    source_kind: queue\n    source: sales\n"
                f"    delay_s: 0\n    targets: ['sip:op@127.0.0.1:{op.sip_port}']\n",
                "utf-8",
            )
            settings = CallbackSettings(
                enabled=True, rules_file=str(rules), poll_s=0.2,
                sip=CallbackSipSettings(trunk=f"127.0.0.1:{client.sip_port}"),
                voicemail_dir=tmp_path / "voicemail",
            )  # fmt: skip
            store = MissedCallStore(db)
            intake = MissedCallIntake(store, zone=UTC)
            service = CallbackService.start(settings, db, sip=endpoint, synthesizer=voice,
                                            intake=intake)  # fmt: skip
            assert service is not None
            report = MissedReport("http", "pbx-1", "+7 916 123-45-67", called="74951234567",
                                  source_kind="queue", source="sales", wait_s=30.0,
                                  missed_at=datetime.now(UTC))  # fmt: skip
            call = await intake.missed(report)
            assert call is not None
            await op.wait_event("CALL_ESTABLISHED", timeout=30)
            stored: Any = None
            async with asyncio.timeout(15):
                while stored is None or stored.status != statuses.CALLED_BACK:
                    await asyncio.sleep(0.2)
                    stored = await store.get(call.id)
            assert client.has_event("TRANSFER")
    finally:
        if service is not None:
            await service.stop(2.0)
        voice.close()
        await endpoint.stop(0.5)


async def test_bot_serve_starts_the_call_backs_on_its_intake_and_stops_them(
    tmp_path: Path,
) -> None:
    from bot.missed.callback_jobs import CallbackJobs
    from bot.server import BotServer
    from tests.connectors.pbx.test_pbx_sip_order import make_settings

    settings = make_settings(tmp_path)
    rules = tmp_path / "callback_rules.yml"
    rules.write_text(
        "rules:\n  - name: Продажи\n    source_kind: queue\n    delay_s: 3600\n"
        "    targets: ['101']\n",
        "utf-8",
    )
    settings.missed.enabled = True
    settings.callbacks = CallbackSettings(
        enabled=True, rules_file=str(rules), voicemail_dir=tmp_path / "voicemail",
        sip=CallbackSipSettings(trunk="127.0.0.1:9"),
    )  # fmt: skip
    server = BotServer(settings)
    await server.start()
    try:
        assert server.callbacks is not None and server.missed is not None
        report = MissedReport("http", "pbx-9", "89161234567", source_kind="queue",
                              source="sales", wait_s=12.0)  # fmt: skip
        call = await server.missed.intake.missed(report)
        assert call is not None
        await server.missed.intake.drain(5.0)
        assert server.shop is not None
        (job,) = await CallbackJobs(server.shop.db).for_missed(call.id)
        assert job.caller == "9161234567" and job.rule == "Продажи"
    finally:
        await server.stop()
    assert server.callbacks.scheduler._task is not None
    assert server.callbacks.scheduler._task.done()
