"""What is around a number in a sentence, and the form of the number that agrees with it.

Used by :func:`nlu.verbalize.verbalize` and :mod:`nlu.verbalize_dates`:

* :class:`Text` -- the sentence with its word tokens, for looking before and after a number;
* :class:`Context` -- the preposition or verb before one number and the noun or unit
  abbreviation after it, and :meth:`Context.agreement`: the case, gender and animacy the
  number takes;
* :func:`noun_candidates` -- how a number can agree with a noun (pymorphy3 parses);
* :func:`unit_words`, :func:`inflect` -- a unit noun in the form that goes with a number;
* :func:`id_token` -- the «артикул», «номер», «код» or «№» that makes a number an identifier;
* :func:`abbreviation_end` -- where an abbreviation ends, with or without its period.

Rules
-----
* Agreement: the noun after the number (adjectives in between are skipped) is parsed
  with pymorphy3 and only the parses that can go with that number are kept: for numbers
  ending in 1 (not 11) a singular noun in the number's own case; for 2-4 a genitive
  singular (the number is then nominative/accusative) or a plural in an oblique case; for
  other numbers a genitive plural (nominative/accusative, or genitive) or a plural in an
  oblique case; after a round thousand/million a genitive plural in any case. Among those
  the preposition right before the number decides («от 5 штук» -> «от пяти штук», «с 5
  штуками» -> «с пятью штуками», «в 1 штуке» -> «в одной штуке»), then a transitive verb
  right before it (accusative: «заказать 1000 штук» -> «заказать тысячу штук»), else the
  nominative; the gender comes from the noun («две штуки», «два комплекта»).
* No noun after the number: masculine, in the case the preposition before it asks for
  («с 9 до 18» -> «с девяти до восемнадцати»), else nominative (accusative after a
  transitive verb, which only matters for «тысячу»).
* Units: шт, уп, л, мл, кг, г, гр, см, мм, м, км, руб, коп, «₽», «%» are written out in
  the form that goes with the number («10 л» -> «десять литров», «3 кг» -> «три
  килограмма»); their case comes from the preposition / verb before the number. A period
  after the abbreviation is dropped unless it ends the sentence. «г» after a number
  1000-2100 is not grams but «года» (:mod:`nlu.verbalize_dates`).
* Identifier words: «артикул», «номер», «код» (any form) or «№», right before the number
  or with one genitive noun in between («номер заказа 12»).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from typing import Final

from nlu.agreement import inflect, unit_words
from nlu.agreement import number_form as _number_form
from nlu.morph import analyzer, lemma, parses
from nlu.number_words import CASES

__all__ = [
    "Candidate",
    "Context",
    "Text",
    "abbreviation_end",
    "id_token",
    "inflect",
    "noun_candidates",
    "unit_words",
]

# ---------------------------------------------------------------------------------------
# Prepositions, verbs, nouns, units.
# ---------------------------------------------------------------------------------------


def _prepositions() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    genitive = (
        "без безо у от ото до из изо из-за из-под около возле вокруг после для кроме вместо "
        "среди против ради мимо вдоль вне внутри сверх свыше более менее больше меньше "
        "порядка помимо посреди накануне"
    )
    for word in genitive.split():
        table[word] = ("gent",)
    for word in "к ко благодаря согласно вопреки навстречу".split():
        table[word] = ("datv",)
    for word in "про через сквозь".split():
        table[word] = ("accs",)
    for word in "над надо перед передо между меж".split():
        table[word] = ("ablt",)
    table.update(
        {
            "с": ("gent", "ablt"),
            "со": ("gent", "ablt"),
            "в": ("accs", "loct"),
            "во": ("accs", "loct"),
            "на": ("accs", "loct"),
            "за": ("accs", "ablt"),
            "под": ("ablt", "accs"),
            "подо": ("ablt", "accs"),
            "по": ("accs", "datv", "loct"),
            "о": ("loct", "accs"),
            "об": ("loct", "accs"),
            "обо": ("loct", "accs"),
            "при": ("loct",),
        }
    )
    return table


_PREPOSITIONS: Final = _prepositions()
_ACCUSATIVE_VERBS: Final = frozenset({"стоить", "весить", "длиться"})
_ID_WORDS: Final = frozenset({"артикул", "номер", "код"})
_CASE_ALIASES: Final[dict[str, str]] = {
    "gen1": "gent",
    "gen2": "gent",
    "acc2": "accs",
    "loc1": "loct",
    "loc2": "loct",
    "voct": "nomn",
}

_UNITS: Final[dict[str, str]] = {
    "шт": "штука",
    "уп": "упаковка",
    "л": "литр",
    "мл": "миллилитр",
    "кг": "килограмм",
    "г": "грамм",
    "гр": "грамм",
    "см": "сантиметр",
    "мм": "миллиметр",
    "м": "метр",
    "км": "километр",
    "руб": "рубль",
    "₽": "рубль",
    "коп": "копейка",
    "%": "процент",
}

Candidate = tuple[tuple[str, ...], str, bool]  # (possible cases of the number, gender, anim)


@lru_cache(maxsize=16384)
def noun_candidates(word: str, form: str) -> tuple[Candidate, ...]:
    """How a number of count ``form`` can agree with ``word``, best parse first."""
    result: list[Candidate] = []
    for p in parses(word):
        tag = p.tag
        if tag.POS != "NOUN" or tag.case is None:
            continue
        case = _CASE_ALIASES.get(str(tag.case), str(tag.case))
        plural = tag.number == "plur"
        pltm = "Pltm" in tag
        anim = tag.animacy == "anim"
        gender = str(tag.gender) if tag.gender in ("masc", "femn", "neut") else "masc"
        cases: tuple[str, ...] = ()
        if form == "decimal":  # «1,5 литра» in any case; «с 1,5 литрами» (colloquial)
            if not plural and case == "gent":
                cases = CASES
            elif plural and case in ("datv", "ablt", "loct"):
                cases = (case,)
        elif form == "one":
            if not plural or pltm:
                cases = (case,)
                gender = "plur" if pltm else gender
        elif not plural:
            if form == "few" and case == "gent":
                cases = ("nomn", "accs")  # две штуки
        elif form == "mult":  # тысяча штук, с тысячей штук: the noun is always gent plur
            if case == "gent":
                cases = ("nomn", "accs", "gent", "datv", "ablt", "loct")
        elif case in ("datv", "ablt", "loct") or (case == "accs" and anim):
            cases = (case,)  # двум штукам, пятью штуками, двух котов
        elif case == "gent":
            cases = ("gent",) if form == "few" else ("nomn", "accs", "gent")
        if cases and (cases, gender, anim) not in result:
            result.append((cases, gender, anim))
    return tuple(result)


@lru_cache(maxsize=16384)
def _word_kind(word: str) -> str:
    """``noun``, ``adj`` (may stand between a number and its noun) or ``other``."""
    found = parses(word)
    pos = found[0].tag.POS if found else None
    if pos == "NOUN":
        return "noun"
    if pos in ("ADJF", "PRTF"):
        return "adj"
    return "other"


@lru_cache(maxsize=16384)
def _governs_accusative(word: str) -> bool:
    """A transitive verb (заказать, хотите) or «стоит»: the number after it is accusative."""
    found = parses(word)
    if not found:
        return False
    tag = found[0].tag
    if tag.POS in ("VERB", "INFN") and "tran" in tag:
        return True
    return tag.POS in ("VERB", "INFN") and found[0].normal_form in _ACCUSATIVE_VERBS


@lru_cache(maxsize=16384)
def _is_id_word(word: str) -> bool:
    return word == "№" or lemma(word) in _ID_WORDS


@lru_cache(maxsize=16384)
def _is_genitive_noun(word: str) -> bool:
    return any(p.tag.POS == "NOUN" and p.tag.case == "gent" for p in parses(word))


@lru_cache(maxsize=1024)
def _unit_gender(unit_lemma: str) -> str:
    for p in analyzer().parse(unit_lemma):
        if p.tag.POS == "NOUN" and p.tag.gender in ("masc", "femn", "neut"):
            return str(p.tag.gender)
    return "masc"


# ---------------------------------------------------------------------------------------
# The sentence and what is around one number in it.
# ---------------------------------------------------------------------------------------

_TOKEN_RE: Final = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*|[№%₽]")
_DOT_KEEPS_RE: Final = re.compile(r"\.\s*(?:$|[A-ZА-ЯЁ!?\"«»)])")


class Text:
    """The sentence with its word tokens, for looking around a number."""

    __slots__ = ("lower", "starts", "text", "tokens")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
        self.lower = [t[0].lower().replace("ё", "е") for t in self.tokens]
        self.starts = [t[1] for t in self.tokens]

    def before(self, pos: int, gap_chars: str = "") -> int | None:
        """Index of the token right before ``pos`` (only whitespace and ``gap_chars`` between)."""
        i = bisect_left(self.starts, pos) - 1
        if i < 0:
            return None
        gap = self.text[self.tokens[i][2] : pos]
        if all(c.isspace() or c in gap_chars for c in gap):
            return i
        return None

    def after(self, pos: int) -> int | None:
        """Index of the token right after ``pos`` (only whitespace between, or nothing)."""
        i = bisect_left(self.starts, pos)
        if i >= len(self.tokens):
            return None
        gap = self.text[pos : self.tokens[i][1]]
        return i if gap.isspace() or not gap else None


class Context:
    """What is around one number: preposition, verb, the noun or unit after it."""

    __slots__ = ("noun", "preferred", "preposition", "unit", "unit_end")

    def __init__(self, doc: Text, start: int, end: int, n: int) -> None:
        prev = doc.before(start)
        self.preposition: str | None = None
        self.preferred: tuple[str, ...] = ("nomn",)
        if prev is not None:
            word = doc.lower[prev]
            if word in _PREPOSITIONS:
                self.preposition = word
                self.preferred = _PREPOSITIONS[word]
            elif _governs_accusative(word):
                self.preferred = ("accs", "nomn")
        self.noun: str | None = None
        self.unit: str | None = None
        self.unit_end = end
        nxt = doc.after(end)
        if nxt is None:
            return
        word = doc.lower[nxt]
        unit = _UNITS.get(word)
        if unit is not None and not (word == "г" and 1000 <= n <= 2100):
            self.unit = unit
            self.unit_end = abbreviation_end(doc.text, doc.tokens[nxt][2])  # «5 шт. в упаковке»
            return
        for _ in range(3):  # the noun, or up to two adjectives and then the noun
            kind = _word_kind(word)
            if kind == "noun":
                self.noun = word
                return
            if kind != "adj":
                return
            nxt = doc.after(doc.tokens[nxt][2])
            if nxt is None:
                return
            word = doc.lower[nxt]

    def first_case(self) -> str:
        return self.preferred[0]

    def choose(self, candidates: tuple[Candidate, ...]) -> tuple[str, str, bool] | None:
        """The candidate the preposition / verb prefers, else the most likely one."""
        for case in self.preferred:
            for cases, gender, anim in candidates:
                if case in cases:
                    return case, gender, anim and case == "accs"
        if candidates:
            cases, gender, anim = candidates[0]
            return cases[0], gender, anim and cases[0] == "accs"
        return None

    def agreement(self, n: int) -> tuple[str, str, bool]:
        """(case, gender, animate) for the number ``n``."""
        if self.unit is not None:
            return self.first_case(), _unit_gender(self.unit), False
        if self.noun is None:
            return self.first_case(), "masc", False
        choice = self.choose(noun_candidates(self.noun, _number_form(n)))
        if choice is not None:
            return choice
        fallback = noun_candidates(self.noun, "one")  # at least the gender
        return self.first_case(), fallback[0][1] if fallback else "masc", False


def abbreviation_end(text: str, end: int) -> int:
    """The end of an abbreviation at ``end``, with its period unless that ends the sentence."""
    if text.startswith(".", end) and not _DOT_KEEPS_RE.match(text, end):
        return end + 1
    return end


def id_token(doc: Text, start: int) -> int | None:
    """The token of «артикул», «номер», «код» or «№» that makes the number at ``start`` an
    identifier, right before it or with one genitive noun between («номер заказа 12»)."""
    prev = doc.before(start, ":")
    if prev is None:
        return None
    if _is_id_word(doc.lower[prev]):
        return prev
    prev2 = doc.before(doc.tokens[prev][1], ":")
    if prev2 is not None and _is_id_word(doc.lower[prev2]) and _is_genitive_noun(doc.lower[prev]):
        return prev2
    return None
