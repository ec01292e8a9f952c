"""``Audio``: the one internal audio type — 16-bit little-endian mono PCM plus its sample rate.

Codecs (μ-law, A-law) and rate changes happen only at the edges; everything between the PBX
connectors and the speech engines passes ``Audio``. Instances are immutable.
"""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from speech.resample import resample as _resample

Int16Array = npt.NDArray[np.int16]
SAMPLE_WIDTH = 2


def to_int16(samples: npt.ArrayLike) -> Int16Array:
    """Round and clip samples on the int16 scale (float or int input) to int16."""
    arr = np.asarray(samples)
    if arr.dtype == np.int16:
        return arr.astype(np.int16, copy=False).reshape(-1)
    return np.clip(np.rint(arr), -32768, 32767).astype(np.int16).reshape(-1)


def float_to_int16(samples: npt.ArrayLike) -> Int16Array:
    """Convert float samples in [-1, 1] to int16."""
    return to_int16(np.asarray(samples, dtype=np.float64) * 32768.0)


@dataclass(frozen=True)
class Audio:
    """Mono 16-bit little-endian PCM at ``rate`` samples per second."""

    pcm: bytes
    rate: int

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError(f"sample rate must be positive, got {self.rate}")
        if len(self.pcm) % SAMPLE_WIDTH:
            raise ValueError(f"16-bit PCM needs an even number of bytes, got {len(self.pcm)}")

    # --- samples -------------------------------------------------------------------------

    def samples(self) -> Int16Array:
        """The samples as a new (writable, native-endian) int16 array."""
        return np.frombuffer(self.pcm, dtype="<i2").astype(np.int16)

    def float_samples(self) -> npt.NDArray[np.float32]:
        """The samples scaled to [-1, 1) as float32 (what most engines take)."""
        return (np.frombuffer(self.pcm, dtype="<i2").astype(np.float32)) / np.float32(32768.0)

    @classmethod
    def from_samples(cls, samples: npt.ArrayLike, rate: int) -> Audio:
        """Build from samples on the int16 scale (ints, or floats that are rounded and clipped)."""
        return cls(to_int16(samples).astype("<i2", copy=False).tobytes(), rate)

    @classmethod
    def from_float(cls, samples: npt.ArrayLike, rate: int) -> Audio:
        """Build from float samples in [-1, 1]."""
        return cls(float_to_int16(samples).astype("<i2", copy=False).tobytes(), rate)

    @classmethod
    def silence(cls, seconds: float, rate: int = 16000) -> Audio:
        return cls(bytes(SAMPLE_WIDTH * round(seconds * rate)), rate)

    @property
    def num_samples(self) -> int:
        return len(self.pcm) // SAMPLE_WIDTH

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.rate

    def __len__(self) -> int:
        return self.num_samples

    def rms(self) -> float:
        """Root mean square on the int16 scale (0 for empty audio)."""
        if not self.pcm:
            return 0.0
        x = np.frombuffer(self.pcm, dtype="<i2").astype(np.float64)
        return float(np.sqrt(np.mean(x * x)))

    # --- joining and cutting -------------------------------------------------------------

    def __add__(self, other: Audio) -> Audio:
        if not isinstance(other, Audio):
            return NotImplemented
        if other.rate != self.rate:
            raise ValueError(f"cannot join audio at {self.rate} Hz and {other.rate} Hz")
        return Audio(self.pcm + other.pcm, self.rate)

    @classmethod
    def concat(cls, parts: Iterable[Audio], rate: int | None = None) -> Audio:
        """Join parts; they are resampled to ``rate`` (default: the first part's rate)."""
        items = list(parts)
        if rate is None:
            if not items:
                raise ValueError("concat of no parts needs a rate")
            rate = items[0].rate
        return cls(b"".join(part.resample(rate).pcm for part in items), rate)

    def slice(self, start_s: float, end_s: float | None = None) -> Audio:
        """The part between two times in seconds (clamped to the audio)."""
        start = max(0, min(self.num_samples, round(start_s * self.rate)))
        end = self.num_samples if end_s is None else round(end_s * self.rate)
        end = max(start, min(self.num_samples, end))
        return Audio(self.pcm[start * SAMPLE_WIDTH : end * SAMPLE_WIDTH], self.rate)

    def trimmed(self, *, lead_ms: int = 10, tail_ms: int = 80, level: int = 300) -> Audio:
        """Without the silence around the sound: at most ``lead_ms`` before the first and
        ``tail_ms`` after the last sample louder than ``level`` (of 32767). A synthesizer's
        leading silence is heard by the caller as a longer pause before the answer."""
        samples = self.samples()
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > level)
        if not loud.size:
            return self
        first = max(0, int(loud[0]) - self.rate * lead_ms // 1000)
        last = min(samples.size, int(loud[-1]) + 1 + self.rate * tail_ms // 1000)
        if first == 0 and last == samples.size:
            return self
        return Audio(self.pcm[first * SAMPLE_WIDTH : last * SAMPLE_WIDTH], self.rate)

    def frames(self, ms: int = 20) -> Iterator[Audio]:
        """Consecutive frames of ``ms`` milliseconds; the last one is zero-padded."""
        size = self.rate * ms // 1000
        if size <= 0:
            raise ValueError(f"a {ms} ms frame at {self.rate} Hz has no samples")
        step = size * SAMPLE_WIDTH
        for offset in range(0, len(self.pcm), step):
            chunk = self.pcm[offset : offset + step]
            if len(chunk) < step:
                chunk += bytes(step - len(chunk))
            yield Audio(chunk, self.rate)

    # --- rate ----------------------------------------------------------------------------

    def resample(self, rate: int) -> Audio:
        """The same sound at another sample rate (anti-aliased; duration kept)."""
        if rate == self.rate:
            return self
        converted = _resample(np.frombuffer(self.pcm, dtype="<i2"), self.rate, rate)
        return Audio.from_samples(converted, rate)

    # --- WAV -----------------------------------------------------------------------------

    def to_wav_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(SAMPLE_WIDTH)
            out.setframerate(self.rate)
            out.writeframes(self.pcm)
        return buffer.getvalue()

    @classmethod
    def from_wav_bytes(cls, data: bytes) -> Audio:
        """Read a PCM WAV; stereo is mixed down and 8/24/32-bit samples are converted."""
        try:
            with wave.open(io.BytesIO(data), "rb") as src:
                channels = src.getnchannels()
                width = src.getsampwidth()
                rate = src.getframerate()
                # Streamed WAVs (espeak-ng --stdout) carry a bogus huge frame count:
                # read what is there.
                raw = src.readframes(src.getnframes())
        except (wave.Error, EOFError) as exc:
            raise ValueError(f"not a PCM WAV file: {exc}") from exc
        return cls._from_interleaved(raw, channels, width, rate)

    @classmethod
    def _from_interleaved(cls, raw: bytes, channels: int, width: int, rate: int) -> Audio:
        frame = channels * width
        raw = raw[: len(raw) - len(raw) % frame]
        if width == 1:
            x = (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8
        elif width == 2:
            x = np.frombuffer(raw, dtype="<i2").astype(np.int32)
        elif width == 3:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            x = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8  # to the top of an int32
            x = (x >> 16).astype(np.int32)  # arithmetic shift keeps the sign
        elif width == 4:
            x = np.frombuffer(raw, dtype="<i4").astype(np.int64) >> 16
        else:
            raise ValueError(f"unsupported WAV sample width: {width} bytes")
        if channels > 1:
            x = x.reshape(-1, channels).mean(axis=1)
        return cls.from_samples(x, rate)

    @classmethod
    def read_wav(cls, path: str | Path) -> Audio:
        return cls.from_wav_bytes(Path(path).read_bytes())

    def write_wav(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_wav_bytes())

    def __repr__(self) -> str:
        return f"Audio({self.duration:.3f} s at {self.rate} Hz)"


def tone(frequency: float, seconds: float, rate: int = 16000, amplitude: float = 0.5) -> Audio:
    """A sine tone (handy for tests and line checks)."""
    t = np.arange(round(seconds * rate), dtype=np.float64) / rate
    return Audio.from_float(amplitude * np.sin(2.0 * math.pi * frequency * t), rate)
