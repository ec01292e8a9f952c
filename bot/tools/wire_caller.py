"""A caller on the wire, for benchmarks: Asterisk's side of FastAGI + AudioSocket, with
timestamps of every audible frame each way.

The caller's line runs at one 20 ms frame per 20 ms (silence, or the phrase being said), as
an Asterisk channel does. A phrase can be held until the line's frame count is at a given
phase (``say(..., phase=(k, n))``: starts at a frame whose number is ``k`` modulo ``n``): the
bot's VAD scores 32 ms chunks of the stream from the call's start, so where a phrase's pause
falls on that grid follows from the frame it starts at, and a benchmark can try every place
instead of the one chance gave.

A frame is *audible* when its RMS passes ``AUDIBLE_RMS``; the turn gap is the time from the
caller's last audible frame of a phrase (when it was sent) to the bot's first audible frame
after it (when it arrived): the pause a caller hears.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from connectors.pbx.audiosocket_wire import KIND_AUDIO, KIND_HANGUP, encode_audio, encode_frame

RATE = 8000
FRAME_BYTES = 320  # 20 ms of 16-bit PCM at 8 kHz
AUDIBLE_RMS = 300.0


def audible(pcm: bytes) -> bool:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return bool(samples.size) and float(np.sqrt(np.mean(samples**2))) > AUDIBLE_RMS


@dataclass
class Phrase:
    """One caller phrase on the wire: when its audible frames went out, and what the bot did."""

    text: str
    first_audible: float = 0.0
    last_audible: float = 0.0
    bot_answer: float | None = None  # the bot's first audible frame after last_audible
    cut_off: bool = False  # the bot spoke between the phrase's first and last audible frame

    @property
    def gap_s(self) -> float | None:
        return None if self.bot_answer is None else self.bot_answer - self.last_audible


@dataclass
class WireCall:
    agi_host: str
    agi_port: int
    caller: str = "+79990000000"
    called: str = "5555"
    bot_frames: list[tuple[float, bool]] = field(default_factory=list)  # (arrival, audible)
    phrases: list[Phrase] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    call_id: str = ""  # the AudioSocket uuid: the call id in the server's transcripts
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _queue: list[bytes] = field(default_factory=list)
    _sent_all: asyncio.Event = field(default_factory=asyncio.Event)
    _current: Phrase | None = None
    _writer: asyncio.StreamWriter | None = None
    _sent: int = 0  # frames on the wire so far
    _phase: tuple[int, int] | None = None  # (k, n): the queued phrase starts at frame k mod n

    # -- the caller's side -------------------------------------------------------------------

    async def say(self, text: str, pcm: bytes, phase: tuple[int, int] | None = None) -> Phrase:
        """Speak now (or, with ``phase=(k, n)``, at the next frame whose number is ``k``
        modulo ``n``); returns when the phrase's last frame is on the wire."""
        phrase = Phrase(text)
        self.phrases.append(phrase)
        self._current = phrase
        self._phase = phase
        self._sent_all.clear()
        self._queue.extend(
            pcm[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
            for i in range(0, len(pcm), FRAME_BYTES)
        )
        await self._sent_all.wait()
        return phrase

    async def bot_done(self, quiet_s: float = 0.35, timeout: float = 30.0) -> bool:
        """Until the bot has spoken and then been quiet for ``quiet_s``; False on timeout or
        when the call ended."""
        deadline = time.monotonic() + timeout
        start = len(self.bot_frames)
        while time.monotonic() < deadline and not self.closed.is_set():
            heard = [t for t, loud in self.bot_frames[start:] if loud]
            if heard and time.monotonic() - heard[-1] >= quiet_s:
                return True
            await asyncio.sleep(0.02)
        return False

    # -- the wire ----------------------------------------------------------------------------

    async def run(self, script: object) -> None:
        """FastAGI, then the AudioSocket leg with ``await script(self)`` talking on it."""
        reader, writer = await asyncio.open_connection(self.agi_host, self.agi_port)
        env = {
            "agi_network": "yes",
            "agi_network_script": "order",
            "agi_request": f"agi://{self.agi_host}:{self.agi_port}/order",
            "agi_channel": f"PJSIP/bench-{uuid.uuid4().hex[:8]}",
            "agi_uniqueid": f"{time.time():.6f}",
            "agi_callerid": self.caller,
            "agi_dnid": self.called,
            "agi_extension": self.called,
        }
        writer.write("".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n")
        await writer.drain()
        try:
            while True:
                try:
                    line = (await reader.readline()).decode("utf-8", "replace").strip()
                except ConnectionError:  # the bot died: the call is over
                    break
                if not line:
                    break
                words = shlex.split(line, posix=True)
                if words[:2] == ["EXEC", "AudioSocket"]:
                    call_uuid, address = words[2].split(",", 1)
                    self.call_id = call_uuid
                    await self._audio(call_uuid, address, script)
                    writer.write(b"200 result=0\n")
                elif words[:2] == ["SET", "VARIABLE"] and len(words) >= 4:
                    self.variables[words[2]] = words[3]
                    writer.write(b"200 result=1\n")
                else:
                    writer.write(b"510 Invalid or unknown command\n")
                try:
                    await writer.drain()
                except ConnectionError:  # the bot hung up or died: the call is over
                    break
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _audio(self, call_uuid: str, address: str, script: object) -> None:
        host, port = address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
        self._writer = writer
        writer.write(encode_frame(0x01, uuid.UUID(call_uuid).bytes))
        tasks = [
            asyncio.create_task(self._receive(reader)),
            asyncio.create_task(self._send(writer)),
        ]
        try:
            await script(self)  # type: ignore[operator]
            if not self.closed.is_set():
                with contextlib.suppress(ConnectionError):  # the bot may be gone (killed)
                    writer.write(encode_frame(KIND_HANGUP))
                    await writer.drain()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self.closed.wait()
        finally:
            self.closed.set()
            self._sent_all.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await reader.readexactly(3)
                payload = await reader.readexactly(int.from_bytes(header[1:], "big"))
                if header[0] == KIND_AUDIO:
                    now = time.monotonic()
                    loud = audible(payload)
                    self.bot_frames.append((now, loud))
                    if loud:
                        self._bot_spoke(now)
                elif header[0] == KIND_HANGUP:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self.closed.set()
        self._sent_all.set()

    def _bot_spoke(self, now: float) -> None:
        phrase = self._current
        if phrase is None or not phrase.first_audible:
            return
        if self._queue:  # the caller is still talking: the bot did not wait for the end
            if any(audible(f) for f in self._queue):
                phrase.cut_off = True
        elif phrase.bot_answer is None and now > phrase.last_audible:
            phrase.bot_answer = now

    async def _send(self, writer: asyncio.StreamWriter) -> None:
        silence = bytes(FRAME_BYTES)
        next_at = time.monotonic()
        with contextlib.suppress(ConnectionError, OSError):
            while not self.closed.is_set():
                frame = self._queue.pop(0) if self._queue and self._may_start() else silence
                writer.write(encode_audio(frame))
                await writer.drain()
                self._sent += 1
                sent = time.monotonic()
                phrase = self._current
                if phrase is not None and frame is not silence and audible(frame):
                    phrase.first_audible = phrase.first_audible or sent
                    phrase.last_audible = sent
                if not self._queue:
                    self._sent_all.set()
                next_at += 0.02
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def _may_start(self) -> bool:
        """The queued phrase may go on (it has begun, or its phase has come)."""
        phase = self._phase
        if phase is None or self._sent % phase[1] == phase[0]:
            self._phase = None
            return True
        return False
