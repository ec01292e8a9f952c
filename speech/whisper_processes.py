"""Whisper decoding in worker processes, each with its own interpreter lock.

In the bot's process the two speech threads decode with CTranslate2 (which releases the GIL),
but faster-whisper's Python around it (features, tokens, segments) needs the GIL, and so does
the event loop that carries every call's audio. With 20 calls the server used ~1.05 of the
machine's 2 cores while callers waited on recognitions: the loop (~45 % of a core) and the
decoders took turns at one lock. Here each speech thread hands its phrase to a process of its
own (``WhisperRecognizer(processes=N)``): the thread only waits on a pipe, and the decoding
runs on the other core without the loop's lock.

Each process loads the model once (``cpu_threads`` threads, one replica) when it starts;
:meth:`WhisperProcesses.start` starts them all and waits until each has its model, so the
first call does not pay for it. Audio goes over as 16 kHz PCM (a phrase of 3 s is ~96 KB).
A process that dies (killed, out of memory) breaks the pool: that recognition fails with
:class:`~speech.errors.EngineUnavailable` (the call goes on as after any engine failure) and
the next one starts a new pool. A worker whose bot process is gone (killed outright) ends
itself within a second. Processes are started with ``spawn`` (not ``fork``: the bot's
process has threads and an event loop that a forked child must not inherit).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from speech.errors import EngineUnavailable

if TYPE_CHECKING:
    from speech.asr import Hints
    from speech.asr_whisper import Hypotheses, WhisperRecognizer
    from speech.audio import Audio

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0  # a process's import and model load (about 2 s here)
# a speech thread waits no longer than this for one phrase (the call gave up at
# voice.asr.timeout_s already): the thread is freed for the next phrase
DECODE_TIMEOUT_S = 60.0
PARENT_CHECK_S = 1.0  # how often a worker looks whether the bot's process is still there

_recognizer: WhisperRecognizer | None = None  # in a worker process: its in-process decoder
_shared: dict[str, WhisperProcesses] = {}
_shared_lock = threading.Lock()


def shared_processes(settings: dict[str, Any], processes: int) -> WhisperProcesses:
    """The process-wide worker processes for these settings (started once, like the model
    cache of the in-process recognizer: every call and recognizer of a process shares them)."""
    key = json.dumps([settings, processes], sort_keys=True, default=str)
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            found = _shared[key] = WhisperProcesses(settings, processes)
        return found


def _start_worker(settings: dict[str, Any], started: Any) -> None:
    global _recognizer
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    from speech.asr_whisper import WhisperRecognizer

    _recognizer = WhisperRecognizer(**settings)
    _recognizer._load_sync()
    # a process takes no job before every process has its model: when the first job is done,
    # all of them are ready (and none of them took every warm-up job while the others loaded)
    started.wait(START_TIMEOUT_S)


def _exit_with(parent: int) -> None:
    """End this worker when the bot's process is gone: a process killed outright (``kill -9``,
    out of memory) does not stop its pool, and a worker's own copy of the job queue keeps its
    pipe open, so it would wait for jobs forever (seen: orphans of 220 MB each)."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(0)


def _ready() -> int:
    return os.getpid()


def _decode(audio: Audio, hints: Hints | None, beam_cap: int | None) -> Hypotheses:
    assert _recognizer is not None, "worker process not initialised"
    return _recognizer._hypotheses(audio, hints, beam_cap)


class WhisperProcesses:
    """``processes`` worker processes, each running an in-process ``WhisperRecognizer`` made
    from ``settings`` (its keyword arguments)."""

    def __init__(self, settings: dict[str, Any], processes: int) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.settings = settings
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._warm_up: list[Future[int]] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start every process and wait until each has loaded the model."""
        pool = self._get_pool()
        if all(job.done() and not job.exception() for job in self._warm_up):
            return
        try:
            pids = {job.result(START_TIMEOUT_S) for job in self._warm_up}
        except (BrokenProcessPool, TimeoutError) as exc:
            self._drop(pool)
            raise EngineUnavailable(f"whisper worker processes failed to start: {exc!r}") from exc
        log.info("whisper: %d worker processes ready", len(pids))

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        with self._lock:
            pool = self._pool
        return [] if pool is None else sorted(pool._processes or {})

    def hypotheses(self, audio: Audio, hints: Hints | None, beam_cap: int | None) -> Hypotheses:
        """Decode one phrase (already 16 kHz) in a worker process; blocks the calling thread."""
        pool = self._get_pool()
        job: Future[Hypotheses] | None = None
        try:
            job = pool.submit(_decode, audio, hints, beam_cap)
            return job.result(DECODE_TIMEOUT_S)
        except BrokenProcessPool as exc:
            self._drop(pool)
            raise EngineUnavailable(f"a whisper worker process died: {exc}") from exc
        except TimeoutError:
            if job is not None:
                job.cancel()  # if it has not started yet; a running decode cannot be stopped
            raise EngineUnavailable(
                f"a whisper worker process gave no answer within {DECODE_TIMEOUT_S:g} s"
            ) from None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=context,
                    initializer=_start_worker,
                    initargs=(self.settings, context.Barrier(self.processes)),
                )
                # processes are spawned on demand, one per job that finds none idle: a job
                # each makes them all start now (the barrier above waits for all of them)
                self._warm_up = [self._pool.submit(_ready) for _ in range(self.processes)]
            return self._pool

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)
