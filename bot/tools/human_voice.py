"""A real human voice for tests: Asterisk's Russian prompts, put together as a PBX says numbers.

Debian's ``asterisk-core-sounds-ru-wav`` (``scripts/apt-packages.txt``) holds one female
speaker's recordings (8 kHz, 16-bit) of «ноль» … «девятнадцать», the tens «двадцать» …
«девяносто», «сто», «тысяча», «одна», «две», «номер» and «нет». There is no «двести»,
«триста» … «девятьсот», no «две тысячи» and no «да»: a number the recordings can say whole
is 0–199 or 1000–1199 (:func:`number_words` refuses the others), longer articles are said
in pairs or digit by digit, and yes/no answers come from another voice.

:class:`PbxVoice` joins recordings as Asterisk's ``SayNumber`` / ``SayDigits`` do: each
word trimmed to its voice, 150–300 ms between the words of one number, 400–650 ms between
groups (pairs, digits), a quiet line noise under the gaps, then a μ-law round trip (what a
G.711 line does to it). Nothing is stored: audio is built when asked for.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from speech.audio import Audio
from speech.g711 import ulaw_decode, ulaw_encode

RATE = 8000
SOUND_DIRS = (
    Path("/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU"),
    Path("/usr/share/asterisk/sounds/ru"),
)
PACKAGE = "asterisk-core-sounds-ru-wav"

UNITS = [
    "ноль",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
]
TENS = {
    20: "двадцать",
    30: "тридцать",
    40: "сорок",
    50: "пятьдесят",
    60: "шестьдесят",
    70: "семьдесят",
    80: "восемьдесят",
    90: "девяносто",
}
# word ➜ recording (relative to the sounds folder, without ".wav")
FILES: dict[str, str] = {
    **{word: f"digits/{n}" for n, word in enumerate(UNITS)},
    **{word: f"digits/{n}" for n, word in TENS.items()},
    "одна": "digits/1n",
    "две": "digits/2n",
    "сто": "digits/hundred",
    "тысяча": "digits/thousand",
    "номер": "number",
    "нет": "vm-no",
}

INNER_GAP_S = (0.15, 0.30)  # between the words of one number
GROUP_GAP_S = (0.40, 0.65)  # between numbers (pairs, dictated digits); under the 0.9 s
LEAD_S = (0.25, 0.45)  # line before the caller starts
TAIL_S = 0.3
NOISE_LEVEL = 25.0  # RMS of the line noise, as under the recordings themselves
TRIM_RMS = 120.0  # 10 ms windows quieter than this at a word's edges are cut
TRIM_MARGIN_S = 0.02


class RecordingsMissing(RuntimeError):
    """The recordings are not installed."""


class Unsayable(ValueError):
    """The recordings cannot say this number whole."""


def sounds_dir(candidates: Sequence[Path] = SOUND_DIRS) -> Path:
    """The folder with the Russian recordings, or :class:`RecordingsMissing`."""
    for folder in candidates:
        if (folder / "digits" / "1.wav").is_file() and (
            folder / "digits" / "hundred.wav"
        ).is_file():
            return folder
    raise RecordingsMissing(
        f"Russian Asterisk recordings not found in {', '.join(map(str, candidates))}: "
        f"apt-get install {PACKAGE} (scripts/bootstrap.sh installs it)"
    )


def number_words(n: int, *, feminine: bool = False) -> list[str]:
    """The words of ``n`` that the recordings hold: 0–199 and 1000–1199.

    >>> number_words(142)
    ['сто', 'сорок', 'два']
    >>> number_words(1120)
    ['тысяча', 'сто', 'двадцать']
    """
    if n < 0 or (200 <= n < 1000) or n >= 1200:
        raise Unsayable(f"{n}: the recordings have no «двести» … «девятьсот» or «две тысячи»")
    words: list[str] = []
    if n >= 1000:
        words.append("тысяча")
        n -= 1000
        if n == 0:
            return words
    if n >= 100:
        words.append("сто")
        n -= 100
        if n == 0:
            return words
    if n >= 20:
        words.append(TENS[n - n % 10])
        n %= 10
        if n == 0:
            return words
    if n or not words:
        if feminine and n in (1, 2):
            words.append("одна" if n == 1 else "две")
        else:
            words.append(UNITS[n])
    return words


def sayable(n: int) -> bool:
    try:
        number_words(n)
    except Unsayable:
        return False
    return True


@lru_cache(maxsize=64)
def _recording(folder: Path, name: str) -> Audio:
    audio = Audio.read_wav(folder / f"{name}.wav").resample(RATE)
    return _trim(audio)


def _trim(audio: Audio) -> Audio:
    window = RATE // 100
    x = audio.samples().astype(np.float64)
    n = x.size // window
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(x[: n * window].reshape(n, window) ** 2, axis=1))
    loud = np.flatnonzero(rms > TRIM_RMS)
    if loud.size == 0:
        return audio
    start = max(0.0, loud[0] / 100 - TRIM_MARGIN_S)
    end = min(audio.duration, (loud[-1] + 1) / 100 + TRIM_MARGIN_S)
    return audio.slice(start, end)


class PbxVoice:
    """Says groups of words from the recordings, as a PBX plays them (see the module doc)."""

    name = "human"

    def __init__(self, folder: Path | None = None, *, seed: int = 1) -> None:
        self.folder = folder if folder is not None else sounds_dir()
        self.rng = random.Random(seed)
        self._noise = np.random.default_rng(seed)

    def word(self, word: str) -> Audio:
        try:
            name = FILES[word]
        except KeyError:
            raise Unsayable(f"no recording of «{word}»") from None
        return _recording(self.folder, name)

    def say(self, groups: Sequence[Sequence[str]]) -> Audio:
        """Groups of words (e.g. ``[["номер"], ["сто", "сорок", "два"]]``) as 8 kHz line audio."""
        parts: list[np.ndarray] = [self._gap(self.rng.uniform(*LEAD_S))]
        for g, group in enumerate(groups):
            if g:
                parts.append(self._gap(self.rng.uniform(*GROUP_GAP_S)))
            for w, word in enumerate(group):
                if w:
                    parts.append(self._gap(self.rng.uniform(*INNER_GAP_S)))
                parts.append(self.word(word).samples().astype(np.float64))
        parts.append(self._gap(TAIL_S))
        line = np.concatenate(parts)
        line = line + self._noise.normal(0.0, NOISE_LEVEL, line.size)
        clipped = np.clip(np.rint(line), -32768, 32767).astype(np.int16)
        return Audio.from_samples(ulaw_decode(ulaw_encode(clipped)), RATE)

    def _gap(self, seconds: float) -> np.ndarray:
        return np.zeros(round(seconds * RATE), dtype=np.float64)
