"""A whole order over SIP: ``bot serve`` (real session, Whisper, Festival, demo shop) and
Debian's baresip as the caller's phone on loopback.

The caller keys the article and the final answers (RFC 4733 through ``ctrl_tcp``) and says
«да» through the microphone (a Russian WAV switched in with ``ausrc``); the bot greets the
caller by name, takes the order and hangs up with BYE. Both directions are recorded (baresip's
``sndfile`` dump, what the bot sent and heard) and must keep SNR ≥ 30 dB.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.server import BotServer
from bot.server_settings import Route
from connectors.pbx.sip_call import SipCall
from connectors.pbx.transport import CallTransport
from speech.audio import Audio
from speech.tts import create_synthesizer
from tests.fakes.sip_peers import baresip, snr_db

pytestmark = pytest.mark.e2e
STEPS = ["4512#", "3#", "да", "2#", "1#"]  # article, quantity, yes (spoken), no more, right


def make_settings(folder: Path) -> Settings:
    settings = Settings()
    settings.shop = dataclasses.replace(settings.shop, url=f"sqlite:///{folder / 'shop.sqlite'}")
    settings.nlu.model_dir = folder / "nlu"
    settings.voice.tts.cache_dir = str(Path("var/tts-cache").resolve())
    settings.demo.mail_sink = False
    settings.mail = dataclasses.replace(settings.mail, port=1, timeout=0.5)
    server = settings.server
    server.http.enabled = False
    server.asterisk.enabled = False
    server.sip.port = 0
    server.managers_file = None
    server.shutdown_grace = 0.5
    server.transcripts_dir = None
    server.overload_lag_ms = 0  # a loaded test machine must not turn calls away
    settings.recordings = dataclasses.replace(settings.recordings, dir=folder / "recordings")
    server.routes = [Route(called="5555", scenario="order")]
    return settings


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[BotServer]:
    bot = BotServer(make_settings(tmp_path))
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


class Tap:
    """What the bot sent on the wire and what it heard, at 8 kHz, for the SNR."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []  # the bot's audio, as it went out
        self.heard = bytearray()
        self.calls: list[SipCall] = []

    def longest_phrase(self) -> np.ndarray:
        """The longest run of the bot's audio without a pause (a whole prompt)."""
        runs: list[bytearray] = []
        last = -1.0
        for at, pcm in self.sent:
            if at - last > 0.1:
                runs.append(bytearray())
            runs[-1].extend(pcm)
            last = at
        return np.frombuffer(bytes(max(runs, key=len)), dtype="<i2")

    def wrap(self, server: BotServer) -> None:
        assert server.sip is not None
        handler = server.sip.handler

        async def tapped(call: CallTransport) -> None:
            assert isinstance(call, SipCall)
            self.calls.append(call)
            send, hear = call.rtp.send_pcm, call.rtp.on_audio

            def send_pcm(pcm: bytes) -> None:
                self.sent.append((time.monotonic(), pcm))
                send(pcm)

            def on_audio(pcm: bytes) -> None:
                self.heard.extend(pcm)
                hear(pcm)

            call.rtp.send_pcm = send_pcm  # type: ignore[method-assign]
            call.rtp.on_audio = on_audio
            await handler(call)

        server.sip.handler = tapped


async def orders(bot: BotServer) -> list[tuple[str, list[tuple[str, int]]]]:
    assert bot.shop is not None
    result = []
    for entry in await bot.shop.db.outbox_entries():
        assert entry.order_id is not None
        record = await bot.shop.db.load_order(entry.order_id)
        assert record is not None
        result.append((record.status, [(i.article, i.quantity) for i in record.items]))
    return result


async def wait_until(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def test_whole_order_over_sip_with_baresip(server: BotServer, tmp_path: Path) -> None:
    voice = create_synthesizer("festival", rate=16000)
    try:
        yes = (await voice.synthesize("да")).resample(8000)
    finally:
        voice.close()
    silence = tmp_path / "silence.wav"
    Audio.silence(120, 8000).write_wav(silence)
    said_yes = tmp_path / "yes.wav"
    (Audio.silence(0.2, 8000) + yes + Audio.silence(120, 8000)).write_wav(said_yes)
    tap = Tap()
    tap.wrap(server)
    assert server.sip is not None
    account = "<sip:89998887766@127.0.0.1>;regint=0"
    async with baresip(tmp_path / "phone", mic=silence, account=account) as phone:
        await phone.dial(f"sip:5555@127.0.0.1:{server.sip.port}")
        await phone.wait_event("CALL_ESTABLISHED")
        await wait_until(lambda: bool(tap.calls))
        call = tap.calls[0]
        for step in STEPS:
            heard = call.frames_played
            await wait_until(lambda h=heard: call.frames_played >= h + 10)  # a prompt began
            if step == "да":
                await wait_until(lambda: time.monotonic() - call.last_played_at > 0.3)
                await phone.microphone(said_yes)
            else:
                await phone.keys(step, gap=0.15)
        await phone.wait_event("CALL_CLOSED", timeout=30)
        _, heard_by_phone = phone.recordings()
    assert call.end_reason == "bot_hangup"
    assert call.caller_name == "Олег 2(2)"
    assert call.info.called == "5555" and call.info.caller == "89998887766"
    assert await orders(server) == [("принят успешно", [("4512", 3)])]
    # a whole prompt found in what the phone recorded; the «да» found in what the bot heard
    bot_to_caller = snr_db(tap.longest_phrase(), Audio.read_wav(heard_by_phone).samples())
    caller_to_bot = snr_db(yes.samples(), np.frombuffer(bytes(tap.heard), dtype="<i2"))
    assert len(tap.longest_phrase()) > 8000  # over a second of speech compared
    assert bot_to_caller >= 30, bot_to_caller
    assert caller_to_bot >= 30, caller_to_bot
