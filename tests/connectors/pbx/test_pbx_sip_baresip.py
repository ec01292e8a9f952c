"""The SIP endpoint with Debian's baresip as the phone, on loopback.

A recording bot stands in for the session: it keeps what it hears, answers key 1 with a
Russian phrase, transfers on 0 and hangs up on 9. Audio quality is measured both ways from
the recordings (baresip's ``sndfile`` dumps against what the bot played and heard).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from connectors.pbx.sip_config import SipSettings
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.transport import AudioIn, CallTransport, DtmfIn, HangupIn
from speech.audio import Audio
from speech.tts import create_synthesizer
from tests.fakes.sip_peers import Baresip, baresip, snr_db


@pytest.fixture(scope="module")
def voice_wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Russian phrases (Festival, 8 kHz) as WAV files, each with a long silent tail (the
    phone hangs up when its microphone file ends)."""
    folder = tmp_path_factory.mktemp("voice")
    voice = create_synthesizer("festival", rate=16000)

    async def make() -> dict[str, Path]:
        paths = {}
        for name, text in (
            ("caller", "артикул сто двадцать три, две штуки"),
            ("bot", "Назовите артикул товара."),
        ):
            audio = (await voice.synthesize(text)).resample(8000)
            paths[name] = folder / f"{name}.wav"
            (Audio.silence(0.5, 8000) + audio + Audio.silence(60, 8000)).write_wav(paths[name])
            (folder / f"{name}-phrase.wav").write_bytes(audio.to_wav_bytes())
        return paths

    try:
        return asyncio.run(make())
    finally:
        voice.close()


class RecordingBot:
    def __init__(self, reply: Audio) -> None:
        self.reply = reply
        self.heard = bytearray()
        self.played = bytearray()
        self.keys: list[str] = []
        self.hangup: HangupIn | None = None
        self.calls: list[CallTransport] = []
        self.transfer_to = ""
        self.done = asyncio.Event()

    async def __call__(self, call: CallTransport) -> None:
        self.calls.append(call)
        async for event in call.events():
            if isinstance(event, AudioIn):
                self.heard += event.audio.pcm
            elif isinstance(event, DtmfIn):
                self.keys.append(event.digit)
                if event.digit == "1":  # paced like the session's player: 40 ms ahead
                    start = time.monotonic()
                    for i, frame in enumerate(self.reply.frames(20)):
                        await asyncio.sleep(max(0.0, start + i * 0.02 - 0.04 - time.monotonic()))
                        self.played += frame.pcm
                        await call.play(frame)
                elif event.digit == "0":
                    await call.set_caller_name("Иван 2(3)")
                    await call.transfer(self.transfer_to)
                elif event.digit == "9":
                    await call.hangup()
            elif isinstance(event, HangupIn):
                self.hangup = event
        self.done.set()


@pytest.fixture
async def bot(voice_wavs: dict[str, Path]) -> AsyncIterator[tuple[SipEndpoint, RecordingBot]]:
    reply = Audio.read_wav(voice_wavs["bot"].with_name("bot-phrase.wav"))
    recorder = RecordingBot(reply)
    endpoint = SipEndpoint(recorder, SipSettings(port=0))
    await endpoint.start()
    try:
        yield endpoint, recorder
    finally:
        await endpoint.stop(0.5)


def samples(path: Path) -> np.ndarray:
    return Audio.read_wav(path).samples()


async def _call(phone: Baresip, endpoint: SipEndpoint) -> None:
    await phone.dial(f"sip:78123098635@127.0.0.1:{endpoint.port}")
    await phone.wait_event("CALL_ESTABLISHED")


@pytest.mark.parametrize("codec", ["PCMA", "PCMU"])
async def test_audio_both_ways_keys_and_bot_bye(
    bot: tuple[SipEndpoint, RecordingBot], voice_wavs: dict[str, Path], tmp_path: Path, codec: str
) -> None:
    endpoint, recorder = bot
    async with baresip(tmp_path / "phone", mic=voice_wavs["caller"], codec=codec) as phone:
        await _call(phone, endpoint)
        call = recorder.calls[0]
        assert call.info.connector == "sip" and call.rate == 8000
        assert call.info.caller == "caller" and call.info.called == "78123098635"
        await asyncio.sleep(3.5)  # the caller's phrase reaches the bot
        await phone.keys("1")
        await asyncio.sleep(2.5)  # the bot's phrase plays
        await phone.keys("9")
        await phone.wait_event("CALL_CLOSED")
        async with asyncio.timeout(5):
            await recorder.done.wait()
        sent, heard = phone.recordings()
    assert recorder.keys == ["1", "9"]
    assert recorder.hangup is not None and recorder.hangup.reason == "bot_hangup"
    assert f"{codec} 8000Hz" in phone.log()
    caller_to_bot = snr_db(samples(sent), np.frombuffer(bytes(recorder.heard), dtype="<i2"))
    bot_to_caller = snr_db(np.frombuffer(bytes(recorder.played), dtype="<i2"), samples(heard))
    assert caller_to_bot >= 30, caller_to_bot
    assert bot_to_caller >= 30, bot_to_caller


async def test_rtp_flows_while_the_bot_is_quiet(
    bot: tuple[SipEndpoint, RecordingBot], voice_wavs: dict[str, Path], tmp_path: Path
) -> None:
    endpoint, recorder = bot
    async with baresip(tmp_path / "phone", mic=voice_wavs["caller"]) as phone:
        await _call(phone, endpoint)
        sip_call = endpoint.calls[recorder.calls[0].info.call_id]
        before, began = sip_call.rtp.packets_out, time.monotonic()
        await asyncio.sleep(1.0)
        sent = sip_call.rtp.packets_out - before
        expected = (time.monotonic() - began) / 0.02  # a late loop: the clock catches up
        await phone.command("hangup")
        async with asyncio.timeout(5):
            await recorder.done.wait()
    assert 45 <= sent <= expected + 5, (sent, expected)  # 50 a second of silence, nothing played
    assert recorder.hangup is not None and recorder.hangup.reason == "caller_hangup"
    assert not endpoint.calls


async def test_refer_to_a_second_phone_that_answers(
    bot: tuple[SipEndpoint, RecordingBot], voice_wavs: dict[str, Path], tmp_path: Path
) -> None:
    endpoint, recorder = bot
    operator_account = "<sip:operator@127.0.0.1>;regint=0"
    async with (
        baresip(
            tmp_path / "op", mic=voice_wavs["bot"], account=operator_account, answer=True
        ) as op,
        baresip(tmp_path / "phone", mic=voice_wavs["caller"]) as phone,
    ):
        recorder.transfer_to = f"sip:operator@127.0.0.1:{op.sip_port}"
        await _call(phone, endpoint)
        await phone.keys("0")
        await op.wait_event("CALL_ESTABLISHED", timeout=10)
        async with asyncio.timeout(10):
            await recorder.done.wait()
        assert phone.has_event("TRANSFER")
    assert recorder.hangup is not None and recorder.hangup.reason == "bot_hangup"
    assert not endpoint.calls
