"""First names with pymorphy3: found in an utterance, or cleaned out of a full-name field.

pymorphy3 tags first names with the grammeme ``Name``, surnames ``Surn`` and patronymics
``Patr``. :func:`clean_name` is the offline stand-in for dadata's ``clean/name``: it is
*certain* only when every word is a part of a person's name and exactly one first name is
among them («Петрова Анна Сергеевна» ➜ «Анна»; «ООО Ромашка» ➜ unsure).
"""

from __future__ import annotations

from dataclasses import dataclass

from nlu.morph import parses, tokens
from nlu.types import Entity

MIN_SCORE = 0.2


@dataclass(frozen=True, slots=True)
class CleanedName:
    first_name: str | None
    certain: bool


def _first_name(word: str) -> str | None:
    """The nominative first name if ``word``'s most likely reading is a first name."""
    options = parses(word)
    if not options or "Name" not in options[0].tag:
        return None
    best = options[0]
    if best.score < MIN_SCORE:
        return None
    return str(best.normal_form).capitalize()


def _is_name_part(word: str) -> bool:
    return any(
        p.score >= MIN_SCORE and ({"Name", "Surn", "Patr"} & p.tag.grammemes) for p in parses(word)
    )


def find_name(text: str) -> Entity | None:
    """The first first-name said in ``text`` («меня зовут Анна» ➜ Анна)."""
    for word, start, end in tokens(text):
        if len(word) < 2 or word.isdigit():
            continue
        name = _first_name(word)
        if name:
            return Entity("name", name, start, end)
    return None


def clean_name(raw: str) -> CleanedName:
    """Offline name cleaning of a shop's ``Person`` / ``Name`` field."""
    words = [w for w, _, _ in tokens(raw) if not w.isdigit()]
    if not words:
        return CleanedName(None, False)
    firsts = {n for n in (_first_name(w) for w in words) if n}
    if len(firsts) != 1:
        return CleanedName(next(iter(firsts)) if firsts else None, False)
    certain = all(_is_name_part(w) for w in words) and len(words) <= 3
    return CleanedName(firsts.pop(), certain)
