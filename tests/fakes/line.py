"""A phone line in lockstep, for fast session tests: one caller frame per bot frame.

On a real line both directions run at one 20 ms frame per 20 ms. :class:`LockstepLine` keeps
that ratio without the clock: a ticker sends the caller's next frame (their queued speech or
silence) and lets the bot send at most one frame per tick, as fast as the session takes
them (or one per ``tick_s`` of wall time). Audio time (what the VAD and the no-input timer
count) thus runs much faster than the wall clock, and the order of events on the line is the
same as in real time. Work that takes wall time while the line runs on (a speculative
recognition during a pause) needs a ``tick_s`` of a few milliseconds to keep up, as it would
at 20 ms per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from connectors.pbx.transport import (
    AudioIn,
    CallInfo,
    CallTransport,
    DtmfIn,
    HangupIn,
    InboundEvent,
)
from speech.audio import Audio

RATE = 8000
FRAME = 160  # samples: 20 ms at 8 kHz


class LockstepLine(CallTransport):
    def __init__(
        self, caller: str = "+79607775577", called: str = "78123098635", tick_s: float = 0.0
    ) -> None:
        self.info = CallInfo("test-call", caller, called, "test")
        self.tick_s = tick_s  # wall time per frame (0: as fast as the session takes them)
        self.rate = RATE
        self._inbound: asyncio.Queue[InboundEvent | None] = asyncio.Queue(maxsize=1)
        self._queued: list[Audio] = []
        self._keys: list[InboundEvent] = []  # keys and hang-up, sent between frames
        self._spoken = asyncio.Event()
        self._tick = 0
        self._tick_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.silence = Audio(bytes(FRAME * 2), RATE)
        self.bot_frames: list[tuple[int, Audio]] = []  # (tick, frame)
        self.cleared: list[int] = []  # ticks at which the far end's buffer was cleared
        self.caller_names: list[str] = []
        self.transfers: list[str] = []
        self.hung_up = False
        self.closed = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    # -- the caller's side -------------------------------------------------------------------

    def start(self) -> None:
        self._ticker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)

    async def say(self, audio: Audio) -> None:
        """Speak ``audio`` into the line; returns once its last frame is on the line."""
        self._spoken.clear()
        self._queued.extend(audio.resample(RATE).frames(20))
        await self._sent()

    async def press(self, digits: str) -> None:
        """Press keys: each goes on the line before the next audio frame."""
        self._keys.extend(DtmfIn(d) for d in digits)
        self._spoken.clear()
        await self._sent()

    async def _sent(self) -> None:
        """Until what was queued is on the line, or the bot ended the call."""
        waits = {asyncio.create_task(self._spoken.wait()), asyncio.create_task(self.closed.wait())}
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def hang_up_caller(self) -> None:
        self._keys.append(HangupIn("caller"))

    @property
    def tick(self) -> int:
        return self._tick

    async def _run(self) -> None:
        while not self.closed.is_set():
            while self._keys:  # one queue for everything: a put never overtakes another
                await self._inbound.put(self._keys.pop(0))
            frame = self._queued.pop(0) if self._queued else self.silence
            if not self._queued:
                self._spoken.set()
            await self._inbound.put(AudioIn(frame))
            self._tick += 1
            for target, future in list(self._tick_waiters):
                if self._tick >= target and not future.done():
                    future.set_result(None)
            self._tick_waiters = [(t, f) for t, f in self._tick_waiters if not f.done()]
            await asyncio.sleep(self.tick_s)
        self._spoken.set()

    # -- CallTransport: the bot's side -------------------------------------------------------

    async def events(self) -> AsyncIterator[InboundEvent]:
        while True:
            event = await self._inbound.get()
            if event is None:
                return
            yield event

    async def play(self, frame: Audio) -> None:
        future = asyncio.get_running_loop().create_future()
        self._tick_waiters.append((self._tick + 1, future))
        with contextlib.suppress(TimeoutError):  # a stopped line: send into the void
            async with asyncio.timeout(5.0):
                await future
        self.bot_frames.append((self._tick, frame))

    async def clear(self) -> None:
        self.cleared.append(self._tick)

    async def set_caller_name(self, name: str) -> None:
        self.caller_names.append(name)

    async def transfer(self, target: str) -> None:
        self.transfers.append(target)
        self.closed.set()

    async def hangup(self) -> None:
        self.hung_up = True
        self.closed.set()
