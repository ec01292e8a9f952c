"""A chain of synthesizers: the first that speaks a text wins (Festival, then espeak-ng).

Built by the bot when ``voice.tts.fallback`` names engines after ``voice.tts.engine``. A
failure of one engine (an error, or ``call_timeout_s`` passed) is logged once per engine
and the next one speaks; only when every engine failed does the caller get the last error.
The chain applies ``preprocess`` once and hands the spoken text to its engines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import ClassVar

from speech.audio import Audio
from speech.errors import SpeechError
from speech.tts import Synthesizer

log = logging.getLogger(__name__)


class FallbackSynthesizer(Synthesizer):
    name: ClassVar[str] = "fallback"

    def __init__(self, engines: Sequence[Synthesizer]) -> None:
        if not engines:
            raise ValueError("a fallback chain needs at least one synthesizer")
        first = engines[0]
        super().__init__(
            voice="+".join(f"{e.name}:{e.voice}" for e in engines),
            rate=first.rate,
            call_timeout_s=0,  # each engine keeps its own limit
        )
        self.engines = list(engines)
        self.failures = {e.name: 0 for e in self.engines}

    async def load(self) -> None:
        for engine in self.engines:
            await engine.load()

    async def synthesize(self, text: str) -> Audio:
        spoken = self.spoken(text)
        last: BaseException | None = None
        for engine in self.engines:
            try:
                audio = await engine.synthesize(spoken)
            except (SpeechError, OSError) as exc:
                self._failed(engine, exc)
                last = exc
                continue
            return audio if audio.rate == self.rate else audio.resample(self.rate)
        assert last is not None
        raise last

    def synthesize_sync(self, text: str) -> Audio:
        spoken = self.spoken(text)
        last: BaseException | None = None
        for engine in self.engines:
            try:
                return engine.synthesize_sync(spoken).resample(self.rate)
            except (SpeechError, OSError) as exc:
                self._failed(engine, exc)
                last = exc
        assert last is not None
        raise last

    async def warm(self, texts: Iterable[str]) -> None:
        """Warm the first engine; the others only when it fails (they are the reserve)."""
        spoken = [self.spoken(t) for t in texts]
        for engine in self.engines:
            try:
                await engine.warm(spoken)
                return
            except (SpeechError, OSError) as exc:
                self._failed(engine, exc)

    def _failed(self, engine: Synthesizer, exc: BaseException) -> None:
        self.failures[engine.name] = self.failures.get(engine.name, 0) + 1
        if self.failures[engine.name] == 1:  # one line per engine, not one per phrase
            log.warning(
                "synthesizer failed; the next in the chain speaks",
                extra={"engine": engine.name, "error": type(exc).__name__},
            )

    def _synthesize_sync(self, text: str) -> Audio:  # pragma: no cover - synthesize() is used
        return self.synthesize_sync(text)

    def close(self) -> None:
        for engine in self.engines:
            engine.close()
