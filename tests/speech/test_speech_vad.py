"""Silero VAD and end-of-phrase detection on Festival speech with silence around it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from speech.audio import Audio, tone
from speech.vad import (
    EndOfPhraseDetector,
    NoInput,
    PhraseEnded,
    PhrasePaused,
    SileroVad,
    SpeechStarted,
    VadEvent,
)
from tests.speech.conftest import quiet_noise, speech_offset_s, speech_onset_s

PHRASE = "артикул сто двадцать три, две штуки"


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


def run(detector: EndOfPhraseDetector, audio: Audio, frame_ms: int = 20) -> list[VadEvent]:
    events: list[VadEvent] = []
    for frame in audio.frames(frame_ms):
        events.extend(detector.feed(frame))
    return events


def test_silero_vad_chunks_and_scores(vad: SileroVad) -> None:
    assert vad.sample_rate == 16000
    assert vad.chunk_samples == 512
    assert vad.chunk_ms == pytest.approx(32.0)
    assert SileroVad(8000).chunk_samples == 256
    vad.reset()
    assert vad.probability(np.zeros(512, dtype=np.float32)) < 0.1
    with pytest.raises(ValueError):
        vad.probability(np.zeros(100, dtype=np.float32))


def test_silero_vad_hears_speech_not_tones(vad: SileroVad, say: Callable[..., Audio]) -> None:
    vad.reset()
    assert vad.probabilities(say(PHRASE)).max() > 0.9
    vad.reset()
    assert vad.probabilities(tone(1000, 1.0)).max() < 0.5


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_phrase_is_detected_with_timings(
    vad: SileroVad, say: Callable[..., Audio], rate: int
) -> None:
    speech = say(PHRASE, rate)
    onset = 1.0 + speech_onset_s(speech)
    offset = 1.0 + speech_offset_s(speech)
    signal = quiet_noise(1.0, rate) + speech + quiet_noise(2.0, rate, seed=2)
    vad.reset()
    detector = EndOfPhraseDetector(vad, end_silence_ms=700)
    events = run(detector, signal)
    assert [type(e) for e in events] == [SpeechStarted, PhraseEnded]
    started, ended = events
    assert isinstance(started, SpeechStarted) and isinstance(ended, PhraseEnded)
    assert abs(started.at_ms - onset * 1000) <= 100
    assert ended.speech_start_ms == started.at_ms
    assert abs(ended.last_voice_ms - offset * 1000) <= 200
    assert 700 <= ended.end_ms - ended.last_voice_ms < 700 + 32 + 1
    assert not ended.forced
    # The phrase audio: 200 ms pre-roll + speech + 200 ms post-roll, at the input rate.
    assert ended.audio.rate == rate
    expected = (ended.last_voice_ms - ended.speech_start_ms + 400) / 1000
    assert ended.audio.duration == pytest.approx(expected, abs=0.01)
    assert ended.audio.rms() > 1000


def test_end_silence_can_change_per_turn(vad: SileroVad, say: Callable[..., Audio]) -> None:
    signal = quiet_noise(0.5, 8000) + say("да", 8000) + quiet_noise(1.5, 8000)
    gaps = {}
    for end_silence in (300, 1000):
        vad.reset()
        detector = EndOfPhraseDetector(vad)
        detector.start_turn(end_silence_ms=end_silence)
        ended = [e for e in run(detector, signal) if isinstance(e, PhraseEnded)]
        assert len(ended) == 1
        gaps[end_silence] = ended[0].end_ms - ended[0].last_voice_ms
    assert 300 <= gaps[300] <= 340
    assert 1000 <= gaps[1000] <= 1040


def test_no_input_on_silence_once_per_turn(vad: SileroVad) -> None:
    vad.reset()
    detector = EndOfPhraseDetector(vad, no_input_ms=5000)
    events = run(detector, quiet_noise(12.0, 8000))
    assert len(events) == 1 and isinstance(events[0], NoInput)
    assert 5000 <= events[0].at_ms <= 5040
    detector.start_turn(no_input_ms=2000)
    turn_start = detector.now_ms
    events = run(detector, quiet_noise(3.0, 8000, seed=5))
    assert len(events) == 1 and isinstance(events[0], NoInput)
    assert 2000 <= events[0].at_ms - turn_start <= 2040


def test_flush_closes_a_phrase_in_progress(vad: SileroVad, say: Callable[..., Audio]) -> None:
    vad.reset()
    detector = EndOfPhraseDetector(vad)
    events = run(detector, quiet_noise(0.3, 16000) + say(PHRASE))
    assert [type(e) for e in events] == [SpeechStarted]
    assert detector.in_speech
    (ended,) = detector.flush()
    assert isinstance(ended, PhraseEnded) and ended.forced
    assert ended.audio.duration > 2.0
    assert detector.flush() == []


def test_max_phrase_length_forces_an_end(vad: SileroVad, say: Callable[..., Audio]) -> None:
    vad.reset()
    detector = EndOfPhraseDetector(vad, max_phrase_ms=1000)
    events = run(detector, say(PHRASE, 8000))
    ended = [e for e in events if isinstance(e, PhraseEnded)]
    assert ended and ended[0].forced
    assert ended[0].end_ms - ended[0].speech_start_ms == pytest.approx(1000, abs=40)


def test_frames_must_keep_one_rate(vad: SileroVad) -> None:
    detector = EndOfPhraseDetector(vad)
    detector.feed(Audio.silence(0.02, 8000))
    with pytest.raises(ValueError):
        detector.feed(Audio.silence(0.02, 16000))
    detector.reset()
    assert detector.now_ms == 0.0
    detector.feed(Audio.silence(0.02, 16000))
    assert detector.now_ms == pytest.approx(20.0)


def test_take_and_advance_are_feed_in_two_halves(vad: SileroVad, say: Callable[..., Audio]) -> None:
    """The VAD model may run in another thread between ``take`` and ``advance``."""
    signal = quiet_noise(0.3, 8000) + say("двенадцать", 8000) + quiet_noise(1.5, 8000, seed=4)
    vad.reset()
    whole = EndOfPhraseDetector(vad, end_silence_ms=700)
    expected = run(whole, signal)
    vad.reset()
    halves = EndOfPhraseDetector(vad, end_silence_ms=700)
    events = []
    for frame in signal.frames(20):
        rows = halves.take(frame)
        events += halves.advance([vad.probability(row) for row in rows])
    assert [type(e).__name__ for e in events] == [type(e).__name__ for e in expected]
    assert [getattr(e, "last_voice_ms", None) for e in events] == [
        getattr(e, "last_voice_ms", None) for e in expected
    ]


def test_a_speculation_lead_announces_the_pause_before_its_window(
    vad: SileroVad, say: Callable[..., Audio]
) -> None:
    """``speculate_ms``: a ``commit=False`` pause after that much silence, then the
    ``commit=True`` one at the early window, both for the same phrase so far."""
    first, second = say("двенадцать", 8000), say("сорок пять", 8000)
    signal = quiet_noise(0.3, 8000) + first + quiet_noise(0.05, 8000, seed=3) + second
    signal = signal + quiet_noise(1.5, 8000, seed=4)
    vad.reset()
    detector = EndOfPhraseDetector(vad, end_silence_ms=700)
    detector.start_turn(early_silence_ms=300, speculate_ms=150)
    pauses = [e for e in run(detector, signal) if isinstance(e, PhrasePaused)]
    assert [p.commit for p in pauses] == [False, True, False, True], pauses
    for lead, commit in (pauses[0:2], pauses[2:4]):
        assert lead.last_voice_ms == commit.last_voice_ms
        assert 150 <= lead.at_ms - lead.last_voice_ms < 150 + 33
        assert 300 <= commit.at_ms - commit.last_voice_ms < 300 + 33

    vad.reset()
    detector = EndOfPhraseDetector(vad, end_silence_ms=700)
    detector.start_turn(early_silence_ms=300, speculate_ms=0)  # no lead: as before
    pauses = [e for e in run(detector, signal) if isinstance(e, PhrasePaused)]
    assert [p.commit for p in pauses] == [True, True]


def test_a_pause_inside_a_phrase_is_announced_once_and_the_phrase_can_be_cut(
    vad: SileroVad, say: Callable[..., Audio]
) -> None:
    """«двенадцать … сорок пять»: a 450 ms pause is a ``PhrasePaused`` (early silence 250 ms)
    but not the end (700 ms); ``cut`` at a pause ends the phrase with the same audio."""
    first, second = say("двенадцать", 8000), say("сорок пять", 8000)
    # «say» pads each part with 0.2 s of line noise: 0.2 + 0.05 + 0.2 = a 0.45 s pause
    signal = quiet_noise(0.3, 8000) + first + quiet_noise(0.05, 8000, seed=3) + second
    signal = signal + quiet_noise(1.5, 8000, seed=4)
    vad.reset()
    detector = EndOfPhraseDetector(vad, end_silence_ms=700)
    detector.start_turn(early_silence_ms=250)
    events = run(detector, signal)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["SpeechStarted", "PhrasePaused", "PhrasePaused", "PhraseEnded"], kinds
    first_pause, last_pause, ended = events[1], events[2], events[3]
    assert isinstance(first_pause, PhrasePaused) and isinstance(last_pause, PhrasePaused)
    assert isinstance(ended, PhraseEnded)
    assert 250 <= first_pause.at_ms - first_pause.last_voice_ms < 250 + 33
    assert first_pause.last_voice_ms < ended.last_voice_ms, "the phrase went on"
    assert last_pause.last_voice_ms == ended.last_voice_ms
    assert last_pause.audio.pcm == ended.audio.pcm, "the pause carries the final phrase audio"

    vad.reset()
    detector = EndOfPhraseDetector(vad, end_silence_ms=700)
    detector.start_turn(early_silence_ms=250)
    cut_at = None
    for frame in signal.frames(20):
        for event in detector.feed(frame):
            if isinstance(event, PhrasePaused) and cut_at is None:
                cut_at = event
                phrase = detector.cut()
                assert phrase is not None and phrase.last_voice_ms == event.last_voice_ms
                assert detector.cut() is None, "nothing left to cut"
            assert not (
                cut_at is not None
                and isinstance(event, PhraseEnded)
                and event.last_voice_ms == cut_at.last_voice_ms
            )
    assert cut_at is not None
