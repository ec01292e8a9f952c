"""Whisper (faster-whisper / CTranslate2) utterance recognizer, offline from a model folder.

The model folder is ``models/whisper-base`` by default (assembled from PyPI wheels by
``scripts/prepare_models.py``). A model is loaded once per process and shared by every
recognizer and call (a module cache keyed by folder + compute type, guarded by a lock);
CTranslate2 serialises or parallelises concurrent calls itself (``num_workers``).

Threads: ``num_workers=2`` model replicas of ``cpu_threads=1`` each, so two phrases are
decoded at once, one per core, instead of one phrase on two threads at a time. Measured with
``bench wire``'s callers on this 2-core machine (20 simultaneous calls): turn gap p50 / p95
0.98 / 2.95 s with 2 threads × 1 worker, 0.82–0.90 / 1.44–1.48 s with 1 thread × 2 workers;
one call 0.61 / 0.68 ➜ 0.55 / 0.62 s (the speculative and the final recognition of a phrase
no longer wait for each other, and the event loop keeps a core).

Processes: with ``processes=N`` the decoding runs in N worker processes
(:mod:`speech.whisper_processes`), each with one replica of ``cpu_threads`` threads; the speech
thread that took the phrase only waits for the answer. faster-whisper's Python around the
decoder needs the interpreter lock, which in the bot's process the event loop carrying every
call's audio also needs: at 20 calls the two took turns at it (the server used ~1.05 of 2
cores while callers waited). Measured with 20 calls (a driver on ``bench wire``'s callers):
recognition p95 0.62 ➜ 0.31 s, wire turn gap p95 1.89 ➜ 1.09–1.17 s (with the early end of
turn's queued speculation), gaps in the bot's audio 1,095 ➜ ~340. The bot's configuration
uses 2; the engine's own default is 0 (in this process).

Decoding is greedy (``beam_size=1``) at temperature 0 with the fallback off: on the target
2-core machines that keeps the real-time factor around 0.1–0.25. When ``use_prompt`` is on,
the dialog's ``Hints`` become an ``initial_prompt`` that nudges Whisper towards the expected
words ("Артикул товара?" fixes "Артидку" -> "Артикул"; "Сколько штук? 3 штуки." makes it write
quantities as digits). Prompts that contain article numbers ("Артикул 123, 4512.") were
measured to hurt: Whisper regroups dictated digits after them (7715 -> 7175) and on unclear
audio echoes the prompt back as the transcript, so the article prompt has no digits. A greedy
transcript that runs into a loop («0, 6, 7, 8, 8, 8, …», «17 17 17 …») is decoded once more
with a beam search (``LOOP_RETRY_BEAM``), which rarely loops. The
prompts can be replaced per recognizer (``prompts=``). Output length is capped relative to
the audio length, which cuts off greedy-decoding repetition loops ("1-1-1-1-...").

With ``beam_sizes`` (``DIGIT_BEAM_SIZES``: 5 beams where the dialog expects an article or a
quantity) the decoder runs a beam search there instead of greedy decoding and keeps its
n-best list: the best hypothesis is the transcript's text, the others are
``WhisperTranscript.alternatives`` for a reader that can check them against what it knows
(``NluEngine.parse(text, expect, alternatives=…)`` against the catalog). Measured on the
human voice set of ``bot bench recognition`` (README «Recognition accuracy»). The engine's
own default is greedy decoding everywhere; the bot's configuration (``voice.asr.options``)
turns the beam on at the article prompt, and the call session passes the alternatives on.
While every worker of the shared speech pool already has a job (``pool_busy``), a phrase is
decoded with at most ``busy_beam_size`` beams (1: greedy): under load the beam's extra time
would be added to every waiting call's turn gap.

Short-window encoding (``window_s``, default 10 s): faster-whisper pads every segment to
Whisper's 30 s window before the encoder, which costs ~0.3 s on 2 cores even for «да».
The CTranslate2 encoder accepts shorter inputs, so the padding is cut to
``max(window_s, phrase length)``. Measured here on 12 Festival phrases (8 kHz line audio):
30 s window 0.48 s per phrase, 15 s 0.17 s, 10 s 0.11 s, with the same transcripts (the 10 s
window misheard one phrase that the 30 s one also got wrong). Shorter windows are not faster
enough to pay: 6 s 0.10 s against 0.16 s per phrase on one thread, but «десять штук» became
«Весите штук», and at 5 s and under Whisper repeats itself («Нет. Нет. Нет. …», «555 555»).
``window_s=None`` restores the stock behaviour. The setting is process-wide (faster-whisper
has one padding function).
"""

from __future__ import annotations

import inspect
import math
import re
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speech.asr import Hints, Recognizer, Transcript, register_recognizer
from speech.audio import Audio
from speech.errors import EngineUnavailable
from speech.executor import pool_busy
from speech.whisper_processes import WhisperProcesses, shared_processes

DEFAULT_MODEL_DIR = "models/whisper-base"

# initial_prompt per expected answer: short, in the style we want back (measured on Festival
# speech: see the module docstring). "menu" uses the hint phrases only.
DEFAULT_PROMPTS: dict[str, str] = {
    "article": "Артикул товара?",
    "quantity": "Сколько штук? 3 штуки.",
    "yes_no": "Да. Нет.",
    "menu": "",
}
PROMPTS = DEFAULT_PROMPTS  # the name tests and older configs use
# Beam width per expected answer (others: ``beam_size``); over 1, the n-best list is kept.
DEFAULT_BEAM_SIZES: dict[str, int] = {}
DIGIT_BEAM_SIZES: dict[str, int] = {"article": 5, "quantity": 5}
MAX_ALTERNATIVES = 4  # hypotheses kept besides the best one
LOOP_RETRY_BEAM = 5  # a greedy transcript that loops is decoded again with this many beams
MAX_NEW_TOKENS = 220  # with a prompt of at most 223 tokens this stays within Whisper's 448

# Whole transcripts that Whisper is known to invent on silence or noise (subtitle credits).
HALLUCINATIONS: tuple[str, ...] = (
    "продолжение следует",
    "субтитры сделал dimatorzok",
    "субтитры создавал dimatorzok",
    "редактор субтитров а.семкин корректор а.егорова",
    "спасибо за просмотр",
    "до новых встреч",
)

# constructor options a worker process's twin does not take (the bot's process keeps them)
_NOT_FOR_TWIN = frozenset({"self", "processes", "executor", "busy_beam_size"})

# A short unit repeated 8+ times up to the end of the text: a decoding loop cut by the cap.
_RUNAWAY = re.compile(r"(.{1,8}?)\1{7,}\W*$")

_models: dict[tuple[str, str], Any] = {}
_models_lock = threading.Lock()
_WINDOW_FRAMES = 3000  # 30 s of 10 ms feature frames: Whisper's own window
_window_frames = _WINDOW_FRAMES


def set_encoder_window(window_s: float | None) -> None:
    """Pad phrases to ``window_s`` (not 30 s) before the encoder; None: stock padding."""
    global _window_frames
    import faster_whisper.transcribe as fw_transcribe
    from faster_whisper.audio import pad_or_trim

    frames = _WINDOW_FRAMES if window_s is None else int(min(30.0, max(1.0, window_s)) * 100)
    _window_frames = frames

    def pad_to_window(array: Any, length: int = _WINDOW_FRAMES, *, axis: int = -1) -> Any:
        target = min(length, max(_window_frames, int(array.shape[axis])))
        return pad_or_trim(array, target, axis=axis)

    fw_transcribe.pad_or_trim = pad_to_window


def require_model(path: Path) -> None:
    """:class:`EngineUnavailable` unless ``path`` holds a converted Whisper model."""
    if not (path / "model.bin").is_file():
        raise EngineUnavailable(
            f"no Whisper model in {path.resolve()} (for whisper-base run"
            " scripts/prepare_models.py; see models/README.md)"
        )


def load_whisper_model(
    model_dir: str | Path,
    compute_type: str = "int8",
    cpu_threads: int = 1,
    num_workers: int = 2,
) -> Any:
    """The process-wide ``faster_whisper.WhisperModel`` for a folder and compute type.

    The first caller's ``cpu_threads`` and ``num_workers`` are the ones used.
    """
    path = Path(model_dir).resolve()
    key = (str(path), compute_type)
    with _models_lock:
        model = _models.get(key)
        if model is not None:
            return model
        require_model(path)
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineUnavailable(
                "faster-whisper is not installed (run scripts/bootstrap.sh)"
            ) from exc
        model = WhisperModel(
            str(path),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            local_files_only=True,
        )
        _models[key] = model
        return model


def build_prompt(hints: Hints | None, prompts: dict[str, str] | None = None) -> str | None:
    """The ``initial_prompt`` for these hints, or None when they say nothing."""
    if hints is None:
        return None
    table = PROMPTS if prompts is None else prompts
    parts: list[str] = []
    if hints.expect is not None and table.get(hints.expect):
        parts.append(table[hints.expect])
    if hints.phrases:
        parts.append(", ".join(p.strip() for p in hints.phrases if p.strip()) + ".")
    prompt = " ".join(parts).strip()
    return prompt or None


def _normalise(text: str) -> str:
    return re.sub(r"[^\w.\s]", "", text.lower()).strip(" .")


@dataclass
class WhisperTranscript(Transcript):
    """A transcript with the beam's other hypotheses, best first (without ``text`` itself;
    empty after greedy decoding)."""

    alternatives: tuple[str, ...] = ()


Hypotheses = list[tuple[str, float]]  # (text, confidence), best first


class Heard(tuple[str, float | None]):
    """What ``_transcribe_sync`` returns: the ``(text, confidence)`` pair of every engine,
    carrying the beam's other hypotheses in ``alternatives``."""

    alternatives: tuple[str, ...] = ()

    @classmethod
    def of(cls, hypotheses: Hypotheses) -> Heard:
        heard = cls(hypotheses[0])
        heard.alternatives = tuple(text for text, _ in hypotheses[1:])
        return heard


@register_recognizer
class WhisperRecognizer(Recognizer):
    """faster-whisper on CPU; options mirror the config keys."""

    name = "whisper"
    sample_rate = 16000

    def __init__(
        self,
        model_dir: str | Path = DEFAULT_MODEL_DIR,
        *,
        language: str = "ru",
        beam_size: int = 1,
        temperature: float = 0.0,
        compute_type: str = "int8",
        cpu_threads: int = 1,
        num_workers: int = 2,
        use_prompt: bool = True,
        prompts: dict[str, str] | None = None,
        beam_sizes: dict[str, int] | None = None,
        max_tokens_per_second: float | None = 15.0,
        drop_hallucinations: bool = True,
        window_s: float | None = 10.0,
        busy_beam_size: int | None = 1,
        processes: int = 0,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(executor=executor)
        if processes < 0:
            raise ValueError(f"whisper: processes must be 0 or more, got {processes}")
        self.model_dir = Path(model_dir)
        self.language = language
        self.beam_size = beam_size
        self.temperature = temperature
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers
        self.use_prompt = use_prompt
        self.prompts = {**DEFAULT_PROMPTS, **(prompts or {})}
        self.beam_sizes = {**DEFAULT_BEAM_SIZES, **(beam_sizes or {})}
        self.max_tokens_per_second = max_tokens_per_second
        self.drop_hallucinations = drop_hallucinations
        self.window_s = window_s
        # the beam when every speech worker already has a job: a beam search costs two to
        # three greedy decodings, and under load the turn gap matters more (None: no change)
        self.busy_beam_size = busy_beam_size
        # decode in this many worker processes (speech.whisper_processes), 0: in this one
        self.processes = processes
        self._model: Any = None
        self._processes: WhisperProcesses | None = None

    def _settings(self) -> dict[str, Any]:
        """The keyword arguments of an in-process twin, one model replica (for a worker):
        every constructor option, as kept on this recognizer."""
        names = inspect.signature(WhisperRecognizer.__init__).parameters.keys() - _NOT_FOR_TWIN
        twin = {name: getattr(self, name) for name in sorted(names)}
        return twin | {"model_dir": str(self.model_dir), "num_workers": 1}

    def _load_sync(self) -> None:
        if self.processes:
            if self._processes is None:
                require_model(self.model_dir)
                self._processes = shared_processes(self._settings(), self.processes)
                self._processes.start()
            return
        if self._model is None:
            set_encoder_window(self.window_s)
            self._model = load_whisper_model(
                self.model_dir, self.compute_type, self.cpu_threads, self.num_workers
            )

    async def transcribe(self, audio: Audio, hints: Hints | None = None) -> WhisperTranscript:
        started = time.perf_counter()
        beam = self.busy_beam_size if pool_busy() else None
        work = self.run_in_pool(self._transcribe_beam, audio, hints, beam)
        heard = await self.within_limit(work)
        return self._transcript(heard, audio, time.perf_counter() - started)

    def transcribe_sync(self, audio: Audio, hints: Hints | None = None) -> WhisperTranscript:
        started = time.perf_counter()
        heard = self._transcribe_blocking(audio, hints)
        return self._transcript(heard, audio, time.perf_counter() - started)

    @staticmethod
    def _transcript(
        heard: tuple[str, float | None], audio: Audio, elapsed: float
    ) -> WhisperTranscript:
        text, confidence = heard
        alternatives = heard.alternatives if isinstance(heard, Heard) else ()
        return WhisperTranscript(text, confidence, audio.duration, elapsed, alternatives)

    def _transcribe_sync(self, audio: Audio, hints: Hints | None) -> tuple[str, float | None]:
        return Heard.of(self._find(audio, hints, None))

    def _find(self, audio: Audio, hints: Hints | None, beam_cap: int | None) -> Hypotheses:
        """The hypotheses of a 16 kHz phrase, here or in a worker process."""
        if self._processes is not None:
            return self._processes.hypotheses(audio, hints, beam_cap)
        return self._hypotheses(audio, hints, beam_cap)

    def _transcribe_beam(
        self, audio: Audio, hints: Hints | None, beam: int | None
    ) -> tuple[str, float | None]:
        """As ``_transcribe_blocking``, with the beam capped at ``beam`` (None: as set)."""
        if beam is None:
            return self._transcribe_blocking(audio, hints)
        self._load_sync()
        return Heard.of(self._find(audio.resample(self.sample_rate), hints, beam))

    def _hypotheses(
        self, audio: Audio, hints: Hints | None, beam_cap: int | None = None
    ) -> Hypotheses:
        prompt = build_prompt(hints, self.prompts) if self.use_prompt else None
        max_new_tokens = None
        if self.max_tokens_per_second is not None:
            budget = math.ceil(audio.duration * self.max_tokens_per_second) + 16
            max_new_tokens = min(MAX_NEW_TOKENS, budget)
        expect = hints.expect if hints is not None else None
        beam = self.beam_sizes.get(expect or "", self.beam_size)
        if beam_cap is not None:
            beam = min(beam, max(1, beam_cap))
        if beam > 1 and audio.duration < 29.0:
            found = self._beam_search(audio, prompt, beam, max_new_tokens)
        else:
            found = [self._decode(audio, prompt, beam, max_new_tokens)]
            if beam == 1 and _RUNAWAY.search(found[0][0]):
                # greedy decoding looped («8 8 8 8 …»): one beam search of this phrase
                retry = self._decode(audio, prompt, LOOP_RETRY_BEAM, max_new_tokens)
                if not _RUNAWAY.search(retry[0]):
                    found = [retry]
        best = self._clean(*found[0])
        alternatives: Hypotheses = []
        seen = {_normalise(best[0])}
        for text, confidence in found[1:]:
            key = _normalise(text)
            if key and key not in seen and not _RUNAWAY.search(text):
                seen.add(key)
                alternatives.append((text, confidence))
        return [best, *alternatives[:MAX_ALTERNATIVES]]

    def _clean(self, text: str, confidence: float) -> tuple[str, float]:
        if not text or (self.drop_hallucinations and _normalise(text) in HALLUCINATIONS):
            return "", 0.0
        # Greedy decoding can loop ("123-2-1-1-1-..."): report it as no confidence at all.
        return text, 0.0 if _RUNAWAY.search(text) else confidence

    def _decode(
        self, audio: Audio, prompt: str | None, beam: int, max_new_tokens: int | None
    ) -> tuple[str, float]:
        """One hypothesis through faster-whisper's own loop (greedy by default)."""
        segments, _info = self._model.transcribe(
            audio.float_samples(),
            language=self.language,
            beam_size=beam,
            best_of=1,
            temperature=self.temperature,  # one value: no temperature fallback
            condition_on_previous_text=False,
            initial_prompt=prompt,
            max_new_tokens=max_new_tokens,
            without_timestamps=True,
            vad_filter=False,
        )
        texts: list[str] = []
        weighted = 0.0
        tokens = 0
        for segment in segments:
            text = segment.text.strip()
            if not text:
                continue
            texts.append(text)
            n = max(1, len(segment.tokens))
            weighted += segment.avg_logprob * n
            tokens += n
        if not tokens:
            return "", 0.0
        return " ".join(texts).strip(), math.exp(weighted / tokens)

    def _beam_search(
        self, audio: Audio, prompt: str | None, beam: int, max_new_tokens: int | None
    ) -> Hypotheses:
        """The n-best list of one window (< 30 s), as faster-whisper decodes a segment."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self._model
        features = model.feature_extractor(audio.float_samples())
        content = features[:, : max(1, features.shape[-1] - 1)]
        frames = max(_window_frames, content.shape[-1])
        encoder_output = model.encode(pad_or_trim(content, frames))
        tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=self.language,
        )
        previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
        tokens = model.get_prompt(tokenizer, previous, without_timestamps=True)
        new_tokens = max_new_tokens if max_new_tokens is not None else MAX_NEW_TOKENS
        result = model.model.generate(
            encoder_output,
            [tokens],
            beam_size=beam,
            num_hypotheses=min(beam, MAX_ALTERNATIVES + 1),
            return_scores=True,
            max_length=min(model.max_length, len(tokens) + new_tokens),
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, (-1,))),
        )[0]
        found: Hypotheses = []
        for ids, score in zip(result.sequences_ids, result.scores, strict=True):
            n = len(ids)
            avg_logprob = score * n / (n + 1)  # as faster-whisper recovers it
            found.append((tokenizer.decode(ids).strip(), math.exp(avg_logprob) if n else 0.0))
        return found or [("", 0.0)]
