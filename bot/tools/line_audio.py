"""A synthesized phrase as a G.711 telephone line delivers it, for the benchmarks."""

from __future__ import annotations

from speech.audio import Audio
from speech.g711 import ulaw_decode, ulaw_encode

LINE_RATE = 8000
LINE_MARGIN_S = 0.3  # silence around a synthesized phrase, as around the human set's


def line_audio(audio: Audio) -> Audio:
    """What a G.711 line delivers: 8 kHz with the line before and after the voice (the
    synthesizer trims its silences; the human set has the same margins), through μ-law."""
    pad = Audio.silence(LINE_MARGIN_S, LINE_RATE)
    line = pad + audio.resample(LINE_RATE) + pad
    return Audio.from_samples(ulaw_decode(ulaw_encode(line.samples())), LINE_RATE)
