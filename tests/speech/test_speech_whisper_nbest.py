"""Whisper's n-best list where the dialog expects digits, and the retry of a looping greedy
decode (``speech/asr_whisper.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from speech.asr import Hints
from speech.asr_whisper import DIGIT_BEAM_SIZES, WhisperRecognizer, WhisperTranscript
from speech.audio import Audio
from tests.speech.conftest import WHISPER_DIR, need


@dataclass
class Segment:
    text: str
    tokens: list[int]
    avg_logprob: float


class LoopsWhenGreedy:
    """A model stand-in whose greedy decode loops and whose beam search does not."""

    def __init__(self) -> None:
        self.beams: list[int] = []

    def transcribe(self, audio: Any, **options: Any) -> tuple[Iterator[Segment], None]:
        self.beams.append(options["beam_size"])
        if options["beam_size"] == 1:
            return iter([Segment("0, 6, 7" + ", 8" * 20, [1] * 40, -0.1)]), None
        return iter([Segment("7 0 6 7 7", [1, 2, 3], -0.2)]), None


def test_a_looping_greedy_decode_is_decoded_again_with_beams() -> None:
    recognizer = WhisperRecognizer(WHISPER_DIR)
    model = LoopsWhenGreedy()
    recognizer._model = model
    result = recognizer.transcribe_sync(Audio.silence(2.0, 8000), Hints(expect="article"))
    assert result.text == "7 0 6 7 7" and (result.confidence or 0) > 0.5
    assert model.beams == [1, 5]
    assert isinstance(result, WhisperTranscript) and result.alternatives == ()


class Records:
    """A model stand-in that says the same for any beam and notes the beams asked for."""

    def __init__(self) -> None:
        self.beams: list[int] = []

    def transcribe(self, audio: Any, **options: Any) -> tuple[Iterator[Segment], None]:
        self.beams.append(options["beam_size"])
        return iter([Segment("артикул 7715", [1, 2, 3], -0.2)]), None


async def test_no_beam_search_while_every_speech_worker_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recognizer = WhisperRecognizer(WHISPER_DIR, beam_sizes=DIGIT_BEAM_SIZES)
    model = Records()
    recognizer._model = model
    monkeypatch.setattr("speech.asr_whisper.pool_busy", lambda: True)
    result = await recognizer.transcribe(Audio.silence(1.0, 8000), Hints(expect="article"))
    assert result.text == "артикул 7715"
    assert model.beams == [1]  # greedy: the beam would cost the waiting calls their turn


def test_greedy_by_default_everywhere() -> None:
    recognizer = WhisperRecognizer(WHISPER_DIR)
    assert all(recognizer.beam_sizes.get(k, recognizer.beam_size) == 1 for k in DIGIT_BEAM_SIZES)


@pytest.fixture(scope="module")
def beams() -> WhisperRecognizer:
    need((WHISPER_DIR / "model.bin").is_file(), "no models/whisper-base: run prepare_models.py")
    return WhisperRecognizer(WHISPER_DIR, beam_sizes=DIGIT_BEAM_SIZES)


async def test_the_beam_search_keeps_its_runner_ups(beams: WhisperRecognizer, say: Any) -> None:
    audio = say("артикул семь семь один пять", rate=8000)
    result = await beams.transcribe(audio, Hints(expect="article"))
    assert isinstance(result, WhisperTranscript)
    assert result.text and result.confidence is not None and 0 < result.confidence <= 1
    assert 1 <= len(result.alternatives) <= 4
    assert result.text not in result.alternatives
    assert len(set(result.alternatives)) == len(result.alternatives)
    yes = await beams.transcribe(say("да", rate=8000), Hints(expect="yes_no"))
    assert yes.alternatives == ()  # greedy where no digits are expected
