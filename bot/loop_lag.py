"""How late the event loop runs: the server's measure of overload.

Every call's audio, VAD and timers run on one event loop. When more calls come than two
cores can carry, the loop falls behind and every call on it hears late, choppy answers or
none at all. ``LoopLag`` wakes every ``interval`` seconds and records how much later than
asked it woke; ``overloaded`` is true while the mean of the last ``window`` seconds is over
``limit_ms``. The server then sends new calls straight to an operator (as over
``server.max_calls``), so the calls it already has stay served.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque


class LoopLag:
    def __init__(self, limit_ms: float, *, interval: float = 0.1, window: float = 2.0) -> None:
        self.limit_ms = limit_ms
        self.interval = interval
        self._samples: deque[float] = deque(maxlen=max(1, round(window / interval)))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and self.limit_ms > 0:
            self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def lag_ms(self) -> float:
        """The mean lag over the window (0 before the first sample)."""
        return sum(self._samples) / len(self._samples) if self._samples else 0.0

    @property
    def overloaded(self) -> bool:
        return self.limit_ms > 0 and self.lag_ms > self.limit_ms

    def record(self, lag_ms: float) -> None:
        self._samples.append(max(0.0, lag_ms))

    async def _run(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(self.interval)
            self.record((time.monotonic() - asked - self.interval) * 1000.0)
