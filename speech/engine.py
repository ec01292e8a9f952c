"""What every speech engine shares: a name, the bounded worker pool, a time limit per call.

Recognizers (:mod:`speech.asr`) and synthesizers (:mod:`speech.tts`) derive from
:class:`Engine`. Blocking work runs in the shared pool (:mod:`speech.executor`) unless the
engine was given its own executor. ``call_timeout_s`` bounds one recognition or synthesis as
the caller waits for it (queueing in the pool included); past it :class:`EngineTimeout` is
raised and the worker thread is left to finish on its own (a thread cannot be cancelled). The
front end treats a timeout like any engine failure. ``None`` means no limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, ClassVar, TypeVar

from speech.errors import EngineTimeout
from speech.executor import get_executor, run_blocking

_T = TypeVar("_T")

DEFAULT_CALL_TIMEOUT_S = 10.0


class Engine:
    name: ClassVar[str] = ""
    kind: ClassVar[str] = "engine"  # "recognition" | "synthesis", for messages

    def __init__(
        self, *, executor: Executor | None = None, call_timeout_s: float | None = None
    ) -> None:
        self._executor = executor
        self.call_timeout_s = DEFAULT_CALL_TIMEOUT_S if call_timeout_s is None else call_timeout_s

    @property
    def executor(self) -> Executor:
        return self._executor if self._executor is not None else get_executor()

    async def run_in_pool(self, func: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking call of this engine in its worker pool (no time limit)."""
        return await run_blocking(func, *args, executor=self._executor)

    async def within_limit(self, work: Awaitable[_T]) -> _T:
        """``work`` bounded by ``call_timeout_s`` (:class:`EngineTimeout` past it)."""
        limit = self.call_timeout_s
        if not limit or limit <= 0:
            return await work
        try:
            async with asyncio.timeout(limit):
                return await work
        except TimeoutError:
            raise EngineTimeout(
                f"{self.name or type(self).__name__}: {self.kind} took longer than {limit:g} s"
            ) from None

    async def load(self) -> None:
        """Load the model / start the process now (in the worker pool), not on first use."""
        await self.run_in_pool(self._load_sync)

    def _load_sync(self) -> None:
        """Engines with something to load override this."""
