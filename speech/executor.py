"""The shared, bounded worker pool that runs blocking speech work off the event loop.

All recognizers and synthesizers use one pool per process unless they are given their own,
so the number of CPU-heavy jobs running at once stays bounded (2 by default, one per core
on the target machines). ``configure_executor`` sets the size from config before first use.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, TypeVar

_T = TypeVar("_T")

DEFAULT_WORKERS = 2

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_workers = DEFAULT_WORKERS


def configure_executor(max_workers: int = DEFAULT_WORKERS) -> None:
    """Set the pool size; a pool already created with another size is replaced.

    The old pool finishes the jobs it has and is then shut down.
    """
    global _executor, _workers
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    with _lock:
        _workers = max_workers
        old, _executor = _executor, None
    if old is not None:
        old.shutdown(wait=False)


def get_executor() -> ThreadPoolExecutor:
    """The process-wide speech worker pool, created on first use."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=_workers, thread_name_prefix="speech")
        return _executor


def shutdown_executor(wait: bool = True) -> None:
    """Shut the shared pool down (at exit or in tests); the next use creates a new one."""
    global _executor
    with _lock:
        old, _executor = _executor, None
    if old is not None:
        old.shutdown(wait=wait)


_in_flight = 0  # jobs submitted to the shared pool and not finished (event-loop thread only)


def pool_busy() -> bool:
    """Every worker of the shared pool has a job (more would wait in its queue): optional
    work, such as a speculative recognition, should not be added now."""
    return _in_flight >= _workers


async def run_blocking(func: Callable[..., _T], *args: Any, executor: Executor | None = None) -> _T:
    """Run ``func(*args)`` in ``executor`` (default: the shared pool) and await its result."""
    global _in_flight
    loop = asyncio.get_running_loop()
    shared = executor is None
    if shared:
        _in_flight += 1
    try:
        return await loop.run_in_executor(executor or get_executor(), func, *args)
    finally:
        if shared:
            _in_flight -= 1
