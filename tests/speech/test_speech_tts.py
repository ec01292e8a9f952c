"""Speech synthesis: Festival and espeak-ng for real, the cache, the registry, Silero's errors."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from speech.audio import Audio
from speech.errors import EngineUnavailable
from speech.tts import SYNTHESIZERS, SynthesisCache, Synthesizer, create_synthesizer
from speech.tts_espeak import EspeakSynthesizer
from speech.tts_festival import FestivalSynthesizer, festival_text
from speech.tts_silero import SileroSynthesizer
from tests.speech.conftest import need, speech_offset_s, speech_onset_s

PHRASE = "артикул сто двадцать три, две штуки"


class CountingSynth(Synthesizer):
    """A stand-in engine that records how often and on which thread it runs."""

    name = "counting"

    def __init__(self, cache: SynthesisCache | None = None, rate: int = 16000) -> None:
        super().__init__(voice="v", rate=rate, cache=cache)
        self.threads: list[str] = []

    def _synthesize_sync(self, text: str) -> Audio:
        self.threads.append(threading.current_thread().name)
        return Audio.silence(0.01 * len(text), 8000)


@pytest.fixture(scope="module")
def espeak() -> Iterator[EspeakSynthesizer]:
    need(shutil.which("espeak-ng"), "espeak-ng is not installed: run scripts/bootstrap.sh")
    yield EspeakSynthesizer()


def assert_plausible_speech(audio: Audio, text: str) -> None:
    assert audio.rms() > 500
    voiced = speech_offset_s(audio) - speech_onset_s(audio)
    words = len(text.split())
    assert 0.2 * words <= voiced <= 1.0 * words + 0.5
    assert audio.duration < 1.5 * words + 1.5


# --- Festival --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("цена 12.50 руб.", "цена 12 50 руб."),
        ("№ 5 (скидка 5%)", "5 скидка 5"),
        ("1,5 кг", "1 5 кг"),
        ("A12 и x2", "A 12 и x 2"),
        ('"Ёлка" — 3 шт.', "Ёлка 3 шт."),
        (", да , нет .", "да, нет."),
        ("скидка 5%), артикул", "скидка 5, артикул"),
        ("  ...  ", ""),
        ("№%", ""),
    ],
)
def test_festival_text_keeps_only_what_the_voice_can_say(raw: str, clean: str) -> None:
    assert festival_text(raw) == clean


async def test_festival_speaks_russian(festival: FestivalSynthesizer) -> None:
    audio = await festival.synthesize(PHRASE)
    assert audio.rate == 16000
    assert_plausible_speech(audio, PHRASE)


async def test_festival_survives_digits_and_symbols(festival: FestivalSynthesizer) -> None:
    text = "цена 12.50 руб. за № 7 (скидка 5%), артикул 4512, 1,5 кг"
    audio = await festival.synthesize(text)
    assert audio.rms() > 500
    assert audio.duration > 3.0
    assert (await festival.synthesize("№ %")).num_samples == 0
    assert (await festival.synthesize("   ")).num_samples == 0


def test_festival_one_shot_text2wave_and_output_rate(festival: FestivalSynthesizer) -> None:
    oneshot = FestivalSynthesizer(persistent=False, rate=8000)
    audio = oneshot.synthesize_sync("да, 2 штуки")
    assert audio.rate == 8000
    assert audio.rms() > 500
    persistent = festival.synthesize_sync("да, 2 штуки")
    assert audio.duration == pytest.approx(persistent.duration, abs=0.01)


def test_festival_restarts_a_dead_process() -> None:
    synth = FestivalSynthesizer()
    try:
        synth.synthesize_sync("один")
        assert synth._process is not None
        synth._process._proc.kill()
        synth._process._proc.wait()
        assert synth.synthesize_sync("два").rms() > 500
    finally:
        synth.close()


def test_festival_rejects_a_bad_voice_name() -> None:
    with pytest.raises(ValueError):
        FestivalSynthesizer(voice="x) (system 'id'")


def test_festival_unknown_voice_is_unavailable(festival: FestivalSynthesizer) -> None:
    synth = FestivalSynthesizer(voice="no_such_voice")
    with pytest.raises(EngineUnavailable):
        synth.synthesize_sync("да")
    synth.close()


# --- espeak-ng -------------------------------------------------------------------------------


async def test_espeak_speaks_russian(espeak: EspeakSynthesizer) -> None:
    audio = await espeak.synthesize(PHRASE)
    assert audio.rate == 16000
    assert_plausible_speech(audio, PHRASE)


def test_espeak_text_is_never_an_option(espeak: EspeakSynthesizer) -> None:
    assert espeak.synthesize_sync("--help -v en").rms() > 500
    slow = EspeakSynthesizer(speed=100, rate=8000).synthesize_sync(PHRASE)
    assert slow.rate == 8000
    assert slow.duration > espeak.synthesize_sync(PHRASE).duration


# --- cache and base class ----------------------------------------------------------------------


async def test_cache_hit_returns_the_same_object(festival: FestivalSynthesizer) -> None:
    synth = FestivalSynthesizer(cache=SynthesisCache())
    try:
        first = await synth.synthesize("Здравствуйте!")
        again = await synth.synthesize("  Здравствуйте! ")
        assert again is first
        assert synth.engine_calls == 1
    finally:
        synth.close()


async def test_concurrent_requests_run_the_engine_once() -> None:
    synth = CountingSynth()
    results = await asyncio.gather(*(synth.synthesize("одно и то же") for _ in range(5)))
    assert synth.engine_calls == 1
    assert all(r is results[0] for r in results)
    assert results[0].rate == 16000  # resampled from the engine's 8 kHz


async def test_engine_runs_in_the_worker_pool() -> None:
    synth = CountingSynth()
    await synth.synthesize("текст")
    assert synth.threads and synth.threads[0] != threading.current_thread().name
    assert synth.threads[0].startswith("speech")


async def test_warm_synthesizes_each_prompt_once() -> None:
    synth = CountingSynth()
    await synth.warm(["один", "два", "один", "три"])
    assert synth.engine_calls == 3
    assert len(synth.cache) == 3
    await synth.synthesize("два")
    assert synth.engine_calls == 3


async def test_disk_cache_survives_a_restart(tmp_path: Path) -> None:
    first = CountingSynth(cache=SynthesisCache(tmp_path))
    audio = await first.synthesize("привет")
    files = list(tmp_path.rglob("*.wav"))
    assert len(files) == 1
    second = CountingSynth(cache=SynthesisCache(tmp_path))
    again = await second.synthesize("привет")
    assert second.engine_calls == 0
    assert again == audio
    other_rate = CountingSynth(cache=SynthesisCache(tmp_path), rate=8000)
    await other_rate.synthesize("привет")
    assert other_rate.engine_calls == 1  # the rate is part of the key


def test_cache_is_bounded() -> None:
    cache = SynthesisCache(max_items=2)
    for text in ("a", "b", "c"):
        cache.put(cache.key("e", "v", 8000, text), Audio.silence(0.01, 8000))
    assert len(cache) == 2
    assert cache.get(cache.key("e", "v", 8000, "a")) is None
    assert cache.get(cache.key("e", "v", 8000, "c")) is not None


# --- registry and Silero ---------------------------------------------------------------------


def test_registry_has_the_engines() -> None:
    assert {"festival", "espeak", "silero"} <= set(SYNTHESIZERS)
    assert SYNTHESIZERS["festival"] is FestivalSynthesizer
    with pytest.raises(ValueError, match="unknown synthesizer"):
        create_synthesizer("nope")


def test_create_synthesizer_by_name(espeak: EspeakSynthesizer) -> None:
    synth = create_synthesizer("espeak", voice="ru", rate=8000)
    assert isinstance(synth, EspeakSynthesizer)
    assert synth.rate == 8000


def test_silero_without_weights_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable, match=r"v4_ru\.pt"):
        SileroSynthesizer(tmp_path / "v4_ru.pt")
    fake = tmp_path / "v4_ru.pt"
    fake.write_bytes(b"not a model")
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(EngineUnavailable, match="PyTorch"):
            create_synthesizer("silero", model_path=fake)
