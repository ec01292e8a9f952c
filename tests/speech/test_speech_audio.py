"""Audio: samples, joining, framing, WAV I/O and resampling (numpy only)."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from speech.audio import Audio, tone
from speech.resample import StreamResampler, resample


def dominant_frequency(audio: Audio) -> float:
    x = audio.samples().astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum)) * audio.rate / x.size


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def test_samples_round_trip_and_duration() -> None:
    samples = np.array([0, 1, -1, 32767, -32768], dtype=np.int16)
    audio = Audio.from_samples(samples, 8000)
    assert audio.pcm == samples.astype("<i2").tobytes()
    assert np.array_equal(audio.samples(), samples)
    assert audio.samples().dtype == np.int16
    assert audio.duration == pytest.approx(5 / 8000)
    assert len(audio) == 5


def test_from_samples_rounds_and_clips_floats() -> None:
    audio = Audio.from_samples(np.array([0.4, 0.6, -1.6, 1e6, -1e6]), 16000)
    assert audio.samples().tolist() == [0, 1, -2, 32767, -32768]
    assert Audio.from_float([1.0, -1.0, 0.5], 16000).samples().tolist() == [32767, -32768, 16384]


def test_invalid_audio_is_rejected() -> None:
    with pytest.raises(ValueError):
        Audio(b"\x00\x00\x00", 8000)
    with pytest.raises(ValueError):
        Audio(b"", 0)


def test_add_and_concat() -> None:
    a = Audio.silence(0.1, 8000)
    b = tone(440, 0.2, 8000)
    joined = a + b
    assert joined.rate == 8000
    assert joined.duration == pytest.approx(0.3)
    with pytest.raises(ValueError):
        _ = a + Audio.silence(0.1, 16000)
    mixed = Audio.concat([a, Audio.silence(0.1, 16000), b])
    assert mixed.rate == 8000
    assert mixed.duration == pytest.approx(0.4)
    assert Audio.concat([], rate=16000).duration == 0.0


def test_silence_and_slice() -> None:
    silence = Audio.silence(0.5, 16000)
    assert silence.num_samples == 8000
    assert not silence.samples().any()
    assert silence.rms() == 0.0
    part = tone(300, 1.0, 8000).slice(0.25, 0.75)
    assert part.duration == pytest.approx(0.5)


def test_frames_have_equal_length_and_last_is_zero_padded() -> None:
    audio = Audio.from_samples(np.arange(1, 171, dtype=np.int16), 8000)  # 170 samples
    frames = list(audio.frames(10))  # 80 samples each
    assert [f.num_samples for f in frames] == [80, 80, 80]
    assert frames[0].samples()[0] == 1
    assert frames[2].samples()[:10].tolist() == list(range(161, 171))
    assert not frames[2].samples()[10:].any()
    assert list(Audio(b"", 8000).frames()) == []
    assert len(list(Audio.silence(1.0, 16000).frames(20))) == 50


def test_resample_round_trip_keeps_frequency_and_length() -> None:
    original = tone(1000, 1.0, 8000)
    up16 = original.resample(16000)
    up48 = up16.resample(48000)
    back = up48.resample(8000)
    assert (up16.num_samples, up48.num_samples, back.num_samples) == (16000, 48000, 8000)
    for audio in (up16, up48, back):
        assert dominant_frequency(audio) == pytest.approx(1000, abs=2)
    inner = slice(200, -200)
    error = back.samples()[inner].astype(np.int32) - original.samples()[inner]
    assert np.abs(error).max() < 50  # of an amplitude of 16384
    assert rms(back.samples()) == pytest.approx(rms(original.samples()), rel=0.01)


@pytest.mark.parametrize(
    ("frequency", "source_rate", "target_rate"),
    [(6000, 16000, 8000), (5000, 48000, 8000), (14000, 48000, 16000), (11000, 24000, 16000)],
)
def test_downsampling_removes_tones_above_the_new_nyquist(
    frequency: int, source_rate: int, target_rate: int
) -> None:
    loud = tone(frequency, 0.5, source_rate, amplitude=0.9)
    out = loud.resample(target_rate)
    assert out.num_samples == round(0.5 * target_rate)
    # An aliased tone would keep its energy; the low-pass leaves less than -60 dB.
    assert rms(out.samples()[100:-100]) < rms(loud.samples()) * 1e-3


def test_downsampling_keeps_tones_below_the_new_nyquist() -> None:
    out = tone(3000, 0.5, 48000).resample(8000)
    assert dominant_frequency(out) == pytest.approx(3000, abs=5)
    assert rms(out.samples()[100:-100]) == pytest.approx(16384 / np.sqrt(2), rel=0.02)


def test_resample_odd_rates_keeps_duration() -> None:
    audio = tone(500, 1.0, 22050)
    assert audio.resample(16000).num_samples == 16000
    assert audio.resample(16000).resample(22050).num_samples == 22050
    assert audio.resample(22050) is audio


@pytest.mark.parametrize(("source", "target"), [(8000, 16000), (48000, 16000), (22050, 8000)])
def test_stream_resampler_matches_one_shot(source: int, target: int) -> None:
    x = np.random.default_rng(0).normal(0, 3000, source)
    converter = StreamResampler(source, target)
    step = source // 50  # 20 ms frames
    parts = [converter.process(x[i : i + step]) for i in range(0, x.size, step)]
    parts.append(converter.flush())
    streamed = np.concatenate(parts)
    assert streamed.size == target
    assert np.allclose(streamed, resample(x, source, target))


def test_wav_round_trip(tmp_path: Path) -> None:
    audio = tone(440, 0.3, 16000)
    assert Audio.from_wav_bytes(audio.to_wav_bytes()) == audio
    path = tmp_path / "a.wav"
    audio.write_wav(path)
    assert Audio.read_wav(path) == audio


def _wav(channels: int, width: int, rate: int, frames: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def test_wav_stereo_and_other_widths_are_converted() -> None:
    left = np.array([1000, -2000, 32767], dtype="<i2")
    right = np.array([3000, -4000, 32767], dtype="<i2")
    stereo = np.stack([left, right], axis=1).reshape(-1).tobytes()
    assert Audio.from_wav_bytes(_wav(2, 2, 8000, stereo)).samples().tolist() == [
        2000,
        -3000,
        32767,
    ]
    eight_bit = bytes([128, 255, 0])
    assert Audio.from_wav_bytes(_wav(1, 1, 8000, eight_bit)).samples().tolist() == [
        0,
        127 << 8,
        -32768,
    ]
    values24 = [0x123456, -0x123456, 0x7FFFFF, -0x800000]
    raw24 = b"".join(struct.pack("<i", v)[:3] for v in values24)
    assert Audio.from_wav_bytes(_wav(1, 3, 8000, raw24)).samples().tolist() == [
        0x1234,
        -0x1235,
        32767,
        -32768,
    ]
    raw32 = np.array([0x12345678, -0x12345678], dtype="<i4").tobytes()
    assert Audio.from_wav_bytes(_wav(1, 4, 8000, raw32)).samples().tolist() == [
        0x1234,
        -0x1235,
    ]


def test_streamed_wav_with_bogus_length_is_read() -> None:
    """espeak-ng --stdout writes 0x7ffff000 as the data size: read what is there."""
    data = bytearray(_wav(1, 2, 22050, np.arange(100, dtype="<i2").tobytes()))
    data[4:8] = struct.pack("<I", 0x7FFFF024)
    data[40:44] = struct.pack("<I", 0x7FFFF000)
    audio = Audio.from_wav_bytes(bytes(data))
    assert audio.rate == 22050
    assert audio.samples().tolist() == list(range(100))


def test_not_a_wav_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="WAV"):
        Audio.from_wav_bytes(b"not a wav at all")


def test_trimmed_drops_the_silence_around_the_sound() -> None:
    rate = 8000
    sound = tone(440, 0.5, rate)
    padded = Audio.silence(0.3, rate) + sound + Audio.silence(0.4, rate)
    trimmed = padded.trimmed(lead_ms=10, tail_ms=80)
    assert trimmed.duration == pytest.approx(0.5 + 0.01 + 0.08, abs=0.005)
    assert trimmed.trimmed().pcm == trimmed.pcm, "trimming twice changes nothing"
    assert Audio.silence(0.2, rate).trimmed().duration == pytest.approx(0.2), "all silence"
