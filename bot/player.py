"""Outgoing audio for one call: queued phrases sent as 20 ms frames, paced in real time.

Barge-in stops the current phrase within one frame and drops what is queued; the far end's
buffer is cleared through the transport. ``pace=False`` sends as fast as the transport takes
frames (simulated calls with ``--fast``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.pbx.transport import CallTransport
from speech.audio import Audio

FRAME_MS = 20


@dataclass(slots=True)
class Phrase:
    audio: Audio
    interruptible: bool = True
    on_start: Callable[[float], None] | None = None  # called with the wall time of frame 1


class Player:
    def __init__(
        self, transport: CallTransport, *, pace: bool = True, lead_frames: int = 2
    ) -> None:
        self.transport = transport
        self.pace = pace
        self.lead = lead_frames * FRAME_MS / 1000
        self._queue: asyncio.Queue[Phrase] = asyncio.Queue()
        self._current: Phrase | None = None
        self._stop = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.frames_sent = 0
        # the far end plays each frame for 20 ms after the one before (or at once when its
        # buffer is empty); a frame of a phrase arriving after the buffer ran dry is an
        # audible gap (underrun). Frame 0 of a phrase may start on an empty buffer.
        self.underruns = 0
        self._buffered_until = 0.0
        self.stopped_at: float | None = None  # wall time of the last barge-in stop

    @property
    def playing(self) -> bool:
        return not self._idle.is_set()

    @property
    def interruptible(self) -> bool:
        return self._current is None or self._current.interruptible

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="player")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def enqueue(self, phrase: Phrase) -> None:
        self._idle.clear()
        self._queue.put_nowait(phrase)

    async def drained(self) -> None:
        await self._idle.wait()

    async def barge_in(self) -> bool:
        """Stop an interruptible phrase now and drop the queue; False if nothing stopped."""
        if not self.playing or not self.interruptible:
            return False
        self._stop = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self.stopped_at = time.monotonic()
        await self.transport.clear()
        return True

    async def _run(self) -> None:
        next_at = time.monotonic()
        while True:
            if self._queue.empty() and self._current is None:
                self._idle.set()
            phrase = await self._queue.get()
            self._current, self._stop = phrase, False
            next_at = max(next_at, time.monotonic())
            for index, frame in enumerate(phrase.audio.frames(FRAME_MS)):
                if self._stop:
                    break
                await self.transport.play(frame)
                self.frames_sent += 1
                sent = time.monotonic()
                if index == 0 and phrase.on_start is not None:
                    phrase.on_start(sent)
                if index > 0 and self.pace and sent > self._buffered_until:
                    self.underruns += 1
                self._buffered_until = max(self._buffered_until, sent) + FRAME_MS / 1000
                if self.pace:
                    next_at += FRAME_MS / 1000
                    delay = next_at - self.lead - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                else:
                    await asyncio.sleep(0)
            if self._stop:
                next_at = time.monotonic()
            self._current = None
            if self._queue.empty():
                self._idle.set()
