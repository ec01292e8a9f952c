"""Voicemail on a call-back, recorded and listed: the client (Debian's baresip, speaking a
Festival phrase into its microphone) is called back; the rule sends them to voicemail at once,
or its operator does not answer within ``voicemail_after_s``; the bot plays the voicemail
greeting and a beep and records the message as Ogg/Opus. The message is a ``voice_messages``
row that :meth:`VoiceMessages.list_voice_messages` finds by period and number fragment, with
its file inside the folder; the missed call is «Успешно перезвонили»."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bot.missed import statuses
from bot.missed.callback_jobs import CallbackJobs
from bot.missed.callback_rules import CallbackRule
from bot.missed.callback_settings import CallbackSettings, CallbackSipSettings
from bot.missed.dialer import SipDialer
from bot.missed.scheduler import CallbackScheduler
from bot.missed.store import MissedCallStore
from bot.missed.voicemail import VoicemailRecorder, VoiceMessages
from connectors.pbx.sip_config import SipSettings
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.transport import CallTransport
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import utc
from connectors.shop.settings import ShopSettings
from speech.audio import Audio, tone
from speech.tts import Synthesizer, create_synthesizer
from tests.fakes.sip_peers import baresip

pytestmark = pytest.mark.e2e
MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=MSK)
CLIENT = "<sip:89161234567@127.0.0.1>;regint=0"


@pytest.fixture(scope="module")
def speaking_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client talks all the time: a phrase, a short pause, again (90 s)."""
    folder = tmp_path_factory.mktemp("mic")
    voice = create_synthesizer("festival", rate=16000)
    try:
        phrase = asyncio.run(voice.synthesize("Перезвоните мне, пожалуйста, по заказу.")).resample(
            8000
        )
    finally:
        voice.close()
    parts: list[Audio] = []
    while sum(p.duration for p in parts) < 90:
        parts += [phrase, Audio.silence(0.5, 8000)]
    path = folder / "speaking.wav"
    Audio.concat(parts, 8000).write_wav(path)
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
    recorder = VoicemailRecorder(tmp_path / "voicemail", max_s=6.0, silence_s=3.0)
    try:
        yield {"db": db, "endpoint": endpoint, "folder": tmp_path, "recorder": recorder}
    finally:
        recorder.close()
        await endpoint.stop(0.5)
        await db.close()


async def call_back(world: dict[str, Any], phone_port: int, rule: CallbackRule) -> int:
    db = world["db"]
    settings = CallbackSettings(
        enabled=True, sip=CallbackSipSettings(trunk=f"127.0.0.1:{phone_port}")
    )
    messages = VoiceMessages(db, world["folder"] / "voicemail")
    dialer = SipDialer(world["endpoint"], settings, world["voice"], world["recorder"], messages)
    worker = CallbackScheduler(
        settings, CallbackJobs(db), MissedCallStore(db), dialer, lambda: [rule],
        clock=lambda: T0 + timedelta(minutes=5),
    )  # fmt: skip
    call = await MissedCallStore(db).add(
        missed_at=T0, caller="9161234567", called="74951234567", source_kind="queue",
        source="sales", wait_s=25.0, intake="http", external_id="pbx-7",
    )  # fmt: skip
    assert call is not None
    await worker.on_missed(call)
    async with asyncio.timeout(90):
        await worker.run_once()
    return call.id


async def check_message(world: dict[str, Any], missed_id: int) -> None:
    db = world["db"]
    messages = VoiceMessages(db, world["folder"] / "voicemail")
    today = utc() - timedelta(hours=1)
    found = await messages.list_voice_messages(today, today + timedelta(hours=2), "1234")
    assert len(found) == 1
    message = found[0]
    assert message.caller == "9161234567" and message.missed_id == missed_id
    assert 3.0 <= message.seconds <= 8.0, message.seconds
    path = messages.path_of(message)
    assert path is not None and path.read_bytes()[:4] == b"OggS"
    assert message.recording_bytes == path.stat().st_size > 1000
    assert await messages.list_voice_messages(number_fragment="000") == []
    assert await messages.count(today - timedelta(days=1), today) == 0
    assert await messages.count(number_fragment="916") == 1
    stored = await MissedCallStore(db).get(missed_id)
    assert stored is not None and stored.status == statuses.CALLED_BACK
    assert stored.history[-1]["outcome"] == "voicemail"
    assert stored.history[-1]["voice_message"] == message.id


async def test_a_rule_straight_to_voicemail_records_the_message(
    world: dict[str, Any], speaking_wav: Path, voice: Synthesizer
) -> None:
    world["voice"] = voice
    async with baresip(world["folder"] / "client", mic=speaking_wav, account=CLIENT,
                       answer=True) as client:  # fmt: skip
        rule = CallbackRule(name="Почта", source_kind="queue", source="sales",
                            target_kind="voicemail")  # fmt: skip
        missed_id = await call_back(world, client.sip_port, rule)
        assert client.has_event("CALL_ESTABLISHED")
    await check_message(world, missed_id)


async def test_an_operator_who_does_not_answer_in_time_sends_the_client_to_voicemail(
    world: dict[str, Any], speaking_wav: Path, voice: Synthesizer
) -> None:
    world["voice"] = voice
    folder: Path = world["folder"]
    silent = folder / "op-mic.wav"
    Audio.silence(60, 8000).write_wav(silent)
    async with (
        baresip(folder / "op", mic=silent, account="<sip:operator@127.0.0.1>;regint=0") as op,
        baresip(folder / "client", mic=speaking_wav, account=CLIENT, answer=True) as client,
    ):
        music = folder / "music.wav"
        tone(600.0, 2.0, rate=8000, amplitude=0.3).write_wav(music)
        rule = CallbackRule(
            name="Диспетчерская", source_kind="queue", source="sales", target_kind="dispatcher",
            targets=(f"sip:operator@127.0.0.1:{op.sip_port}",), voicemail_after_s=5,
            music=str(music),
        )  # fmt: skip
        missed_id = await call_back(world, client.sip_port, rule)
        assert op.has_event("CALL_INCOMING")  # it rang, nobody answered
    await check_message(world, missed_id)
    heard = sorted((folder / "client").glob("dump-*-dec.wav"))[0]
    assert tone_share(Audio.read_wav(heard), 600.0) > 0.2  # the music played while it rang


def tone_share(audio: Audio, hz: float) -> float:
    """The share of the audio's energy within 20 Hz of ``hz``."""
    samples = audio.samples().astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / audio.rate)
    return float(spectrum[np.abs(freqs - hz) < 20].sum() / max(spectrum.sum(), 1e-9))


async def test_old_voice_messages_are_deleted_with_their_files(tmp_path: Path) -> None:
    from bot.journal.recorder import RecordingInfo

    db = await ShopDatabase.open(ShopSettings(url=f"sqlite:///{tmp_path / 's.sqlite'}"))
    try:
        folder = tmp_path / "voicemail"
        messages = VoiceMessages(db, folder)
        made = []
        for name, age in (("old", 100), ("new", 1)):
            path = folder / "2026" / f"{name}.opus"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"OggS" + bytes(2000))
            info = RecordingInfo(path, f"2026/{name}.opus", 2004, 4.0, True)
            when = utc() - timedelta(days=age)
            made.append(await messages.add(info, caller="9161234567", recorded_at=when))
        assert await messages.delete_older_than(utc() - timedelta(days=90)) == 1
        assert [m.id for m in await messages.list_voice_messages()] == [made[1].id]
        assert not (folder / "2026" / "old.opus").exists()
        assert messages.path_of(made[1]) is not None
        outside = dataclasses.replace(made[1], recording="../s.sqlite")
        assert messages.path_of(outside) is None  # never a file outside the folder
    finally:
        await db.close()
