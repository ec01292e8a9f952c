"""Stereo Opus in an Ogg file, written page by page while the call runs (RFC 7845, RFC 3533).

The encoder is libopus through PyAV (``av``, already installed for faster-whisper: its wheels
carry FFmpeg with libopus); the Ogg pages are written here, so that every :meth:`write` ends
with whole pages on disk and a crash (even SIGKILL) leaves a file that plays up to the last
page: Ogg needs no index or trailer, and players take the last page's granule position as the
length. :meth:`close` writes the last page with the end-of-stream flag and the exact length.

Why Opus: at 24 kbit/s for both channels (≈ 0.18 MB a minute) telephone speech (8 or 16 kHz)
keeps every word, a third of what MP3 needs for the same quality at these rates, and
Chromium, Firefox and Safari play ``audio/ogg; codecs=opus`` with seeking.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import numpy.typing as npt

from bot.journal.settings import OPUS_RATES

FRAME_MS = 20
GRANULE_RATE = 48000  # Ogg Opus granule positions always count 48 kHz samples
MAX_SEGMENTS = 255
VENDOR = b"ru-voice-shop-bot"


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


CRC_TABLE = _crc_table()


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04c11db7, not reflected, initial 0)."""
    crc = 0
    table = CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ byte) & 0xFF]
    return crc


def ogg_page(
    packets: list[bytes], *, serial: int, sequence: int, granule: int, flags: int = 0
) -> bytes:
    """One page holding whole ``packets`` (at most 255 lacing values in all)."""
    lacing = bytearray()
    for packet in packets:
        lacing.extend(b"\xff" * (len(packet) // 255))
        lacing.append(len(packet) % 255)
    if len(lacing) > MAX_SEGMENTS:
        raise ValueError("too many segments for one Ogg page")
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = bytearray(header + bytes(lacing) + b"".join(packets))
    struct.pack_into("<I", page, 22, ogg_crc(bytes(page)))
    return bytes(page)


def opus_rate(rate: int) -> int:
    """The Opus input rate for ``rate``: itself if Opus takes it, else the next one up."""
    return next((r for r in OPUS_RATES if r >= rate), OPUS_RATES[-1])


class OggOpusWriter:
    """``write(stereo)`` int16 samples of shape (n, 2) at ``rate``; ``close()`` at the end.

    Not thread-safe: one writer thread per file (:mod:`bot.journal.recorder`).
    """

    BOS, EOS = 0x02, 0x04

    def __init__(self, path: Path, rate: int, bitrate: int = 24000) -> None:
        if rate not in OPUS_RATES:
            raise ValueError(f"Opus takes {OPUS_RATES} Hz, not {rate}")
        self.path = path
        self.rate = rate
        self.frame = rate * FRAME_MS // 1000
        codec = av.CodecContext.create("libopus", "w")
        codec.sample_rate = rate
        codec.layout = "stereo"
        codec.format = "s16"
        codec.bit_rate = bitrate
        codec.options = {"application": "voip", "frame_duration": str(FRAME_MS)}
        codec.open()
        self._codec = codec
        head = bytes(codec.extradata or b"")
        if not head.startswith(b"OpusHead") or len(head) < 19:
            raise RuntimeError("libopus gave no OpusHead")
        self.pre_skip = struct.unpack_from("<H", head, 10)[0]
        self._serial = int.from_bytes(os.urandom(4), "little")
        self._sequence = 0
        self._granule = 0  # 48 kHz samples of every packet written so far (pre-skip included)
        self._samples_in = 0  # samples given to the encoder (the real length)
        self._pending = np.zeros((0, 2), dtype=np.int16)
        self._pts = 0
        self.bytes_written = 0
        self.closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = path.open("wb")
        tags = b"OpusTags" + struct.pack("<I", len(VENDOR)) + VENDOR + struct.pack("<I", 0)
        self._page([head], 0, self.BOS)
        self._page([tags], 0)
        self._file.flush()

    @property
    def seconds(self) -> float:
        """The length of what was given to :meth:`write`."""
        return self._samples_in / self.rate

    def write(self, stereo: npt.NDArray[np.int16]) -> None:
        """Encode ``stereo`` (shape (n, 2)); whole 20 ms frames go to disk as Ogg pages."""
        if stereo.size:
            self._pending = np.concatenate([self._pending, stereo.astype(np.int16)])
            self._samples_in += stereo.shape[0]
        whole = self._pending.shape[0] // self.frame * self.frame
        if whole == 0:
            return
        chunk, self._pending = self._pending[:whole], self._pending[whole:]
        packets: list[bytes] = []
        for start in range(0, whole, self.frame):
            packets += self._encode(chunk[start : start + self.frame])
        self._pages(packets)
        self._file.flush()

    def close(self) -> None:
        """The rest (padded to a whole frame), the encoder's tail, the end-of-stream page."""
        if self.closed:
            return
        self.closed = True
        try:
            packets: list[bytes] = []
            rest = self._pending.shape[0]
            if rest:
                pad = np.zeros((self.frame - rest, 2), dtype=np.int16)
                packets += self._encode(np.concatenate([self._pending, pad]))
            packets += self._flush_encoder()
            end = self.pre_skip + self._samples_in * GRANULE_RATE // self.rate
            self._pages(packets, last_granule=end)
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()

    # -- inside --------------------------------------------------------------------------

    def _encode(self, frame: npt.NDArray[np.int16]) -> list[bytes]:
        audio = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(frame).reshape(1, -1), format="s16", layout="stereo"
        )
        audio.sample_rate = self.rate
        audio.pts = self._pts
        self._pts += frame.shape[0]
        return [bytes(p) for p in self._codec.encode(audio)]

    def _flush_encoder(self) -> list[bytes]:
        return [bytes(p) for p in self._codec.encode(None)]

    def _pages(self, packets: list[bytes], last_granule: int | None = None) -> None:
        per_packet = self.frame * GRANULE_RATE // self.rate
        page: list[bytes] = []
        segments = 0
        for packet in packets:
            needed = len(packet) // 255 + 1
            if page and segments + needed > MAX_SEGMENTS:
                self._page(page, self._granule, 0)
                page, segments = [], 0
            page.append(packet)
            segments += needed
            self._granule += per_packet
        if last_granule is not None:
            self._granule = min(self._granule, last_granule)
            self._page(page, self._granule, self.EOS)
        elif page:
            self._page(page, self._granule, 0)

    def _page(self, packets: list[bytes], granule: int, flags: int = 0) -> None:
        data = ogg_page(
            packets, serial=self._serial, sequence=self._sequence, granule=granule, flags=flags
        )
        self._sequence += 1
        self._file.write(data)
        self.bytes_written += len(data)
