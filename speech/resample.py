"""Sample-rate conversion with numpy only: a polyphase windowed-sinc (Kaiser) filter.

Any pair of integer rates works (8/16/24/48 kHz, 22.05/44.1 kHz, ...). The low-pass cutoff
is set below the lower of the two Nyquist frequencies, so downsampling removes what would
alias and upsampling does not image. ``StreamResampler`` keeps its filter history between
calls, so 20 ms telephone frames resample without clicks at the frame edges; ``resample``
converts one whole signal and keeps its duration (``ceil(n * out / in)`` samples).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

ZERO_CROSSINGS = 16  # filter half-length, in zero crossings of the low-pass sinc
ROLLOFF = 0.92  # cutoff as a fraction of the lower Nyquist frequency
KAISER_BETA = 8.0  # about 80 dB stop-band attenuation
_BLOCK = 4096  # outputs computed per vectorised block (bounds the temporary arrays)


@lru_cache(maxsize=64)
def _filter_bank(up: int, down: int) -> tuple[FloatArray, int]:
    """Polyphase coefficients: row p holds the taps for an output at fractional offset p/up.

    Returns ``(bank, half)``: ``bank`` has shape ``(up, 2 * half + 1)``; tap ``j`` of row ``p``
    weighs input sample ``base + j - half`` where ``base = floor(n * down / up)``.
    """
    cutoff = ROLLOFF * min(1.0, up / down)  # relative to the input Nyquist frequency
    width = ZERO_CROSSINGS / cutoff  # window half-width in input samples
    half = math.ceil(width)
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    frac = np.arange(up, dtype=np.float64)[:, None] / up
    t = frac - offsets[None, :]
    u = np.clip(t / width, -1.0, 1.0)
    window = np.i0(KAISER_BETA * np.sqrt(1.0 - u * u)) / np.i0(KAISER_BETA)
    window[np.abs(t) >= width] = 0.0
    bank = cutoff * np.sinc(cutoff * t) * window
    bank /= bank.sum(axis=1, keepdims=True)  # unity gain at DC for every phase
    bank.setflags(write=False)
    return bank, half


class StreamResampler:
    """Stateful resampler for a stream cut into frames of any length.

    ``process`` returns the output samples that the input so far determines (the filter
    delays output by about ``ZERO_CROSSINGS`` input samples at the lower rate); ``flush``
    pads the end with zeros and returns the rest, so that all outputs add up to
    ``ceil(total_in * out_rate / in_rate)`` samples.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} and {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        g = math.gcd(in_rate, out_rate)
        self._up = out_rate // g
        self._down = in_rate // g
        self._passthrough = self._up == self._down
        if not self._passthrough:
            self._bank, self._half = _filter_bank(self._up, self._down)
        else:
            self._half = 0
        self._taps = np.arange(2 * self._half + 1, dtype=np.int64)
        self._patterns: dict[tuple[int, int], tuple[npt.NDArray[np.int64], FloatArray]] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next sample starts a new signal."""
        self._buf: FloatArray = np.zeros(self._half, dtype=np.float64)
        self._buf_start = -self._half  # absolute input index of self._buf[0]
        self._total_in = 0
        self._next_out = 0
        self._flushed = False

    def process(self, samples: npt.ArrayLike) -> FloatArray:
        """Feed input samples; returns the outputs that are complete (float64, same scale)."""
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        if self._flushed:
            raise RuntimeError("StreamResampler.process after flush; call reset() first")
        if self._passthrough:
            self._total_in += x.size
            self._next_out += x.size
            return x.copy()
        self._buf = np.concatenate((self._buf, x))
        self._total_in += x.size
        last_base = self._total_in - 1 - self._half  # the last input index fully covered
        if last_base < 0:
            return np.zeros(0, dtype=np.float64)
        end = -(-(last_base + 1) * self._up // self._down)  # ceil((last_base + 1) * up / down)
        return self._emit(end)

    def flush(self) -> FloatArray:
        """Zero-pad the end of the signal and return the remaining outputs."""
        if self._flushed:
            return np.zeros(0, dtype=np.float64)
        self._flushed = True
        end = -(-self._total_in * self._up // self._down)
        if self._passthrough:
            return np.zeros(0, dtype=np.float64)
        self._buf = np.concatenate((self._buf, np.zeros(self._half + 1, dtype=np.float64)))
        return self._emit(end)

    def _emit(self, end: int) -> FloatArray:
        start = self._next_out
        if end <= start:
            return np.zeros(0, dtype=np.float64)
        if end - start <= _BLOCK:
            out = self._emit_small(start, end)
        else:
            out = self._emit_blocks(start, end)
        self._next_out = end
        keep_from = (end * self._down) // self._up - self._half  # first input the next needs
        drop = keep_from - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start = keep_from
        return out

    def _emit_small(self, start: int, end: int) -> FloatArray:
        """One frame's outputs: the index pattern repeats every ``up`` outputs, so the taps
        and offsets of a frame size are computed once (20 ms frames cost a gather and a dot)."""
        first_base = (start * self._down) // self._up
        offsets, coef = self._pattern(end - start, start % self._up)
        index = offsets + (first_base - self._half - self._buf_start)
        return np.einsum("ij,ij->i", coef, self._buf[index])

    def _pattern(self, count: int, phase0: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
        key = (count, phase0)
        cached = self._patterns.get(key)
        if cached is None:
            n = np.arange(phase0, phase0 + count, dtype=np.int64)
            pos = n * self._down
            base = pos // self._up - (phase0 * self._down) // self._up
            offsets = base[:, None] + self._taps[None, :]
            cached = (offsets, self._bank[pos % self._up])
            if len(self._patterns) < 16:
                self._patterns[key] = cached
        return cached

    def _emit_blocks(self, start: int, end: int) -> FloatArray:
        out = np.empty(end - start, dtype=np.float64)
        for block_start in range(start, end, _BLOCK):
            n = np.arange(block_start, min(block_start + _BLOCK, end), dtype=np.int64)
            pos = n * self._down
            base = pos // self._up
            phase = pos % self._up
            index = (base - self._half - self._buf_start)[:, None] + self._taps[None, :]
            coef = self._bank[phase]
            out[block_start - start : block_start - start + n.size] = np.einsum(
                "ij,ij->i", coef, self._buf[index]
            )
        return out


def resample(samples: npt.ArrayLike, in_rate: int, out_rate: int) -> FloatArray:
    """Resample a whole signal; the result has ``ceil(len * out_rate / in_rate)`` samples."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if in_rate == out_rate:
        return x.copy()
    converter = StreamResampler(in_rate, out_rate)
    head = converter.process(x)
    return np.concatenate((head, converter.flush()))
