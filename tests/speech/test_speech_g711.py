"""G.711 μ-law / A-law: known code points, error bounds, and CPython's audioop as a reference."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from speech import g711

ALL_SAMPLES = np.arange(-32768, 32768).astype(np.int16)
ALL_CODES = bytes(range(256))


def _audioop() -> ModuleType | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:  # removed in Python 3.13
            return None
    return audioop


def test_ulaw_known_values() -> None:
    assert g711.ulaw_decode(b"\xff\x7f\x00\x80\xfe\x7e").tolist() == [0, 0, -32124, 32124, 8, -8]
    assert g711.ulaw_encode([0, 32767, -32768, 8, -8]) == b"\xff\x80\x00\xfe\x7e"
    assert g711.ULAW_SILENCE == 0xFF


def test_alaw_known_values() -> None:
    assert g711.alaw_decode(b"\xd5\x55\xaa\x2a").tolist() == [8, -8, 32256, -32256]
    assert g711.alaw_encode([0, -1, 32767, -32768]) == b"\xd5\x55\xaa\x2a"
    assert g711.ALAW_SILENCE == 0xD5


@pytest.mark.parametrize(
    ("encode", "decode"),
    [(g711.ulaw_encode, g711.ulaw_decode), (g711.alaw_encode, g711.alaw_decode)],
)
def test_round_trip_error_is_bounded(
    encode: Callable[[np.ndarray], bytes], decode: Callable[[bytes], np.ndarray]
) -> None:
    coded = encode(ALL_SAMPLES)
    assert isinstance(coded, bytes) and len(coded) == ALL_SAMPLES.size
    back = decode(coded).astype(np.int64)
    x = ALL_SAMPLES.astype(np.int64)
    # Logarithmic quantisation: the error grows with the magnitude, at most ~1/16 of it.
    assert np.all(np.abs(back - x) <= np.abs(x) / 16 + 8)
    # Decoding is monotonic in the linear value the codes stand for.
    assert np.all(np.diff(back) >= 0)


def test_codes_survive_decode_then_encode() -> None:
    mu = g711.ulaw_encode(g711.ulaw_decode(ALL_CODES))
    assert [c for c, r in zip(ALL_CODES, mu, strict=True) if c != r] == [0x7F]  # -0 becomes +0
    assert g711.alaw_encode(g711.alaw_decode(ALL_CODES)) == ALL_CODES


def test_tables_are_read_only_and_types() -> None:
    assert g711.ulaw_decode(b"\x00").dtype == np.int16
    assert g711.alaw_decode(bytearray(b"\x00")).dtype == np.int16
    with pytest.raises(ValueError):
        g711.ULAW_DECODE_TABLE[0] = 1


def test_float_input_is_rounded_and_clipped() -> None:
    assert g711.ulaw_encode(np.array([0.2, 1e9, -1e9])) == g711.ulaw_encode([0, 32767, -32768])


def test_matches_audioop_everywhere() -> None:
    audioop = _audioop()
    if audioop is None:
        pytest.skip("audioop is not available on this Python")
    pcm = ALL_SAMPLES.astype("<i2").tobytes()
    assert g711.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(pcm, 2)
    assert g711.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(pcm, 2)
    assert g711.ulaw_decode(ALL_CODES).astype("<i2").tobytes() == audioop.ulaw2lin(ALL_CODES, 2)
    assert g711.alaw_decode(ALL_CODES).astype("<i2").tobytes() == audioop.alaw2lin(ALL_CODES, 2)
