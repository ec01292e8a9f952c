"""The ``voice:`` section of the configuration: engines, end-of-phrase timing, barge-in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dialogs.expect import EXPECTS

MIN_SPECULATE_MS = 100  # no speculative recognition before this much silence


@dataclass(slots=True)
class AsrSettings:
    engine: str = "whisper"
    # a beam search (and its runner-ups for the NLU) where the caller dictates an article:
    # human digits read right 69 % ➜ 88 % (README «Recognition accuracy»), ~2× the decoding.
    # processes: decoding in two worker processes, out of the event loop's interpreter lock
    # (speech.whisper_processes; 20 calls: recognition p95 0.62 ➜ 0.31 s)
    options: dict[str, Any] = field(
        default_factory=lambda: {
            "model_dir": "models/whisper-base",
            "beam_sizes": {"article": 5},
            "processes": 2,
        }
    )
    timeout_s: float = 10.0  # one recognition (queueing included); past it: an operator

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("voice.asr.timeout_s must be positive")


@dataclass(slots=True)
class TtsSettings:
    engine: str = "festival"
    options: dict[str, Any] = field(default_factory=dict)
    rate: int = 16000
    cache_dir: str | None = "var/tts-cache"
    timeout_s: float = 10.0  # one synthesis; past it (or on an error) the next engine speaks
    fallback: list[str] = field(default_factory=lambda: ["espeak"])  # [] = no reserve voice

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("voice.tts.timeout_s must be positive")
        if self.engine in self.fallback:
            raise ValueError(f"voice.tts.fallback repeats the main engine {self.engine!r}")


@dataclass(slots=True)
class VadSettings:
    threshold: float = 0.5
    min_speech_ms: int = 120  # voice this long starts a phrase (and barges in)
    # silence that ends a phrase, by what the dialog expects
    end_silence_ms: dict[str, int] = field(
        default_factory=lambda: {"yes_no": 500, "menu": 600, "quantity": 700, "article": 900}
    )
    default_end_silence_ms: int = 700
    no_input_ms: int = 6000
    # a pause this long inside a phrase: recognise it speculatively and answer at once if it
    # is already a complete answer for what the dialog expects (0 or missing: never early)
    early_silence_ms: dict[str, int] = field(
        # yes/no: acts with its 500 ms window. Callers hedge after a yes or a no («да …
        # наверное»); silence is counted in the VAD's 32 ms chunks, so 450 acted at 480 ms
        # against the window's 512 and cut «нет … пожалуй» after a 0.45 s pause in two of
        # three bench runs, which the window never did. 490 acts at 512 like the window: what
        # is left for yes/no is the speculation lead (recognised from 340 ms, ready then)
        default_factory=lambda: {"yes_no": 490, "menu": 250, "quantity": 300, "article": 300}
    )
    # the speculative recognition starts this much before the early pause (not before 100 ms
    # of silence), so its result is ready when the pause is reached; the answer still waits
    # for the whole early pause, so it cuts off no more than without the lead (0: start at
    # the early pause, as before)
    speculate_lead_ms: int = 150
    # the VAD model runs in this many threads shared by every call, off the event loop (its
    # C code releases the GIL); 0: on the event loop. bench wire measured 2 (20 calls: audio
    # gaps 1,364 ➜ 532); the default stays 0 until two whole-suite e2e failures seen with 2
    # (a call that did not end, a slow client not counted as cut) are understood
    threads: int = 0

    def __post_init__(self) -> None:
        for name in ("end_silence_ms", "early_silence_ms"):
            table: dict[str, int] = getattr(self, name)
            unknown = sorted(set(table) - set(EXPECTS))
            if unknown:
                raise ValueError(
                    f"voice.vad.{name}: unknown expectation {', '.join(map(repr, unknown))}; "
                    f"known: {', '.join(EXPECTS)}"
                )
        for key, value in self.end_silence_ms.items():
            if not 100 <= value <= 5000:
                raise ValueError(f"voice.vad.end_silence_ms.{key} must be 100..5000 ms")
        if not 0 <= self.threads <= 64:
            raise ValueError("voice.vad.threads must be 0..64")
        if not 0 <= self.speculate_lead_ms <= 1000:
            raise ValueError("voice.vad.speculate_lead_ms must be 0..1000 ms")
        for key, value in self.early_silence_ms.items():
            end = self.end_silence_ms.get(key, self.default_end_silence_ms)
            if value and not 100 <= value < end:
                raise ValueError(
                    f"voice.vad.early_silence_ms.{key} must be 0 or 100 ms up to less than "
                    f"its end_silence_ms ({end})"
                )

    def speculate_at(self, expect: str) -> int:
        """Silence in ms after which the phrase so far is recognised speculatively (0: at the
        early pause itself, or never when there is none)."""
        early = self.early_silence_ms.get(expect, 0)
        if not early or not self.speculate_lead_ms:
            return 0
        at = max(MIN_SPECULATE_MS, early - self.speculate_lead_ms)
        return at if at < early else 0

    def silences(self, expect: str) -> tuple[int, int]:
        """(end of phrase, early pause) in ms for what the dialog expects."""
        end = self.end_silence_ms.get(expect, self.default_end_silence_ms)
        return end, self.early_silence_ms.get(expect, 0)


@dataclass(slots=True)
class VoiceSettings:
    asr: AsrSettings = field(default_factory=AsrSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    vad: VadSettings = field(default_factory=VadSettings)
    barge_in: bool = True
    speculate: bool = True  # early end of turn (voice.vad.early_silence_ms); off: full windows
    early_min_confidence: float = 0.6  # a less sure speculative recognition waits for the end
    dtmf_timeout: float = 2.0  # keypad input ends with # or this pause
    max_call_seconds: float = 600.0
    idle_timeout: float = 15.0  # no frames at all from the PBX this long: the call is gone
    workers: int = 2  # CPU-heavy jobs at once (ASR, TTS) for all calls

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("voice.workers must be at least 1")
        if self.max_call_seconds <= 0:
            raise ValueError("voice.max_call_seconds must be positive")
