"""Speech fakes: a caller voice and a recognizer that agree on a code, a tone synthesizer for
the bot, and an energy VAD as the end-of-phrase source. No models, no real time.

The caller's phrases are coded as loudness: :class:`CodedVoice` gives every distinct text its
own amplitude (a 300 Hz tone, 60 ms per character, at least 200 ms), and
:class:`ScriptedRecognizer` reads the loudness of each voiced run of a phrase back to its
text (runs apart by 100 ms of silence are words of one phrase: «двенадцать … сорок пять»). So a
session test says «да» and the session hears «да», through the real end-of-phrase detector
(:class:`EnergyVad` scores each chunk by its level), the real worker pool and time limits.
``NOISE`` is a text the recognizer hears as nothing (a cough).
"""

from __future__ import annotations

import math
import threading
import time
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from speech.asr import Hints, Recognizer
from speech.audio import Audio
from speech.errors import RecognitionError, SynthesisError
from speech.tts import Synthesizer

NOISE = "<noise>"
LEVEL_STEP = 400  # amplitude between two coded texts
FIRST_LEVEL = 2000


class Codebook:
    """Text ⇄ amplitude, shared by the caller's voice and the recognizer of one test."""

    def __init__(self) -> None:
        self._levels: dict[str, int] = {}
        self._lock = threading.Lock()

    def level(self, text: str) -> int:
        with self._lock:
            if text not in self._levels:
                self._levels[text] = FIRST_LEVEL + LEVEL_STEP * len(self._levels)
                if self._levels[text] > 30000:
                    raise ValueError("too many coded texts for one test")
            return self._levels[text]

    def text(self, level: int) -> str | None:
        with self._lock:
            best = min(self._levels.items(), key=lambda kv: abs(kv[1] - level), default=None)
        if best is None or abs(best[1] - level) > LEVEL_STEP / 2:
            return None
        return best[0]


def tone(seconds: float, amplitude: int, rate: int = 8000, hz: float = 300.0) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    samples = (amplitude * np.sin(2 * math.pi * hz * t)).astype(np.int16)
    return Audio.from_samples(samples, rate)


def voiced_levels(audio: Audio, gap_ms: int = 100) -> list[int]:
    """The loudness of each voiced run of ``audio`` (runs apart by ``gap_ms`` of silence)."""
    samples = np.abs(audio.samples().astype(np.int32))
    if not samples.size:
        return []
    window = max(1, audio.rate // 100)  # 10 ms
    peaks = [int(samples[i : i + window].max()) for i in range(0, samples.size, window)]
    levels: list[int] = []
    run: list[int] = []
    quiet = 0
    for peak in peaks + [0] * (gap_ms // 10):
        if peak > 500:
            run.append(peak)
            quiet = 0
        elif run:
            quiet += 1
            if quiet * 10 >= gap_ms:
                levels.append(int(np.percentile(run, 90)))
                run, quiet = [], 0
    return levels


class CodedVoice(Synthesizer):
    """The caller's voice in session tests: each text becomes a tone of its own loudness."""

    name: ClassVar[str] = "coded"

    def __init__(self, codebook: Codebook, *, rate: int = 8000) -> None:
        super().__init__(voice="coded", rate=rate, call_timeout_s=0)
        self.codebook = codebook

    def _synthesize_sync(self, text: str) -> Audio:
        return tone(max(0.2, 0.06 * len(text)), self.codebook.level(text), self.rate)


class ScriptedRecognizer(Recognizer):
    """Hears what :class:`CodedVoice` said. ``delay_s`` makes every recognition that slow
    (for time limits); ``fail`` makes it raise; ``heard`` lists the texts returned."""

    name: ClassVar[str] = "scripted"

    def __init__(self, codebook: Codebook, *, delay_s: float = 0.0, fail: bool = False) -> None:
        super().__init__(call_timeout_s=10.0)
        self.codebook = codebook
        self.delay_s = delay_s
        self.fail = fail
        self.heard: list[str] = []
        self.hints: list[str | None] = []
        self.confidence = 1.0  # what it reports for every phrase

    def _transcribe_sync(self, audio: Audio, hints: Hints | None) -> tuple[str, float | None]:
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail:
            raise RecognitionError("scripted failure")
        words = [self.codebook.text(level) or "" for level in voiced_levels(audio)]
        text = " ".join(w for w in words if w and w != NOISE)
        self.heard.append(text)
        self.hints.append(hints.expect if hints else None)
        return text, self.confidence


class ToneSynthesizer(Synthesizer):
    """The bot's voice in session tests: a quiet 440 Hz tone, ``ms_per_char`` per character;
    ``said`` lists every text it was asked for (after ``preprocess``); ``fail`` raises."""

    name: ClassVar[str] = "tone"

    def __init__(self, *, rate: int = 16000, ms_per_char: float = 10.0, fail: bool = False) -> None:
        super().__init__(voice="tone", rate=rate, call_timeout_s=5.0)
        self.ms_per_char = ms_per_char
        self.fail = fail
        self.said: list[str] = []

    async def synthesize(self, text: str) -> Audio:
        self.said.append(self.spoken(text))
        return await super().synthesize(text)

    def _synthesize_sync(self, text: str) -> Audio:
        if self.fail:
            raise SynthesisError("scripted failure")
        seconds = max(0.1, self.ms_per_char * len(text) / 1000)
        return tone(seconds, 300, self.rate, hz=440.0)


class EnergyVad:
    """A voice-activity model by loudness: a chunk is speech when its peak passes ``level``
    (the bot's quiet tone and line silence are not). Chunks of 32 ms at 8 kHz."""

    def __init__(self, sample_rate: int = 8000, level: int = 1000) -> None:
        self.sample_rate = sample_rate
        self.chunk_samples = 256 if sample_rate == 8000 else 512
        self.level = level / 32768.0

    @property
    def chunk_ms(self) -> float:
        return 1000.0 * self.chunk_samples / self.sample_rate

    def probability(self, chunk: npt.ArrayLike) -> float:
        data = np.asarray(chunk, dtype=np.float32)
        return 1.0 if data.size and float(np.max(np.abs(data))) >= self.level else 0.0

    def reset(self) -> None:
        return None
