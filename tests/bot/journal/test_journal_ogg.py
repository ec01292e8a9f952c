"""The Ogg/Opus writer: a valid stereo file after every write (a crash keeps it), exact length
after close, the page checksum of RFC 3533, and the size per minute the README quotes."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import av
import numpy as np
import pytest

from bot.journal.ogg_opus import OggOpusWriter, ogg_crc, opus_rate

RATE = 8000


def tones(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    left = np.sin(2 * np.pi * 440 * t) * 8000
    right = np.sin(2 * np.pi * 300 * t) * 2000
    return np.stack([left, right], axis=1).astype(np.int16)


def decode(path: Path) -> tuple[np.ndarray, float | None]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus" and stream.channels == 2
        duration = container.duration / 1e6 if container.duration else None
        data = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    return data, duration


def pages(path: Path) -> list[tuple[int, int, int]]:
    """(flags, granule, sequence) of every page, checking each page's CRC."""
    raw = path.read_bytes()
    found, offset = [], 0
    while offset < len(raw):
        assert raw[offset : offset + 4] == b"OggS"
        flags, granule, _serial, sequence, crc, count = struct.unpack_from(
            "<BqIIIB", raw, offset + 5
        )
        size = 27 + count + sum(raw[offset + 27 : offset + 27 + count])
        page = bytearray(raw[offset : offset + size])
        page[22:26] = b"\0\0\0\0"
        assert ogg_crc(bytes(page)) == crc
        found.append((flags, granule, sequence))
        offset += size
    return found


def test_crc_is_the_ogg_one() -> None:
    assert ogg_crc(b"123456789") == 0x89A1897F  # CRC-32, poly 0x04c11db7, init 0, no xor


def test_a_partial_file_plays_and_the_closed_one_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "call.opus"
    writer = OggOpusWriter(path, RATE, 24000)
    audio = tones(6.0)
    for start in range(0, len(audio), 3333):  # uneven pieces, as the recorder hands them
        writer.write(audio[start : start + 3333])
        if start == 3333 * 9:
            shutil.copy(path, tmp_path / "crash.opus")  # what a SIGKILL would leave
    writer.close()
    data, duration = decode(path)
    assert duration is not None and abs(duration - 6.0) < 0.03
    assert abs(data.shape[1] / 48000 - 6.0) < 0.03
    left, right = np.abs(data[0]).mean(), np.abs(data[1]).mean()
    assert 3.0 < left / right < 5.0, "caller left (loud), bot right (quiet)"
    flags = [p[0] for p in pages(path)]
    assert flags[0] == 0x02 and flags[-1] == 0x04 and set(flags[1:-1]) <= {0}
    partial, _ = decode(tmp_path / "crash.opus")
    assert 3.5 < partial.shape[1] / 48000 < 4.5, "everything written so far is playable"
    assert all(p[0] != 0x04 for p in pages(tmp_path / "crash.opus"))


def test_size_per_minute_at_the_default_bitrate(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal((RATE * 60, 2)) * 3000).astype(np.int16)  # hard to compress
    writer = OggOpusWriter(tmp_path / "minute.opus", RATE, 24000)
    writer.write(noise)
    writer.close()
    size = (tmp_path / "minute.opus").stat().st_size
    assert 120_000 < size < 190_000, size  # ≈ 0.15 MB a minute (README «The call journal»)


@pytest.mark.parametrize(("rate", "expected"), [(8000, 8000), (16000, 16000), (11025, 12000)])
def test_opus_rates(rate: int, expected: int) -> None:
    assert opus_rate(rate) == expected


def test_an_unsupported_rate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        OggOpusWriter(tmp_path / "x.opus", 44100)
