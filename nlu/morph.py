"""Shared Russian morphology: one pymorphy3 analyser per process, cached lemmas."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import pymorphy3

if TYPE_CHECKING:
    from pymorphy3.analyzer import Parse as MorphParse

WORD_RE = re.compile(r"[а-яёa-z]+(?:-[а-яёa-z]+)*|\d+", re.IGNORECASE)


@lru_cache(maxsize=1)
def analyzer() -> pymorphy3.MorphAnalyzer:
    """The process-wide analyser (loading the dictionaries takes ~0.3 s, do it once)."""
    return pymorphy3.MorphAnalyzer(lang="ru")


def normalize(text: str) -> str:
    """Lower-case and fold ё into е, the way recognizers and editors disagree on it."""
    return text.lower().replace("ё", "е")


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """Normal form of one lower-case word; digits and unknown words stay as they are."""
    if word.isdigit():
        return word
    return str(analyzer().parse(word)[0].normal_form).replace("ё", "е")


@lru_cache(maxsize=65536)
def parses(word: str) -> tuple[MorphParse, ...]:
    return tuple(analyzer().parse(word))


def tokens(text: str) -> list[tuple[str, int, int]]:
    """Words and digit runs of ``text`` with their offsets, normalised (see :func:`normalize`)."""
    return [(normalize(m.group()), m.start(), m.end()) for m in WORD_RE.finditer(text)]
