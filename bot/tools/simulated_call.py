"""Simulated phone calls: a scripted caller on a fake line, through the real call session.

``python -m bot call --caller +7… --say "хочу сделать заказ" --dtmf 1 --wav turn.wav …``:
the caller's phrases are synthesized (or read from WAV files), sent as 20 ms telephone
frames (8 kHz) in real time — or as fast as the session takes them with ``--fast`` — and
the line carries silence in between, as a real one does. The bot's side is recorded on the
same timeline and written as ``bot.wav`` (and ``call.wav``: caller left, bot right) with
``transcript.json`` (every turn's text and timings).

A turn may also be computed from what the bot just said (``Turn("reply", reply=answer)``, or
:func:`replies` for a whole call): when the caller's turn comes, ``answer`` gets the bot's
``say`` events since the caller's previous turn (text and ``responses.yml`` key, from the
session's call events) and returns the turn to take — say, play audio, press keys, stay
silent, hang up — or ``None`` to hang up. That is how a caller who checks the bot's
questions against what it meant to order is simulated (``bot bench recognition``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.call_log import CallLog
from bot.events import BotSaid, CallEnded, CallEvent, StateChanged
from bot.session import CallSession
from bot.voice import VoiceServices
from connectors.pbx.transport import (
    AudioIn,
    CallInfo,
    CallTransport,
    DtmfIn,
    HangupIn,
    InboundEvent,
)
from speech.audio import Audio
from speech.tts import Synthesizer

LINE_RATE = 8000
FRAME_S = 0.02
FRAME_SAMPLES = int(LINE_RATE * FRAME_S)


@dataclass(slots=True)
class Turn:
    """One caller turn. ``kind``: ``say`` (``value`` synthesized by the caller's voice),
    ``wav`` (the file ``value``), ``audio`` (``audio`` as it is), ``dtmf`` (keys ``value``),
    ``silence``, ``barge`` (say ``value`` over the bot's next prompt), ``hangup``, or
    ``reply``: ``reply(said)`` computes the turn from the bot's phrases since the caller's
    previous turn (``None``: hang up)."""

    kind: str
    value: str = ""
    barge_after_s: float = 0.0  # "barge": start talking this long after the bot starts
    audio: Audio | None = None
    reply: Reply | None = None


Reply = Callable[[list[BotSaid]], "Turn | None"]


def replies(answer: Reply, max_turns: int = 40) -> list[Turn]:
    """A whole call of computed turns: ``answer`` decides every turn (at most ``max_turns``)."""
    return [Turn("reply", reply=answer) for _ in range(max_turns)]


@dataclass(slots=True)
class CallResult:
    log: CallLog
    bot_audio: Audio
    caller_audio: Audio
    transfers: list[str] = field(default_factory=list)
    caller_names: list[str] = field(default_factory=list)
    hung_up_by_bot: bool = False
    frame_gaps_ms: list[float] = field(default_factory=list)  # >45 ms between bot frames
    underruns: int = 0  # bot frames sent after the far end needed them (audible gaps)

    def to_json(self) -> dict[str, Any]:
        data = self.log.to_json()
        data["transfers"] = self.transfers
        data["caller_names"] = self.caller_names
        data["hung_up_by_bot"] = self.hung_up_by_bot
        data["bot_audio_s"] = round(self.bot_audio.duration, 3)
        return data


class SimulatedLine(CallTransport):
    """Both ends of a fake 8 kHz line: the session reads caller frames and plays bot frames."""

    def __init__(self, info: CallInfo) -> None:
        self.info = info
        self.rate = LINE_RATE
        self._inbound: asyncio.Queue[InboundEvent | None] = asyncio.Queue(maxsize=50)
        self.line_frames = 0  # caller frames sent so far: the line's clock
        self.caller_pcm = bytearray()
        self.bot_frames: list[tuple[int, bytes]] = []  # (line frame index, pcm)
        self.bot_walls: list[float] = []
        self.bot_spoke = asyncio.Event()
        self.transfers: list[str] = []
        self.caller_names: list[str] = []
        self.hung_up = False
        self.closed = asyncio.Event()

    async def events(self) -> AsyncIterator[InboundEvent]:
        while True:
            event = await self._inbound.get()
            if event is None:
                return
            yield event

    async def send_caller(self, audio: Audio) -> None:
        self.caller_pcm += audio.pcm
        self.line_frames += 1
        await self._inbound.put(AudioIn(audio))

    async def send_digit(self, digit: str) -> None:
        await self._inbound.put(DtmfIn(digit))

    async def caller_hangup(self) -> None:
        await self._inbound.put(HangupIn("caller"))

    async def play(self, frame: Audio) -> None:
        self.bot_frames.append((self.line_frames, frame.pcm))
        self.bot_walls.append(time.monotonic())
        self.bot_spoke.set()

    async def set_caller_name(self, name: str) -> None:
        self.caller_names.append(name)

    async def transfer(self, target: str) -> None:
        self.transfers.append(target)
        self.closed.set()

    async def hangup(self) -> None:
        self.hung_up = True
        self.closed.set()


class SessionWatch:
    """The session's state and what the bot said, from its call events (no polling).

    ``await until(condition)`` returns once ``condition()`` holds, checked after every event,
    or when the call is over, or after ``patience_s``.
    """

    def __init__(self, patience_s: float) -> None:
        self.patience_s = patience_s
        self.state = ""
        self.phrases_started = 0  # bot phrases whose first frame went out
        self.said: list[BotSaid] = []  # what the bot said (text, key), in order
        self.over = False
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    def __call__(self, event: CallEvent) -> None:
        if isinstance(event, StateChanged):
            self.state = event.state
        elif isinstance(event, BotSaid):
            self.said.append(event)
        elif isinstance(event, CallEnded):
            self.over = True
        self.poke()

    def phrase_started(self, wall: float) -> None:
        self.phrases_started += 1
        self.poke()

    def poke(self) -> None:
        for condition, future in list(self._waiters):
            if not future.done() and (self.over or condition()):
                future.set_result(None)

    async def until(self, condition: Callable[[], bool]) -> None:
        if self.over or condition():
            return
        future = asyncio.get_running_loop().create_future()
        waiter = (condition, future)
        self._waiters.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.patience_s):
                    await future
        finally:
            self._waiters.remove(waiter)


class SimulatedCaller:
    def __init__(
        self,
        services: VoiceServices,
        voice: Synthesizer,
        turns: list[Turn],
        *,
        caller: str,
        called: str,
        fast: bool = False,
        patience_s: float = 30.0,
    ) -> None:
        self.services = services
        self.voice = voice
        self.turns = turns
        self.fast = fast
        self.patience_s = patience_s
        info = CallInfo(uuid.uuid4().hex, caller, called, "simulated")
        self.line = SimulatedLine(info)
        self.silence = Audio(bytes(FRAME_SAMPLES * 2), LINE_RATE)
        self._speaking: list[Audio] = []  # frames queued by the caller script
        self._spoken = asyncio.Event()  # the queued frames are all on the line
        self._composed = asyncio.Event()  # fast mode: the line waits while a reply is made
        self._composed.set()
        self._voices: dict[str, Audio] = {}
        self.watch = SessionWatch(patience_s)

    async def run(self) -> CallResult:
        # the caller's phrases are ready before the call, so no turn waits for synthesis
        for turn in self.turns:
            await self._voice_of(turn)
        session = CallSession(self.line, self.services, pace=not self.fast)
        session.subscribe(self.watch)
        session.player.on_phrase_start = _both(
            session.player.on_phrase_start, self.watch.phrase_started
        )
        call = asyncio.create_task(session.run())
        line = asyncio.create_task(self._line(session, call))
        try:
            await self._script(session, call)
            await asyncio.wait({call}, timeout=self.patience_s)
            if not call.done():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await self.line.caller_hangup()
            async with asyncio.timeout(self.patience_s):
                log = await call
        finally:
            line.cancel()
            await asyncio.gather(line, return_exceptions=True)
        result = self._result(log)
        result.underruns = session.player.underruns
        return result

    async def _line(self, session: CallSession, call: asyncio.Task[CallLog]) -> None:
        """The caller's microphone: queued phrase frames, else silence, every 20 ms."""
        next_at = time.monotonic()
        while not call.done():
            if self.fast and not self._composed.is_set():
                # the caller is still making up its answer: in fast mode, line time must not
                # run on meanwhile (that would be seconds of silence for the no-input timer)
                await self._composed.wait()
            frame = self._speaking.pop(0) if self._speaking else self.silence
            if not self._speaking:
                self._spoken.set()
            await self.line.send_caller(frame)
            if self.fast:
                # as fast as the session takes frames; while the bot thinks, audio time
                # must not run ahead (the no-input timer counts frames), so wait for it
                if not self._speaking and self.watch.state == "thinking":
                    await self.watch.until(lambda: self.watch.state != "thinking")
                elif not self._speaking and self.watch.state == "speaking":
                    await asyncio.sleep(0.001)  # the bot talks: the line runs ~20× real time
                else:
                    await asyncio.sleep(0)
            else:
                next_at += FRAME_S
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _voice_of(self, turn: Turn) -> Audio | None:
        if turn.kind == "audio":
            return turn.audio
        if turn.kind not in ("say", "barge", "wav"):
            return None
        voice = self._voices.get(turn.value)
        if voice is None:
            if turn.kind == "wav":
                voice = Audio.read_wav(turn.value)
            else:
                voice = await self.voice.synthesize(turn.value)
            self._voices[turn.value] = voice
        return voice

    async def _speak(self, audio: Audio, call: asyncio.Task[CallLog]) -> None:
        frames = list(audio.resample(LINE_RATE).frames(20))
        self._spoken.clear()
        self._speaking.extend(frames)
        spoken = asyncio.ensure_future(self._spoken.wait())
        try:
            await asyncio.wait({spoken, call}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            spoken.cancel()

    async def _script(self, session: CallSession, call: asyncio.Task[CallLog]) -> None:
        watch = self.watch
        heard = 0  # the bot's phrases up to the caller's previous turn
        for planned in self.turns:
            if planned.kind == "barge":
                await watch.until(lambda: watch.state == "speaking")
                await asyncio.sleep(planned.barge_after_s)
            else:
                await watch.until(lambda: watch.state == "listening")
            if call.done() or watch.over:
                return
            turn: Turn | None = planned
            self._composed.clear()
            try:
                if planned.kind == "reply":
                    assert planned.reply is not None
                    turn = planned.reply(watch.said[heard:])
                voice = await self._voice_of(turn) if turn is not None else None
            finally:
                self._composed.set()
            heard = len(watch.said)
            if turn is None or turn.kind == "hangup":
                await self.line.caller_hangup()
                return
            if voice is not None:
                await self._speak(voice, call)
            elif turn.kind == "dtmf":
                for digit in turn.value:
                    await self.line.send_digit(digit)
            elif turn.kind == "silence":
                await self._until_bot_speaks_again()
            # let the session take the turn before waiting for its next prompt
            await watch.until(lambda: watch.state != "listening")

    async def _until_bot_speaks_again(self) -> None:
        before = self.watch.phrases_started
        await self.watch.until(lambda: self.watch.phrases_started > before)

    def _result(self, log: CallLog) -> CallResult:
        line = self.line
        placed: list[tuple[int, np.ndarray[Any, np.dtype[np.int16]]]] = []
        cursor = 0
        for index, pcm in line.bot_frames:  # a frame goes where the line was, or after the last
            samples = np.frombuffer(pcm, dtype="<i2")
            start = max(index * FRAME_SAMPLES, cursor)
            placed.append((start, samples))
            cursor = start + samples.size
        bot = np.zeros(max(cursor, line.line_frames * FRAME_SAMPLES), dtype=np.int16)
        for start, samples in placed:
            bot[start : start + samples.size] = samples
        caller = np.frombuffer(bytes(line.caller_pcm), dtype="<i2")
        gaps = [
            (b - a) * 1000
            for a, b in zip(line.bot_walls, line.bot_walls[1:], strict=False)
            if 0.045 < b - a < 0.5  # a pause inside a phrase (phrases are ≥ 0.5 s apart)
        ]
        return CallResult(
            log,
            Audio.from_samples(bot, LINE_RATE),
            Audio.from_samples(caller, LINE_RATE),
            line.transfers,
            line.caller_names,
            line.hung_up,
            gaps,
        )


def write_call(result: CallResult, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    bot = folder / "bot.wav"
    result.bot_audio.write_wav(bot)
    caller = result.caller_audio.samples()
    botside = result.bot_audio.samples()
    n = max(caller.size, botside.size)
    stereo = np.zeros((n, 2), dtype=np.int16)
    stereo[: caller.size, 0] = caller
    stereo[: botside.size, 1] = botside
    import wave

    call = folder / "call.wav"
    with wave.open(str(call), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(LINE_RATE)
        out.writeframes(stereo.astype("<i2").tobytes())
    transcript = folder / "transcript.json"
    transcript.write_text(
        json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    return [bot, call, transcript]


def _both(
    first: Callable[[float], None] | None, second: Callable[[float], None]
) -> Callable[[float], None]:
    def call(wall: float) -> None:
        if first is not None:
            first(wall)
        second(wall)

    return call
