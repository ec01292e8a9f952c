"""Russian spoken numbers to digits, as speech recognizers write them.

Recognizers give numbers in two styles: as words ("артикул сто двадцать три две штуки") or
as digits with punctuation ("Артикул 123, две штуки."). This module finds both with
hand-written tables of every gender and case form (no morphology library), so one call
on a short utterance costs a regex scan and a few dict look-ups.

* :func:`parse_cardinal` -- the whole text is one cardinal number, or ``None``.
* :func:`find_numbers` -- every number said, as maximal well-formed cardinal groups.
* :func:`dictation_runs` / :func:`join_digits` -- numbers said one after another with
  nothing but whitespace, hyphens or punctuation between them (article dictation).

Grammar of a group: ``[hundreds][tens|teens][units]``, optionally followed by a multiplier
(тысяча, миллион, миллиард) that multiplies the part before it (1 if empty), after which
the lower part may continue. A slot filled twice, units after teens, tens after units or a
multiplier not smaller than the previous one end the group and start a new one. Zero is
always a group of its own, so dictated leading zeros survive ("ноль ноль семь" ->
"0", "0", "7"). A digit run is a span of its own (leading zeros kept); a short digit run
may take a multiplier word ("5 тысяч" -> 5000). Colloquial quantities (пару, десяток,
дюжину, сотню, ...) are spans of their own and may also take a multiplier ("пару тысяч").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["NumberSpan", "dictation_runs", "find_numbers", "join_digits", "parse_cardinal"]


@dataclass(frozen=True, slots=True)
class NumberSpan:
    """One number found in a text.

    ``value`` is digits ("256"); a dictated or written leading zero is kept ("007" as
    written, or "0", "0", "7" when said as words). ``start``/``end`` are character offsets
    into the original text. ``kind`` is ``"words"``, ``"digits"`` (the span starts with a
    digit run) or ``"colloquial"`` (пару, десяток, дюжину, ...).
    """

    value: str
    start: int
    end: int
    kind: str


# Word classes. The slot numbers say which part of a three-digit group a word fills:
# hundreds = 3, tens = 2, units = 1. A word may join the group only if the highest slot it
# fills is below the lowest slot already filled.
_UNIT: Final = 0
_TEEN: Final = 1  # 10..19: fills tens and units
_TEN: Final = 2
_HUNDRED: Final = 3
_ZERO: Final = 4
_MULT: Final = 5
_COLLOQ: Final = 6

_TOP_SLOT: Final[tuple[int, ...]] = (1, 2, 2, 3)  # by class, for _UNIT.._HUNDRED
_LOW_SLOT: Final[tuple[int, ...]] = (1, 1, 2, 3)
_EMPTY: Final = 4  # "lowest filled slot" of an empty sub-group
_FULL: Final = 0  # a digit run or colloquial word: nothing more can join
_NO_LEVEL: Final = 99  # no multiplier in the group yet


def _forms(table: dict[str, tuple[int, int]], cls: int, value: int, words: str) -> None:
    for word in words.split():
        table[word] = (cls, value)


def _build_words() -> dict[str, tuple[int, int]]:
    """Every form, normalised (lowercase, ё -> е) -> (class, value or multiplier level)."""
    t: dict[str, tuple[int, int]] = {}
    _forms(t, _ZERO, 0, "ноль нуль ноля нуля нолю нулю нолем нулем ноле нуле")
    _forms(
        t,
        _UNIT,
        1,
        "один одна одно одни одного одной одному одним одном одну одною одних одними",
    )
    _forms(t, _UNIT, 2, "два две двух двум двумя")
    _forms(t, _UNIT, 3, "три трех трем тремя")
    _forms(t, _UNIT, 4, "четыре четырех четырем четырьмя")
    _forms(t, _UNIT, 5, "пять пяти пятью")
    _forms(t, _UNIT, 6, "шесть шести шестью")
    _forms(t, _UNIT, 7, "семь семи семью")
    _forms(t, _UNIT, 8, "восемь восьми восемью восьмью")
    _forms(t, _UNIT, 9, "девять девяти девятью")
    _forms(t, _TEEN, 10, "десять десяти десятью")
    teens: tuple[str, ...] = ("одиннадц", "двенадц", "тринадц", "четырнадц", "пятнадц")
    teens += ("шестнадц", "семнадц", "восемнадц", "девятнадц")
    for offset, stem in enumerate(teens, start=11):
        _forms(t, _TEEN, offset, f"{stem}ать {stem}ати {stem}атью")
    _forms(t, _TEN, 20, "двадцать двадцати двадцатью")
    _forms(t, _TEN, 30, "тридцать тридцати тридцатью")
    _forms(t, _TEN, 40, "сорок сорока")
    _forms(t, _TEN, 50, "пятьдесят пятидесяти пятьюдесятью")
    _forms(t, _TEN, 60, "шестьдесят шестидесяти шестьюдесятью")
    _forms(t, _TEN, 70, "семьдесят семидесяти семьюдесятью")
    _forms(t, _TEN, 80, "восемьдесят восьмидесяти восемьюдесятью восьмьюдесятью")
    _forms(t, _TEN, 90, "девяносто девяноста")
    _forms(t, _HUNDRED, 100, "сто ста")
    _forms(t, _HUNDRED, 200, "двести двухсот двумстам двумястами двухстах")
    _forms(t, _HUNDRED, 300, "триста трехсот тремстам тремястами трехстах")
    _forms(t, _HUNDRED, 400, "четыреста четырехсот четыремстам четырьмястами четырехстах")
    for value, nom, obl, ins in (
        (500, "пятьсот", "пят", "пятью"),
        (600, "шестьсот", "шест", "шестью"),
        (700, "семьсот", "сем", "семью"),
        (800, "восемьсот", "восьм", "восемью"),
        (900, "девятьсот", "девят", "девятью"),
    ):
        _forms(t, _HUNDRED, value, f"{nom} {obl}исот {obl}истам {ins}стами {obl}истах")
    _forms(t, _HUNDRED, 800, "восьмьюстами")
    # Multipliers: the value is the level (1 = thousand, 2 = million, 3 = billion).
    _forms(
        t,
        _MULT,
        1,
        "тысяча тысячи тысяч тысяче тысячу тысячей тысячею тысячам тысячами тысячах тыс",
    )
    _forms(
        t,
        _MULT,
        2,
        "миллион миллиона миллиону миллионом миллионе миллионы миллионов миллионам "
        "миллионами миллионах млн",
    )
    _forms(
        t,
        _MULT,
        3,
        "миллиард миллиарда миллиарду миллиардом миллиарде миллиарды миллиардов "
        "миллиардам миллиардами миллиардах млрд",
    )
    # Colloquial quantities. Left out on purpose: plural forms that mean "dozens of",
    # "hundreds of" (десятков, дюжины, сотни) and "пятка" (a heel).
    _forms(t, _COLLOQ, 2, "пара пару парой парочка парочку парочкой")
    _forms(t, _COLLOQ, 5, "пяток пятком")
    _forms(t, _COLLOQ, 6, "полдюжины")
    _forms(t, _COLLOQ, 10, "десяток десятка десятку десятком")
    _forms(t, _COLLOQ, 12, "дюжина дюжину дюжиной")
    _forms(t, _COLLOQ, 50, "полсотни")
    _forms(t, _COLLOQ, 100, "сотня сотню сотней")
    _forms(t, _COLLOQ, 500, "полтысячи")
    return t


_WORDS: Final[dict[str, tuple[int, int]]] = _build_words()
_MULTIPLIER: Final[tuple[int, ...]] = (1, 1_000, 1_000_000, 1_000_000_000)

# A token is a run of letters or a run of ASCII digits; everything else separates tokens.
_TOKEN_RE: Final = re.compile(r"[^\W\d_]+|[0-9]+")
# Between two numbers of one dictation run: whitespace, hyphens and dashes, "," and ".".
_RUN_GAP_MARKS: Final = frozenset("-\u2010\u2011\u2012\u2013\u2014,.")
_RUN_GAP_PUNCT: Final = frozenset(",.")


def _normalise(word: str) -> str:
    return word.lower().replace("ё", "е")


def _scan(text: str) -> tuple[list[NumberSpan], int, int]:
    """Spans of ``text`` plus the start of its first token and the end of its last one."""
    spans: list[NumberSpan] = []
    words = _WORDS
    first_start = last_end = -1

    active = False  # a group is open
    g_start = g_end = 0  # its character extent so far
    g_kind = "words"
    g_total = 0  # the part already multiplied (thousands, millions, ...)
    g_level = _NO_LEVEL  # level of the last multiplier in the group
    raw: str | None = None  # the group is just this digit run (keeps leading zeros)
    sub = 0  # the current three-digit sub-group
    sub_low = _EMPTY  # lowest slot filled in it
    sub_start = 0  # where it starts ...
    pre_sub_end = 0  # ... and where the group ended before it

    def flush() -> None:
        nonlocal active
        if active:
            value = raw if raw is not None else str(g_total + sub)
            spans.append(NumberSpan(value, g_start, g_end, g_kind))
            active = False

    def open_group(start: int, end: int, kind: str, total: int, level: int) -> None:
        nonlocal active, g_start, g_end, g_kind, g_total, g_level, raw
        active = True
        g_start, g_end, g_kind, g_total, g_level, raw = start, end, kind, total, level, None

    for match in _TOKEN_RE.finditer(text):
        start, end = match.span()
        token = match.group()
        if first_start < 0:
            first_start = start
        last_end = end

        if active and not (start == g_end or text[g_end:start].isspace()):
            flush()  # only whitespace may separate the words of one number

        if token[0] <= "9":  # a digit run (letters all sort above "9")
            flush()
            after_decimal_mark = (
                start >= 2 and text[start - 1] in ",." and text[start - 2].isdigit()
            )
            if len(token) > 3 or token[0] == "0" or after_decimal_mark:
                spans.append(NumberSpan(token, start, end, "digits"))
            else:  # "5" may still take a multiplier: "5 тысяч"
                open_group(start, end, "digits", 0, _NO_LEVEL)
                raw, sub, sub_low = token, int(token), _FULL
            continue

        entry = words.get(_normalise(token))
        if entry is None:
            flush()
            continue
        cls, value = entry

        if cls <= _HUNDRED:
            if active and _TOP_SLOT[cls] < sub_low:  # the slot is free: same group
                if sub_low == _EMPTY:
                    sub_start, pre_sub_end = start, g_end
                sub += value
                sub_low = _LOW_SLOT[cls]
                g_end = end
            else:
                flush()
                open_group(start, end, "words", 0, _NO_LEVEL)
                sub, sub_low, sub_start, pre_sub_end = value, _LOW_SLOT[cls], start, start
        elif cls == _MULT:
            factor = _MULTIPLIER[value]
            if active and value < g_level:  # "две тысячи", "миллион тысяча"
                g_total += (sub if sub_low != _EMPTY else 1) * factor
                g_level, g_end, raw = value, end, None
            elif active and sub_low != _EMPTY:
                # "тысяча две тысячи": the "две" belongs to the new thousand, not the old one.
                spans.append(NumberSpan(str(g_total), g_start, pre_sub_end, g_kind))
                open_group(sub_start, end, "words", sub * factor, value)
            else:  # "тысяча" alone, or "тысяча тысяча"
                flush()
                open_group(start, end, "words", factor, value)
            sub, sub_low = 0, _EMPTY
        elif cls == _ZERO:  # always a number of its own: dictated zeros are kept
            flush()
            spans.append(NumberSpan("0", start, end, "words"))
        else:  # colloquial: starts a group that only a multiplier may continue
            flush()
            open_group(start, end, "colloquial", 0, _NO_LEVEL)
            sub, sub_low = value, _FULL

    flush()
    return spans, first_start, last_end


def find_numbers(text: str) -> list[NumberSpan]:
    """Every number said in ``text``, left to right, as maximal cardinal groups.

    >>> [s.value for s in find_numbers("артикул сто двадцать три две штуки")]
    ['123', '2']
    >>> [s.value for s in find_numbers("Артикул 123, две штуки.")]
    ['123', '2']
    """
    return _scan(text)[0]


def parse_cardinal(text: str) -> int | None:
    """The whole of ``text`` as one cardinal number, or ``None``.

    Accepts every gender and case ("двухсот пятидесяти шести" -> 256), a digit run
    ("256"), a colloquial quantity ("пару" -> 2), and surrounding punctuation; anything
    else (other words, two numbers) gives ``None``.
    """
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return int(stripped)
    spans, first_start, last_end = _scan(text)
    if len(spans) != 1:
        return None
    span = spans[0]
    if span.start != first_start or span.end != last_end:
        return None  # a word that is not part of the number
    return int(span.value)


def _joins_run(gap: str) -> bool:
    """Whether two numbers separated by ``gap`` were said one after another."""
    if not all(c in _RUN_GAP_MARKS or c.isspace() for c in gap):
        return False
    # A comma or period only with whitespace: "1, 2, 3" is a run, "1,5" and "12.45" are not.
    return _RUN_GAP_PUNCT.isdisjoint(gap) or any(c.isspace() for c in gap)


def dictation_runs(text: str, spans: list[NumberSpan] | None = None) -> list[list[NumberSpan]]:
    """Group the numbers of ``text`` said one after another into runs.

    Two spans are in one run when only whitespace, hyphens, or commas/periods with
    whitespace separate them. Every span is in exactly one run; colloquial quantities
    (пару, дюжину, ...) are never dictation and always make a run of their own.
    ``spans`` defaults to :func:`find_numbers` of ``text``.

    >>> [join_digits(run) for run in dictation_runs("артикул двенадцать сорок пять")]
    ['1245']
    """
    if spans is None:
        spans = find_numbers(text)
    runs: list[list[NumberSpan]] = []
    current: list[NumberSpan] = []
    for span in spans:
        if (
            current
            and span.kind != "colloquial"
            and current[-1].kind != "colloquial"
            and _joins_run(text[current[-1].end : span.start])
        ):
            current.append(span)
            continue
        if current:
            runs.append(current)
        current = [span]
    if current:
        runs.append(current)
    return runs


def join_digits(run: list[NumberSpan]) -> str:
    """The digits of a dictation run, in order: [1, 2, 3] -> "123", [0, 0, 7] -> "007"."""
    return "".join(span.value for span in run)
