"""Dates, years and times in Russian words: ordinals and «часы минуты», for text-to-speech.

Used by :func:`nlu.verbalize.verbalize` (which finds the numbers):
:func:`date_or_year` for a number before a month name or «год»/«г.»,
:func:`verbalize_date` for «12.05.2024», :func:`verbalize_time` for «10:30».

Rules
-----
* Dates: a day 1-31 before a month name in the genitive is an ordinal: «5 мая» ->
  «пятого мая» (genitive without a preposition: «доставим пятого мая»), «к 5 мая» ->
  «к пятому мая», «на 5 мая» -> «на пятое мая»; also the first day of a range of dates
  («с 1 по 5 мая», «1-5 мая»); «12.05.2024» (and «12.05» with a two-digit day) ->
  «двенадцатого мая две тысячи двадцать четвёртого года».
* Years: 1000-2100 before a singular form of «год» or before «г.» are ordinals in that
  case: «в 2024 году» -> «в две тысячи двадцать четвёртом году», «в 2020 г.» -> «в две
  тысячи двадцатом году».
* Times «10:30» -> «десять тридцать», «18:05» -> «восемнадцать ноль пять» (the hour takes
  the preposition's case: «до 18:00» -> «до восемнадцати ноль ноль»).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from nlu.morph import parses
from nlu.number_words import (
    ABLT,
    ACCS,
    CASE_INDEX,
    DATV,
    GENT,
    LOCT,
    Row,
    digits_to_words,
    row,
    say,
)
from nlu.verbalize_context import Context, Text, abbreviation_end, noun_candidates

__all__ = ["date_or_year", "verbalize_date", "verbalize_time"]

# ---------------------------------------------------------------------------------------
# Ordinals (days of the month, years).
# ---------------------------------------------------------------------------------------

_ORDINAL_STEMS: Final[dict[int, str]] = {
    1: "перв",
    2: "втор",
    3: "трет",
    4: "четвёрт",
    5: "пят",
    6: "шест",
    7: "седьм",
    8: "восьм",
    9: "девят",
    10: "десят",
    11: "одиннадцат",
    12: "двенадцат",
    13: "тринадцат",
    14: "четырнадцат",
    15: "пятнадцат",
    16: "шестнадцат",
    17: "семнадцат",
    18: "восемнадцат",
    19: "девятнадцат",
    20: "двадцат",
    30: "тридцат",
    40: "сороков",
    50: "пятидесят",
    60: "шестидесят",
    70: "семидесят",
    80: "восьмидесят",
    90: "девяност",
}
_STRESSED_ENDING_STEMS: Final = frozenset({"втор", "шест", "седьм", "восьм", "сороков"})
_ORDINAL_ENDINGS: Final[dict[str, Row]] = {
    "masc": row("ый ого ому ый ым ом"),
    "masc-stressed": row("ой ого ому ой ым ом"),
    "masc-soft": row("ий ьего ьему ий ьим ьем"),  # третий
    "neut": row("ое ого ому ое ым ом"),
    "neut-stressed": row("ое ого ому ое ым ом"),
    "neut-soft": row("ье ьего ьему ье ьим ьем"),  # третье
}
_MONTHS_GENT_LIST: Final = (
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split()
)
_MONTHS_GENT: Final = frozenset(_MONTHS_GENT_LIST)
_YEAR_FORMS: Final = row("год года году год годом году")


@lru_cache(maxsize=4096)
def _ordinal(n: int, case: int, gender: str = "neut") -> str:
    """An ordinal 1 … 9999 (masc or neut, inanimate): «пятое», «две тысячи двадцать
    четвёртого», «тысяча девятисотого», «двухтысячный»."""
    prefix: list[str] = []
    if n % 1000 == 0:
        count = n // 1000
        stem = ("" if count == 1 else say(count, "gent")) + "тысячн"
    elif n % 100 == 0:
        if n >= 1000:
            prefix.append(say(n // 1000 * 1000, "nomn"))
        hundreds = n % 1000
        stem = "сот" if hundreds == 100 else say(hundreds, "gent")
    else:
        rest = n % 100
        if n > rest:
            prefix.append(say(n - rest, "nomn"))
        if rest not in _ORDINAL_STEMS:
            prefix.append(say(rest // 10 * 10, "nomn"))
            rest %= 10
        stem = _ORDINAL_STEMS[rest]
    kind = ""
    if stem == "трет":
        kind = "-soft"
    elif stem in _STRESSED_ENDING_STEMS:
        kind = "-stressed"
    return " ".join([*prefix, stem + _ORDINAL_ENDINGS[gender + kind][case]])


# ---------------------------------------------------------------------------------------
# Dates and years after a number, «12.05.2024», «10:30».
# ---------------------------------------------------------------------------------------

# The case of a day before a month name, by the preposition before it (none: genitive).
_DATE_CASES: Final[dict[str, int]] = {
    **{p: GENT for p in "с со до от после около кроме для из начиная вплоть".split()},
    **{p: DATV for p in "к ко".split()},
    **{p: ACCS for p in "на по в во про через за".split()},
    **{p: LOCT for p in "о об обо".split()},
    **{p: ABLT for p in "перед передо между над под".split()},
}
_YEAR_CASES: Final[dict[str, int]] = {
    **_DATE_CASES,
    **{p: LOCT for p in "в во о об обо при".split()},
}
_DATE_RANGE_RE: Final = re.compile(
    r"(?:\s*[-–—]\s*|\s+(?:по|до)\s+)\d{1,2}\s+(?:"
    + "|".join(sorted(_MONTHS_GENT))
    + r")(?![^\W\d_])",
    re.IGNORECASE,
)


def date_or_year(doc: Text, ctx: Context, end: int, n: int) -> tuple[int, str] | None:
    """The number ``n`` ending at ``end`` as a day of a month («5 мая», «к 5 мая», «с 1 по 5
    мая», «1-5 мая») or a year («2024 года», «в 2020 г.»): (end, words), else ``None``."""
    if 1 <= n <= 31 and (ctx.noun in _MONTHS_GENT or _DATE_RANGE_RE.match(doc.text, end)):
        return end, _ordinal(n, _DATE_CASES.get(ctx.preposition or "", GENT))
    return _year(doc, ctx, end, n)


def _year(doc: Text, ctx: Context, end: int, n: int) -> tuple[int, str] | None:
    """«2024 года», «в 2020 г.» as an ordinal: (end, words), or ``None`` if not a year."""
    if not 1000 <= n <= 2100:
        return None
    nxt = doc.after(end)
    if nxt is not None and doc.lower[nxt] == "г":
        case = _YEAR_CASES.get(ctx.preposition or "", GENT)
        words = f"{_ordinal(n, case, 'masc')} {_YEAR_FORMS[case]}"
        return abbreviation_end(doc.text, doc.tokens[nxt][2]), words
    if ctx.noun is None or not _is_year_noun(ctx.noun):
        return None
    choice = ctx.choose(noun_candidates(ctx.noun, "one"))
    if choice is None:
        return None
    return end, _ordinal(n, CASE_INDEX[choice[0]], "masc")


@lru_cache(maxsize=4096)
def _is_year_noun(word: str) -> bool:
    found = parses(word)
    return bool(found) and found[0].normal_form == "год" and found[0].tag.number == "sing"


def verbalize_date(doc: Text, m: re.Match[str]) -> tuple[int, int, str] | None:
    """«12.05.2024» -> «двенадцатого мая две тысячи двадцать четвёртого года»: (start, end,
    words); ``None`` for «12.05» with a noun or unit after it, which is a decimal («12.05 кг»)."""
    start, end = m.start(), m.end()
    day, month, year = m.group("dd"), m.group("mm"), m.group("yyyy")
    ctx = Context(doc, start, end, 2)
    if year is None and (ctx.noun is not None or ctx.unit is not None):
        return None  # «12.05 кг»
    case = _DATE_CASES.get(ctx.preposition or "", GENT)
    words = f"{_ordinal(int(day), case)} {_MONTHS_GENT_LIST[int(month) - 1]}"
    if year is not None:
        words += " " + _ordinal(int(year), GENT, "masc")
        nxt = doc.after(end)
        if nxt is not None and doc.lower[nxt] == "г":
            end = abbreviation_end(doc.text, doc.tokens[nxt][2])
            words += " года"
        elif nxt is None or doc.lower[nxt] != "года":
            words += " года"
    return start, end, words


def verbalize_time(doc: Text, m: re.Match[str]) -> tuple[int, int, str]:
    """«10:30» -> «десять тридцать», «18:05» -> «восемнадцать ноль пять»: (start, end, words)."""
    hours, minutes = m.group("time").split(":")
    ctx = Context(doc, m.start(), m.end(), int(hours))
    words = say(int(hours), ctx.first_case())
    if minutes[0] == "0":
        words += " " + digits_to_words(minutes)  # «ноль ноль», «ноль пять»
    else:
        words += " " + say(int(minutes), "nomn", "femn")
    return m.start(), m.end(), words
