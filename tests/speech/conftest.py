"""Fixtures for the speech tests: real engines, installed by scripts/bootstrap.sh.

A missing engine skips its tests with the command that installs it; set
``SPEECH_REQUIRE_ENGINES=1`` (CI after the install step) to make a missing engine a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from speech.audio import Audio
from speech.errors import EngineUnavailable
from speech.tts_festival import FestivalSynthesizer

ROOT = Path(__file__).resolve().parents[2]
WHISPER_DIR = ROOT / "models" / "whisper-base"
REQUIRE_ENGINES = os.environ.get("SPEECH_REQUIRE_ENGINES") == "1"


def need(available: object, reason: str) -> None:
    """Skip (or fail, when engines are required) unless ``available``."""
    if not available:
        if REQUIRE_ENGINES:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def festival() -> Iterator[FestivalSynthesizer]:
    need(
        shutil.which("festival") and shutil.which("text2wave"),
        "Festival is not installed: run scripts/bootstrap.sh",
    )
    try:
        synth = FestivalSynthesizer()
        synth.synthesize_sync("да")
    except EngineUnavailable as exc:
        need(False, f"Festival Russian voice unavailable ({exc}): run scripts/bootstrap.sh")
        raise
    yield synth
    synth.close()


@pytest.fixture(scope="session")
def say(festival: FestivalSynthesizer) -> Callable[..., Audio]:
    """Russian speech from Festival (cached), optionally resampled: ``say(text, rate=16000)``,
    with 0.2 s of line noise before and after, as the session hands a phrase to the
    recognizer (its pre- and post-roll): synthesized speech is trimmed of its own silence."""

    def speak(text: str, rate: int = 16000) -> Audio:
        speech = festival.synthesize_sync(text).resample(rate)
        return quiet_noise(0.2, rate, seed=7) + speech + quiet_noise(0.2, rate, seed=8)

    return speak


def quiet_noise(seconds: float, rate: int, level: float = 30.0, seed: int = 1) -> Audio:
    """Low background noise (a line is never digitally silent)."""
    rng = np.random.default_rng(seed)
    return Audio.from_samples(rng.normal(0.0, level, round(seconds * rate)), rate)


def speech_onset_s(audio: Audio, threshold: float = 500.0) -> float:
    """Time of the first 10 ms window louder than ``threshold`` (RMS, int16 scale)."""
    window = audio.rate // 100
    x = audio.samples()[: audio.num_samples // window * window].astype(np.float64)
    rms = np.sqrt(np.mean(x.reshape(-1, window) ** 2, axis=1))
    loud = np.flatnonzero(rms > threshold)
    return float(loud[0]) / 100 if loud.size else 0.0


def speech_offset_s(audio: Audio, threshold: float = 500.0) -> float:
    """End time of the last 10 ms window louder than ``threshold``."""
    window = audio.rate // 100
    x = audio.samples()[: audio.num_samples // window * window].astype(np.float64)
    rms = np.sqrt(np.mean(x.reshape(-1, window) ** 2, axis=1))
    loud = np.flatnonzero(rms > threshold)
    return float(loud[-1] + 1) / 100 if loud.size else 0.0
