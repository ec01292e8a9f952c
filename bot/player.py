"""Outgoing audio for one call: queued phrases sent as 20 ms frames, paced in real time.

Barge-in stops the current interruptible phrase within one frame and drops the queued
interruptible ones (a queued goodbye or transfer notice stays); the far end's buffer is
cleared through the transport. ``pace=False`` sends as fast as the transport takes frames
(simulated calls with ``--fast``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.pbx.transport import CallTransport
from speech.audio import Audio

log = logging.getLogger(__name__)
FRAME_MS = 20
CANCEL_AGAIN_S = 0.5  # close(): a cancellation that did not end the task is sent again


def _retrieve(task: asyncio.Task[None]) -> None:
    """Take the ended task's outcome, so that asyncio does not report it as never retrieved
    (the player's errors were logged where they happened)."""
    if not task.cancelled():
        task.exception()


@dataclass(slots=True)
class Phrase:
    audio: Audio
    interruptible: bool = True
    on_start: Callable[[float], None] | None = None  # called with the wall time of frame 1


class Player:
    def __init__(
        self,
        transport: CallTransport,
        *,
        pace: bool = True,
        lead_frames: int = 2,
        on_phrase_start: Callable[[float], None] | None = None,
    ) -> None:
        self.transport = transport
        self.on_phrase_start = on_phrase_start  # every phrase's first frame (wall time)
        self.pace = pace
        self.lead = lead_frames * FRAME_MS / 1000
        self._queue: collections.deque[Phrase] = collections.deque()
        self._wake = asyncio.Event()
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
        self.on_frame: Callable[[Audio], None] | None = None  # every frame sent (recorder)

    @property
    def playing(self) -> bool:
        return not self._idle.is_set()

    @property
    def interruptible(self) -> bool:
        """Whether what plays now (or plays next, between two phrases) may be cut off."""
        phrase = self._current or (self._queue[0] if self._queue else None)
        return phrase is None or phrase.interruptible

    @property
    def remaining_s(self) -> float:
        """Audio still to be sent, in seconds (an upper bound for waiting on it)."""
        queued = sum(p.audio.duration for p in self._queue)
        return queued + (self._current.audio.duration if self._current else 0.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="player")

    async def close(self) -> None:
        """Stop sending. A cancellation can be lost on the way (Python 3.11's ``wait_for``
        returns a result that came in the same moment and drops the cancel; a transport may
        use it), and an idle player then waits for a phrase for ever: so cancel again until
        the task is done, and the call's end cannot hang on it."""
        task = self._task
        if task is None:
            return
        try:
            tries = 0
            while not task.done():
                if tries == 1:
                    log.warning("player: a cancellation was lost; cancelling again")
                task.cancel()
                tries += 1
                await asyncio.wait([task], timeout=CANCEL_AGAIN_S)
        finally:
            if not task.done():  # close() itself was cancelled: the task still ends
                task.cancel()
            task.add_done_callback(_retrieve)

    def enqueue(self, phrase: Phrase) -> None:
        self._idle.clear()
        self._queue.append(phrase)
        self._wake.set()

    async def drained(self) -> None:
        await self._idle.wait()

    async def barge_in(self) -> list[Phrase] | None:
        """Stop an interruptible phrase now and drop the queued interruptible ones.

        Returns what was cut off (the current phrase, whole, then the dropped ones), so it can
        be played again if the "caller" was a noise; ``None`` when nothing could be stopped.
        """
        if not self.playing or not self.interruptible:
            return None
        cut = [self._current] if self._current is not None else []
        cut += [p for p in self._queue if p.interruptible]
        self._stop = self._current is not None
        self._queue = collections.deque(p for p in self._queue if not p.interruptible)
        if self._current is None and not self._queue:
            self._idle.set()
        await self.transport.clear()
        return cut

    async def _run(self) -> None:
        next_at = time.monotonic()
        while True:
            if not self._queue:
                if self._current is None:
                    self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            phrase = self._queue.popleft()
            self._current, self._stop = phrase, False
            next_at = max(next_at, time.monotonic())
            for index, frame in enumerate(phrase.audio.frames(FRAME_MS)):
                if self._stop:
                    break
                await self.transport.play(frame)
                self.frames_sent += 1
                if self.on_frame is not None:
                    self.on_frame(frame)
                sent = time.monotonic()
                if index == 0:
                    if self.on_phrase_start is not None:
                        self.on_phrase_start(sent)
                    if phrase.on_start is not None:
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
            if not self._queue:
                self._idle.set()
