"""Call recordings: both sides of a call as one stereo Ogg/Opus file, caller left, bot right.

The session hands every inbound frame (as received) and every outbound frame (as sent) to
the call's :class:`CallRecorder` (``CallSession.tap_audio``). Those two methods only copy
bytes into the right place of a short in-memory window, on the event loop; every
``recordings.flush_s`` seconds the finished part of the window goes to one encoder thread
for all calls (:class:`Recordings`), which encodes it and writes whole Ogg pages
(:mod:`bot.journal.ogg_opus`). A crash loses at most the last ``flush_s`` + 0.25 s.

Where a frame goes (sample positions since the call started, at ``transport.rate``):

- the caller's frames follow each other; when the line sent nothing for longer than
  ``SLACK_S`` (silence suppression, a stalled link), the next frame goes where the clock is;
- the bot's frames of one phrase follow each other; a phrase starts where the call is now
  (the wall clock, or the caller's audio when that runs ahead, as in a simulated call).

A disk that cannot keep up (more than ``recordings.max_queued_s`` of audio waiting) or fails
ends that call's recording, never the call; the file keeps what was written.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import numpy as np

from bot.journal.ogg_opus import OggOpusWriter, opus_rate
from bot.journal.settings import RecordingSettings
from speech.audio import Audio

log = logging.getLogger(__name__)
T = TypeVar("T")
SLACK_S = 0.25
SUFFIX = ".opus"


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    path: Path
    relative: str
    bytes: int
    seconds: float
    complete: bool  # closed normally (the end-of-stream page is there)


class _Track:
    """One channel's samples from ``base`` on, as little-endian int16 bytes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def put(self, position: int, pcm: bytes) -> None:
        offset = position * 2
        if offset > len(self.data):
            self.data.extend(bytes(offset - len(self.data)))
        self.data[offset : offset + len(pcm)] = pcm

    def take(self, samples: int) -> np.ndarray:
        out = np.zeros(samples, dtype=np.int16)
        have = min(samples, len(self.data) // 2)
        out[:have] = np.frombuffer(bytes(self.data[: have * 2]), dtype="<i2")
        del self.data[: samples * 2]
        return out

    @property
    def samples(self) -> int:
        return len(self.data) // 2


class CallRecorder:
    def __init__(
        self,
        recordings: Recordings,
        path: Path,
        relative: str,
        rate: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recordings = recordings
        self.path = path
        self.relative = relative
        self.rate = rate
        self.clock = clock
        self.started = clock()
        self._caller, self._bot = _Track(), _Track()
        self.base = 0  # samples before this are with the encoder
        self.caller_at = 0  # where the caller's next frame goes
        self.bot_at = 0
        self.slack = int(SLACK_S * rate)
        self._last_flush = self.started
        self._queued = 0  # samples handed to the encoder and not yet written
        self._writer: OggOpusWriter | None = None
        self._jobs: list[concurrent.futures.Future[None]] = []
        self.stopped = ""  # why the recording stopped early ("" while it runs)
        self.closed = False

    # -- the session's frames (event loop; cheap) ---------------------------------------------

    def _clock_at(self) -> int:
        return int((self.clock() - self.started) * self.rate)

    def caller(self, audio: Audio) -> None:
        if self.closed or self.stopped:
            return
        wall = self._clock_at()
        if wall - self.caller_at > self.slack:
            self.caller_at = wall
        self._caller.put(self.caller_at - self.base, audio.pcm)
        self.caller_at += audio.num_samples
        self._maybe_flush()

    def bot(self, audio: Audio) -> None:
        if self.closed or self.stopped:
            return
        now = max(self._clock_at(), self.caller_at)
        position = self.bot_at if self.bot_at >= now - self.slack else now
        position = max(position, self.base)
        self._bot.put(position - self.base, audio.pcm)
        self.bot_at = position + audio.num_samples
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        now = self.clock()
        flush_s = self.recordings.settings.flush_s
        ahead = self.caller_at - self.base > (flush_s + 2 * SLACK_S) * self.rate  # a fast call
        if ahead or now - self._last_flush >= flush_s:
            self._last_flush = now
            self.flush()

    def flush(self, *, final: bool = False) -> None:
        """Hand the finished part of the window (all of it when ``final``) to the encoder."""
        wall = self._clock_at()
        if wall - self.caller_at > self.slack:  # the line is quiet: its silence is final too
            self.caller_at = wall - self.slack
        if final:
            end = max(self.base + self._caller.samples, self.base + self._bot.samples)
        else:
            end = self.caller_at - self.slack
        count = end - self.base
        if count <= 0:
            return
        stereo = np.stack([self._caller.take(count), self._bot.take(count)], axis=1)
        self.base = end
        self.caller_at = max(self.caller_at, self.base)
        limit = self.recordings.settings.max_queued_s * self.rate
        if self._queued + count > limit:
            self._stop("backlog")
            return
        self._queued += count
        self._jobs.append(self.recordings.submit(self._encode, stereo))
        self._jobs = [j for j in self._jobs if not j.done()]

    def _stop(self, why: str) -> None:
        if not self.stopped:
            self.stopped = why
            log.warning("call recording stopped", extra={"why": why})

    # -- the encoder thread -------------------------------------------------------------------

    def _encode(self, stereo: np.ndarray) -> None:
        try:
            if self.stopped == "error":
                return
            if self._writer is None:
                self._writer = OggOpusWriter(
                    self.path, opus_rate(self.rate), self.recordings.settings.bitrate
                )
            if self._writer.rate != self.rate:
                stereo = _resample(stereo, self.rate, self._writer.rate)
            self._writer.write(stereo)
        except Exception as exc:
            self.stopped = self.stopped or "error"
            log.warning("call recording failed", extra={"error": type(exc).__name__})
        finally:
            self._queued -= len(stereo)

    def _close_writer(self) -> RecordingInfo | None:
        writer = self._writer
        if writer is None:
            return None
        complete = True
        try:
            writer.close()
        except Exception as exc:
            complete = False
            log.warning("closing a call recording failed", extra={"error": type(exc).__name__})
        size = self.path.stat().st_size if self.path.exists() else 0
        return RecordingInfo(self.path, self.relative, size, writer.seconds, complete)

    async def close(self) -> RecordingInfo | None:
        """The rest of the window, the last page; what was recorded (None: nothing)."""
        if self.closed:
            return None
        if not self.stopped:
            self.flush(final=True)
        self.closed = True
        job = self.recordings.submit(self._close_writer)
        return await asyncio.wrap_future(job)


def _resample(stereo: np.ndarray, rate: int, target: int) -> np.ndarray:
    channels = [
        Audio(np.ascontiguousarray(stereo[:, i]).astype("<i2").tobytes(), rate)
        .resample(target)
        .samples()
        for i in range(2)
    ]
    n = min(c.size for c in channels)
    return np.stack([c[:n] for c in channels], axis=1)


def _safe(call_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", call_id)[:40] or "call"


class Recordings:
    """The recordings folder and the one encoder thread every call's recorder uses."""

    def __init__(self, settings: RecordingSettings) -> None:
        self.settings = settings
        assert settings.dir is not None
        self.root = Path(settings.dir)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recordings")

    def submit(self, work: Callable[..., T], *args: object) -> concurrent.futures.Future[T]:
        return self._pool.submit(work, *args)

    def start(self, call_id: str, rate: int, started: datetime | None = None) -> CallRecorder:
        """A recorder for a new call: ``YYYY/MM/DD/HHMMSS-<call id>-<random>.opus``."""
        moment = (started or datetime.now()).astimezone()
        name = f"{moment:%H%M%S}-{_safe(call_id)}-{secrets.token_hex(3)}{SUFFIX}"
        relative = f"{moment:%Y/%m/%d}/{name}"
        return CallRecorder(self, self.root / relative, relative, rate)

    def path_of(self, relative: str) -> Path | None:
        """The file of a stored relative path, only inside the folder (None otherwise)."""
        path = (self.root / relative).resolve()
        root = self.root.resolve()
        if root not in path.parents or path.suffix != SUFFIX:
            return None
        return path

    def close(self) -> None:
        self._pool.shutdown(wait=True)
