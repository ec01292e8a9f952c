"""Speech recognition: the ``Recognizer`` interface, ``Transcript``, ``Hints`` and the registry.

Engines live one per module (``asr_whisper``, ``asr_vosk``) and fill ``_transcribe_sync``;
the base class resamples to the engine's rate, runs the blocking call in the shared bounded
worker pool (``speech.executor``) and times it. Engines are chosen by name from config via
``create_recognizer(name, **options)``; they register themselves in ``RECOGNIZERS``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, ClassVar

from speech.audio import Audio
from speech.engine import Engine
from speech.registry import Registry


@dataclass
class Transcript:
    """What an engine heard. ``confidence`` is 0..1 when the engine gives one."""

    text: str
    confidence: float | None
    duration_s: float  # audio length
    elapsed_s: float  # processing time (wall clock)
    alternatives: tuple[str, ...] = ()  # other hypotheses, best first (a beam's runner-ups)

    @property
    def rtf(self) -> float:
        """Real-time factor: processing time / audio time."""
        return self.elapsed_s / self.duration_s if self.duration_s > 0 else 0.0


@dataclass(frozen=True)
class Partial:
    """An interim result of a streaming engine.

    ``final`` is True when the engine closed a segment (an endpoint inside the stream): that
    text will not change any more; otherwise the text may still be revised.
    """

    text: str
    final: bool = False


@dataclass
class Hints:
    """What the dialog expects next, as a plain key (``"article"``, ``"yes_no"``, …); engines
    may bias (Whisper) or restrict (Vosk) on it. A key an engine does not know means no hint."""

    expect: str | None = None
    phrases: list[str] = field(default_factory=list)


class Recognizer(Engine, ABC):
    """An utterance recognizer: ``await transcribe(audio, hints)`` -> ``Transcript``."""

    kind: ClassVar[str] = "recognition"
    sample_rate: int = 16000

    def __init__(
        self, *, executor: Executor | None = None, call_timeout_s: float | None = None
    ) -> None:
        super().__init__(executor=executor, call_timeout_s=call_timeout_s)

    async def transcribe(self, audio: Audio, hints: Hints | None = None) -> Transcript:
        """Recognize one utterance; blocking work runs in the worker pool, bounded by
        ``call_timeout_s`` (:class:`~speech.errors.EngineTimeout`)."""
        started = time.perf_counter()
        work = self.run_in_pool(self._transcribe_blocking, audio, hints)
        text, confidence = await self.within_limit(work)
        elapsed = time.perf_counter() - started
        return Transcript(text, confidence, audio.duration, elapsed)

    def transcribe_sync(self, audio: Audio, hints: Hints | None = None) -> Transcript:
        """Blocking variant for scripts and benchmarks (never call it on the event loop)."""
        started = time.perf_counter()
        text, confidence = self._transcribe_blocking(audio, hints)
        return Transcript(text, confidence, audio.duration, time.perf_counter() - started)

    def _transcribe_blocking(self, audio: Audio, hints: Hints | None) -> tuple[str, float | None]:
        self._load_sync()
        return self._transcribe_sync(audio.resample(self.sample_rate), hints)

    @abstractmethod
    def _transcribe_sync(self, audio: Audio, hints: Hints | None) -> tuple[str, float | None]:
        """Recognize ``audio`` (already at ``self.sample_rate``): ``(text, confidence)``."""


_REGISTRY: Registry[Recognizer] = Registry("recognizer")
RECOGNIZERS = _REGISTRY.engines
register_recognizer = _REGISTRY.register


def create_recognizer(name: str, **options: Any) -> Recognizer:
    """Build the engine registered as ``name`` with its options (from config)."""
    return _REGISTRY.create(name, **options)
