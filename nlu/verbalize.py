"""Numbers written as digits in a sentence to Russian words, in the right form, for TTS.

:func:`verbalize` -- every digit run of a sentence, agreeing with the noun after it. This
module finds the numbers and decides how each one is read; the rest is in

* :mod:`nlu.number_words` -- :func:`number_to_words` (a cardinal in any case and gender),
  :func:`digits_to_words` (digit by digit), :data:`CASES`, :data:`GENDERS`, all re-exported
  here, and decimal fractions;
* :mod:`nlu.verbalize_context` -- what is around a number (preposition, verb, noun, unit)
  and the case, gender and animacy the number takes from it;
* :mod:`nlu.verbalize_dates` -- dates, years and times.

Rules of :func:`verbalize`
--------------------------
Text around numbers is kept as it is; only numbers, the unit abbreviations right after them
and «№» before a number are rewritten. Multipliers are said the conversational way, without
«одна», «один» («тысяча рублей», «заказ номер тысяча двести сорок пять»).

* Identifiers: after «артикул», «номер», «код» (any form; also with one genitive noun in
  between: «номер заказа 12») or «№» (which becomes «номер»), a number starting with 0
  is read digit by digit («артикул ноль ноль семь»), any other number as a nominative
  cardinal («артикул сто двадцать три», «номер тысяча двести сорок пять»), one of 7 or
  more digits in digit groups. Any other run of two or more digits starting with 0 is
  read digit by digit as well.
* Phone-like: a run of 7 or more digits not followed by a noun, and phone numbers written
  with separators («+7 (912) 345-67-89», «8-800-555-35-35», «345-67-89») are read in
  groups (…, 3, 3, 2, 2 digits from the right; a group starting with 0 digit by digit):
  «восемь девятьсот двенадцать триста сорок пять шестьдесят семь восемьдесят девять».
* Agreement and units: a number agrees with the noun after it (adjectives in between are
  skipped) or with a unit abbreviation (шт, л, кг, руб, «₽», «%» …, written out), in the
  case the preposition or transitive verb before it asks for: «от 5 штук» -> «от пяти
  штук», «заказать 1000 штук» -> «заказать тысячу штук», «10 л» -> «десять литров»; with
  no noun after it, masculine («с 9 до 18» -> «с девяти до восемнадцати»). The details are
  in :mod:`nlu.verbalize_context`.
* A range «1-2 штуки» agrees both numbers with the noun after the second («одна-две
  штуки»).
* Decimals «1,5» / «1.5» (1-3 digits after the mark): «одна целая пять десятых»
  (hundredths, thousandths likewise); a unit after them is in the genitive singular
  («1,5 л» -> «…пять десятых литра»); with руб/₽ and two digits the reading is «… рублей
  … копеек».
* Dates, years and times: «5 мая» -> «пятого мая», «12.05.2024» -> «двенадцатого мая две
  тысячи двадцать четвёртого года», «в 2024 году» -> «в две тысячи двадцать четвёртом
  году», «10:30» -> «десять тридцать»; the details are in :mod:`nlu.verbalize_dates`.
* Thousands separated by a space, no-break or thin space («1 500 000») are one number
  (except after an identifier word: «артикул 123 456» is two).
* A preposition before a number changes for euphony: «о 1» -> «об одном», «с 100» ->
  «со ста», «к 2 мая» -> «ко второму мая».

Not handled: ordinals written with a suffix («1-й», «2-го»), «тыс.»/«млн» after a number,
collective numerals («двое суток»), agreement with a noun that does not directly follow
the number (only adjectives may stand between).
"""

from __future__ import annotations

import re
from typing import Final

from nlu.number_words import (
    CASE_INDEX,
    CASES,
    GENDERS,
    decimal_words,
    digit_groups,
    digits_to_words,
    number_to_words,
    say,
)
from nlu.verbalize_context import Context, Text, id_token, inflect, noun_candidates, unit_words
from nlu.verbalize_dates import date_or_year, verbalize_date, verbalize_time

__all__ = ["CASES", "GENDERS", "digits_to_words", "number_to_words", "verbalize"]

# ---------------------------------------------------------------------------------------
# The scanner.
# ---------------------------------------------------------------------------------------

_SEP: Final = r"[ \t\-]*"
_PHONE: Final = (
    r"(?<![\d+])(?:\+\d{1,3}|8)" + _SEP + r"\(?\d{3}\)?" + _SEP + r"\d{3}[ \-]?\d{2}[ \-]?\d{2}"
    r"(?!\d)|(?<![\d\-])\d{3}-\d{2}-\d{2}(?![\d\-])"
)
_ITEM_RE: Final = re.compile(
    rf"(?P<phone>{_PHONE})"
    r"|(?P<time>(?<![\d:])(?:[01]?\d|2[0-3]):[0-5]\d(?![\d:]))"
    r"|(?P<date>(?<![\d.,])(?:(?P<dd>0[1-9]|[12]\d|3[01]|[1-9](?=\.\d\d\.\d{4}))"
    r"\.(?P<mm>0[1-9]|1[0-2])(?:\.(?P<yyyy>\d{4}))?)(?![\d]|[.,]\d))"
    r"|(?P<dec>(?<![\d.,])(?P<whole>\d+)[,.](?P<frac>\d{1,3})(?![\d]|[.,]\d))"
    r"|(?P<grouped>(?<![\d.,])\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?!\d| \d))"
    r"|(?P<minus>(?<![^\s(])[-−])?(?P<int>\d+)",
    re.ASCII,  # only 0-9 are digits here: int() and the tables know no others
)
_RANGE_RE: Final = re.compile(r"\s*[-–—]\s*([0-9]+)(?![0-9,.:])")


def _spaced(text: str, start: int, end: int, words: str) -> str:
    """``words`` with a space added where they would touch a letter of ``text``."""
    if start > 0 and text[start - 1].isalpha():
        words = " " + words
    if end < len(text) and text[end].isalpha():
        words += " "
    return words


def _verbalize_number(
    doc: Text, start: int, end: int, n: int, *, negative: bool = False, grouped: bool = False
) -> tuple[int, int, str]:
    """A cardinal agreeing with what is around it (or a date, a year, digit groups).

    ``start`` may include a minus sign (``negative``); ``grouped``: written «1 500 000».
    """
    text = doc.text
    sign = "минус " if negative else ""
    ctx = Context(doc, start, end, n)
    if not negative:
        dated = date_or_year(doc, ctx, end, n)  # «5 мая», «в 2024 году»
        if dated is not None:
            return start, dated[0], dated[1]
    if n >= 1_000_000 and not grouped and ctx.noun is None and ctx.unit is None:
        return start, end, sign + digit_groups(str(n))
    # A range «1-2 штуки»: the first number agrees with the noun after the second.
    rng = _RANGE_RE.match(text, end)
    if rng is not None and ctx.noun is None and ctx.unit is None:
        second = int(rng.group(1))
        ctx2 = Context(doc, rng.start(1), rng.end(1), second)
        if ctx2.noun is not None or ctx2.unit is not None:
            ctx2.preferred = ctx.preferred
            case, gender, anim = ctx2.agreement(second)
            return start, end, sign + say(n, case, gender, anim)
    case, gender, anim = ctx.agreement(n)
    words = sign + say(n, case, gender, anim)
    if ctx.unit is not None:
        unit = unit_words(ctx.unit, n, CASE_INDEX[case])
        return start, ctx.unit_end, f"{words} {unit}"
    return start, end, words


def _verbalize_id(doc: Text, start: int, end: int) -> tuple[int, int, str]:
    """An identifier: «ноль ноль семь», «сто двадцать три», «номер …» for «№»."""
    digits = doc.text[start:end]
    if len(digits) > 1 and digits[0] == "0":
        words = digits_to_words(digits)
    elif len(digits) >= 7:
        words = digit_groups(digits)
    else:
        words = say(int(digits), "nomn")
    token = id_token(doc, start)
    if token is not None and doc.tokens[token][0] == "№":
        start = doc.tokens[token][1]
        words = "номер " + words
    return start, end, words


def _verbalize_int(doc: Text, m: re.Match[str]) -> tuple[int, int, str]:
    digits = m.group("int")
    start, end = m.span("int")
    if m.group("minus") is not None:
        if len(digits) > 12 or (len(digits) > 1 and digits[0] == "0"):
            return m.start(), end, "минус " + digits_to_words(digits)
        return _verbalize_number(doc, m.start(), end, int(digits), negative=True)
    if id_token(doc, start) is not None:
        return _verbalize_id(doc, start, end)
    if len(digits) > 1 and digits[0] == "0":
        return start, end, digits_to_words(digits)  # «агент 007»
    if len(digits) > 12:
        return start, end, digit_groups(digits)
    return _verbalize_number(doc, start, end, int(digits))


def _decimal(doc: Text, start: int, end: int, whole: int, fraction: str) -> tuple[int, int, str]:
    ctx = Context(doc, start, end, 2)
    case_name = ctx.first_case()
    if ctx.noun is not None:
        choice = ctx.choose(noun_candidates(ctx.noun, "decimal"))
        case_name = choice[0] if choice is not None else case_name
    ci = CASE_INDEX[case_name]
    if ctx.unit == "рубль" and len(fraction) == 2:
        case = CASES[ci]
        words = f"{say(whole, case)} {unit_words('рубль', whole, ci)}"
        kopecks = int(fraction)
        if kopecks:
            words += f" {say(kopecks, case, 'femn')} {unit_words('копейка', kopecks, ci)}"
        return start, ctx.unit_end, words
    words = decimal_words(whole, fraction, ci)
    if ctx.unit is not None:
        return start, ctx.unit_end, f"{words} {inflect(ctx.unit, False, 'gent')}"
    return start, end, words


def _verbalize_phone(m: re.Match[str]) -> tuple[int, int, str]:
    raw = m.group("phone")
    groups = re.findall(r"\d+", raw)
    words = " ".join(digit_groups(g) for g in groups)
    if raw.startswith("+"):
        words = "плюс " + words
    return m.start(), m.end(), words


def _euphony(doc: Text, start: int, pos: int, words: str) -> tuple[int, str]:
    """«о одном» -> «об одном», «с ста» -> «со ста», «к втором» -> «ко второму»."""
    i = doc.before(start)
    if i is None or doc.tokens[i][1] < pos:
        return start, words
    prep = doc.lower[i]
    if prep == "о" and words[:1] in "аоуэи":
        better = "об"
    elif prep in ("с", "к", "в") and (words.startswith("вт") or words.startswith(prep + "т")):
        better = prep + "о"  # со ста, со второго, ко второму, во второе
    else:
        return start, words
    original, tok_start, tok_end = doc.tokens[i]
    if original[0].isupper():
        better = better.capitalize()
    return tok_start, better + doc.text[tok_end:start] + words


def verbalize(text: str) -> str:
    """``text`` with every number written in words that agree with the noun after it.

    >>> verbalize("Вы хотите заказать 2 штуки?")
    'Вы хотите заказать две штуки?'
    >>> verbalize("Артикул 007, 10 л")
    'Артикул ноль ноль семь, десять литров'
    """
    if not any("0" <= c <= "9" for c in text):
        return text
    doc = Text(text)
    out: list[str] = []
    pos = 0
    while (m := _ITEM_RE.search(text, pos)) is not None:
        if m.group("phone") is not None:
            start, end, words = _verbalize_phone(m)
        elif m.group("time") is not None:
            start, end, words = verbalize_time(doc, m)
        elif m.group("date") is not None:
            date = verbalize_date(doc, m)
            if date is None:  # «12.05 кг»: a decimal
                date = _decimal(doc, m.start(), m.end(), int(m.group("dd")), m.group("mm"))
            start, end, words = date
        elif m.group("dec") is not None:
            start, end = m.span()
            start, end, words = _decimal(doc, start, end, int(m.group("whole")), m.group("frac"))
        elif m.group("grouped") is not None:
            first = re.match(r"\d+", m.group("grouped"))
            if first is not None and id_token(doc, m.start()) is not None:
                # «артикул 123 456»: not one number; the identifier ends at the space.
                start, end, words = _verbalize_id(doc, m.start(), m.start() + first.end())
            else:
                n = int(re.sub(r"\D", "", m.group("grouped")))
                start, end, words = _verbalize_number(doc, m.start(), m.end(), n, grouped=True)
        else:
            start, end, words = _verbalize_int(doc, m)
        words = _spaced(text, start, end, words)
        start, words = _euphony(doc, start, pos, words)
        out.append(text[pos:start])
        out.append(words)
        pos = end
    out.append(text[pos:])
    return "".join(out)
