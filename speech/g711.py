"""ITU-T G.711 μ-law and A-law codecs for 16-bit PCM, with numpy lookup tables.

The arithmetic is the reference one (Sun Microsystems' public-domain ``g711.c``, which
CPython's ``audioop`` also uses): μ-law works on the top 14 bits, A-law on the top 13.
Both directions are table look-ups: decode through a 256-entry table, encode through a
65,536-entry table built once, vectorised, at import. Byte 0xFF (μ-law) and 0xD5 (A-law)
are silence.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # 14-bit magnitude limit
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)

ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5


def _ulaw_encode_values(pcm: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    value = pcm >> 2
    negative = value < 0
    mask = np.where(negative, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, magnitude, side="left").astype(np.int32)
    seg_c = np.minimum(seg, 7)
    code = (seg_c << 4) | ((magnitude >> (seg_c + 1)) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _ulaw_decode_values(codes: npt.NDArray[np.int32]) -> npt.NDArray[np.int16]:
    u = ~codes & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _alaw_encode_values(pcm: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    value = pcm >> 3
    negative = value < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -value - 1, value)
    seg = np.searchsorted(_ALAW_SEG_END, magnitude, side="left").astype(np.int32)
    seg_c = np.minimum(seg, 7)
    shift = np.where(seg_c < 2, 1, seg_c)
    code = (seg_c << 4) | ((magnitude >> shift) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _alaw_decode_values(codes: npt.NDArray[np.int32]) -> npt.NDArray[np.int16]:
    a = codes ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ALL_PCM = np.arange(-32768, 32768, dtype=np.int32)
_ALL_CODES = np.arange(256, dtype=np.int32)
# Encode tables are indexed by the sample's bit pattern as uint16 (so -1 is index 65535).
ULAW_ENCODE_TABLE: npt.NDArray[np.uint8] = np.roll(_ulaw_encode_values(_ALL_PCM), -32768)
ALAW_ENCODE_TABLE: npt.NDArray[np.uint8] = np.roll(_alaw_encode_values(_ALL_PCM), -32768)
ULAW_DECODE_TABLE: Int16Array = _ulaw_decode_values(_ALL_CODES)
ALAW_DECODE_TABLE: Int16Array = _alaw_decode_values(_ALL_CODES)
for _table in (ULAW_ENCODE_TABLE, ALAW_ENCODE_TABLE, ULAW_DECODE_TABLE, ALAW_DECODE_TABLE):
    _table.setflags(write=False)


def _as_index(samples: npt.ArrayLike) -> npt.NDArray[np.uint16]:
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        arr = np.clip(np.rint(arr), -32768, 32767).astype(np.int16)
    return arr.reshape(-1).view(np.uint16)


def _as_codes(data: bytes | bytearray | memoryview) -> npt.NDArray[np.uint8]:
    return np.frombuffer(data, dtype=np.uint8)


def ulaw_encode(samples: npt.ArrayLike) -> bytes:
    """16-bit linear samples (int16, or numbers on that scale) to μ-law bytes."""
    return ULAW_ENCODE_TABLE[_as_index(samples)].tobytes()


def ulaw_decode(data: bytes | bytearray | memoryview) -> Int16Array:
    """μ-law bytes to int16 samples."""
    return ULAW_DECODE_TABLE[_as_codes(data)]


def alaw_encode(samples: npt.ArrayLike) -> bytes:
    """16-bit linear samples (int16, or numbers on that scale) to A-law bytes."""
    return ALAW_ENCODE_TABLE[_as_index(samples)].tobytes()


def alaw_decode(data: bytes | bytearray | memoryview) -> Int16Array:
    """A-law bytes to int16 samples."""
    return ALAW_DECODE_TABLE[_as_codes(data)]
