"""Russian spoken numbers to digits, as speech recognizers write them.

Recognizers give numbers in two styles: as words ("артикул сто двадцать три две штуки") or
as digits with punctuation ("Артикул 123, две штуки."), and often a mix ("сто 23",
"2 тысячи 500"). This module finds them with hand-written tables of every gender and case
form (:mod:`nlu.number_table`), so one call on a short utterance costs a regex scan and a
few dict look-ups.

* :func:`parse_cardinal` -- the whole text is one cardinal number, or ``None``.
* :func:`find_numbers` -- every number said, as maximal well-formed cardinal groups.
* numbers said one after another (article dictation) are grouped by :mod:`nlu.dictation`.

Grammar of a group: ``[hundreds][tens|teens][units]``, optionally followed by a multiplier
(тысяча/тыща, миллион, миллиард) that multiplies the part before it (1 if empty), after
which the lower part may continue. A slot filled twice, units after teens, tens after units
or a multiplier not smaller than the previous one end the group and start a new one. Zero is
always a group of its own, so dictated leading zeros survive ("ноль ноль семь" ->
"0", "0", "7"). A digit run is a span of its own (leading zeros kept); a short digit run
may take a multiplier word ("5 тысяч" -> 5000) and a short digit run may fill the free slots
after a scale word ("сто 23" -> 123, "тысяча 135" -> 1135, "418 тысяч 531" -> 418531).
Two words of one number are separated by whitespace or one hyphen ("тридцать-пять").

Also: «три сотни», «пять сотен» (hundreds; «сотня» alone is 100), «полторы тысячи» (1500;
«полтора» alone, «две с половиной» are ``kind="fraction"`` spans: not a whole number),
colloquial quantities (пару, десяток, дюжину, ...: spans of their own that may take a
multiplier, "пару тысяч"), misspelled and merged number words ("двадцат", "сорокпять":
:mod:`nlu.number_lexicon`; such spans are ``fixed``), and, with ``hundred_homophones``,
«стой/стоп» directly before a number read as «сто» (also ``fixed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from nlu.number_lexicon import NumberLexicon
from nlu.number_table import (
    EMPTY,
    FULL,
    HALF,
    HUNDRED,
    HUNDRED_HOMOPHONES,
    HUNDREDS_NOUN,
    LOW_SLOT,
    MULT,
    MULTIPLIER,
    NO_LEVEL,
    TEN,
    TOP_SLOT,
    WORDS,
    ZERO,
)

__all__ = ["NumberSpan", "find_numbers", "parse_cardinal"]


@dataclass(frozen=True, slots=True)
class NumberSpan:
    """One number found in a text.

    ``value`` is digits ("256"); a dictated or written leading zero is kept ("007" as
    written, or "0", "0", "7" when said as words); a ``"fraction"`` span has a decimal
    value ("1.5"). ``start``/``end`` are character offsets into the original text.
    ``kind`` is ``"words"``, ``"digits"`` (the span starts with a digit run),
    ``"colloquial"`` (пару, десяток, дюжину, ...) or ``"fraction"`` (полтора, две с
    половиной). ``fixed``: a word of it was misspelled, merged or misheard and read as the
    nearest number word.
    """

    value: str
    start: int
    end: int
    kind: str
    fixed: bool = False


_LEXICON: Final = NumberLexicon(WORDS)
# Whisper's spellings of «номер» before dictated digits («Номя 0 0 8»): one letter from «ноля»,
# but never a number.
NUMBER_LOOKALIKES: Final = frozenset({"номя", "номе", "нома", "номир", "номар"})

# A token is a run of letters or a run of ASCII digits; everything else separates tokens.
_TOKEN_RE: Final = re.compile(r"[^\W\d_]+|[0-9]+")
# Between two numbers of one dictation run: whitespace, hyphens and dashes, "," and ".".
_SENTENCE_END: Final = frozenset(".!?…")


def _normalise(word: str) -> str:
    return word.lower().replace("ё", "е")


class _Scanner:
    """One pass over the tokens of a text; :meth:`feed` adds one number word to the group."""

    def __init__(self) -> None:
        self.spans: list[NumberSpan] = []
        self.active = False  # a group is open
        self.start = self.end = 0  # its character extent so far
        self.kind = "words"
        self.total = 0  # the part already multiplied (thousands, millions, ...)
        self.level = NO_LEVEL  # level of the last multiplier in the group
        self.raw: str | None = None  # the group is just this digit run (keeps zeros)
        self.sub = 0  # the current three-digit sub-group
        self.low = EMPTY  # lowest slot filled in it
        self.sub_start = 0  # where it starts ...
        self.pre_sub_end = 0  # ... and where the group ended before it
        self.fixed = False
        self.half = False  # «с половиной» said after the group

    def flush(self) -> None:
        if not self.active:
            return
        self.active = False
        if self.kind == "fraction" or self.half:
            whole = self.total + self.sub
            value = f"{whole}.5" if self.half or whole else "1.5"
            self.spans.append(NumberSpan(value, self.start, self.end, "fraction", self.fixed))
            return
        value = self.raw if self.raw is not None else str(self.total + self.sub)
        self.spans.append(NumberSpan(value, self.start, self.end, self.kind, self.fixed))

    def open(self, start: int, end: int, kind: str, total: int = 0, level: int = NO_LEVEL) -> None:
        self.active = True
        self.start, self.end, self.kind, self.total, self.level = start, end, kind, total, level
        self.raw, self.fixed, self.half = None, False, False

    def digits(self, token: str, start: int, end: int, after_decimal_mark: bool) -> None:
        if self.active and self.raw is None and not self.half and self.kind != "fraction":
            room = 1000 if self.low == EMPTY else 10 ** (self.low - 1) if self.low else 0
            fits = token[0] != "0" and len(token) <= 3 and not after_decimal_mark
            if fits and int(token) < room:  # «сто 23», «тысяча 135», «2 тысячи 500»
                if self.low == EMPTY:
                    self.sub_start, self.pre_sub_end = start, self.end
                self.sub += int(token)
                self.low = FULL
                self.end = end
                return
        self.flush()
        if len(token) > 3 or token[0] == "0" or after_decimal_mark:
            self.spans.append(NumberSpan(token, start, end, "digits"))
        else:  # "5" may still take a multiplier: "5 тысяч"
            self.open(start, end, "digits")
            self.raw, self.sub, self.low = token, int(token), FULL

    def feed(self, cls: int, value: int, start: int, end: int, fixed: bool) -> None:
        if cls <= HUNDRED:
            if self.active and TOP_SLOT[cls] < self.low and self.kind != "fraction":
                if self.low == EMPTY:
                    self.sub_start, self.pre_sub_end = start, self.end
                self.sub += value
                self.low = LOW_SLOT[cls]
                self.end = end
            else:
                self.flush()
                self.open(start, end, "words")
                self.sub, self.low, self.sub_start, self.pre_sub_end = (
                    value,
                    LOW_SLOT[cls],
                    start,
                    start,
                )
        elif cls == MULT:
            self._multiplier(value, start, end)
        elif cls == HUNDREDS_NOUN:
            self._hundreds(value, start, end)
        elif cls == HALF:
            self.flush()
            self.open(start, end, "fraction")
            self.sub, self.low = 0, FULL
        elif cls == ZERO:  # always a number of its own: dictated zeros are kept
            self.flush()
            self.spans.append(NumberSpan("0", start, end, "words", fixed))
            return
        else:  # colloquial: starts a group that only a multiplier may continue
            self.flush()
            self.open(start, end, "colloquial")
            self.sub, self.low = value, FULL
        if fixed:
            self.fixed = True

    def _multiplier(self, level: int, start: int, end: int) -> None:
        factor = MULTIPLIER[level]
        if self.active and (self.kind == "fraction" or self.half):
            whole = (self.total + self.sub) * 2 + 1 if self.half else 3  # 1.5 = 3 halves
            self.total, self.sub, self.low = whole * factor // 2, 0, EMPTY
            self.kind, self.half, self.level, self.end = "words", False, level, end
        elif self.active and level < self.level:  # "две тысячи", "миллион тысяча"
            self.total += (self.sub if self.low != EMPTY else 1) * factor
            self.level, self.end, self.raw = level, end, None
            self.sub, self.low = 0, EMPTY
        elif self.active and self.low == EMPTY and self.total < factor:
            self.total *= factor  # «тысяча миллионов», «сто тысяч миллионов»
            self.level, self.end = level, end
        elif self.active and self.low != EMPTY:
            # "тысяча две тысячи": the "две" belongs to the new thousand, not the old one.
            self.spans.append(NumberSpan(str(self.total), self.start, self.pre_sub_end, self.kind))
            sub = self.sub
            self.open(self.sub_start, end, "words", sub * factor, level)
            self.sub, self.low = 0, EMPTY
        else:  # "тысяча" alone, or "тысяча тысяча"
            self.flush()
            self.open(start, end, "words", factor, level)
            self.sub, self.low = 0, EMPTY

    def _hundreds(self, form: int, start: int, end: int) -> None:
        if self.active and self.kind == "fraction":  # «полторы сотни»
            self.kind, self.sub, self.low, self.end = "words", 150, 2, end
        elif (
            self.active
            and 0 < self.sub < 10
            and (self.low == 1 or (self.low == FULL and self.total == 0))
        ):  # «три сотни», «5 сотен», «пару сотен»
            self.sub, self.low, self.raw, self.end = self.sub * 100, 3, None, end
            if self.kind == "colloquial":
                self.kind = "words"
        elif form == 1:  # «сотня», «сотню»: a hundred
            self.flush()
            self.open(start, end, "colloquial")
            self.sub, self.low = 100, FULL
        else:  # «сотни» alone: "hundreds of", not a number
            self.flush()


def _scan(text: str, hundred_homophones: bool = False) -> tuple[list[NumberSpan], int, int]:
    """Spans of ``text`` plus the start of its first token and the end of its last one."""
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN_RE.finditer(text)]
    if not tokens:
        return [], -1, -1
    entries, fixed = _resolve(text, tokens, hundred_homophones)
    scan = _Scanner()
    prev_word = False
    skip = 0
    for i, (start, end, token) in enumerate(tokens):
        if skip:
            skip -= 1
            continue
        is_word = token[0] > "9"  # letters all sort above "9"
        gap = text[scan.end : start]
        if scan.active and not (
            gap == "" or gap.isspace() or (gap == "-" and is_word and prev_word)
        ):
            scan.flush()  # only whitespace (or a hyphen between words) inside one number
        prev_word = is_word
        if not is_word:
            after_mark = start >= 2 and text[start - 1] in ",." and text[start - 2].isdigit()
            scan.digits(token, start, end, after_mark)
            continue
        if scan.active and _normalise(token) == "с" and _half_follows(tokens, i, text):
            scan.half, scan.end, skip = True, tokens[i + 1][1], 1  # «две с половиной»
            continue
        found = entries[i]
        if not found:
            scan.flush()
            continue
        for cls, value in found:
            scan.feed(cls, value, start, end, fixed[i])
    scan.flush()
    return scan.spans, tokens[0][0], tokens[-1][1]


Tokens = list[tuple[int, int, str]]


def _resolve(
    text: str, tokens: Tokens, hundred_homophones: bool
) -> tuple[list[tuple[tuple[int, int], ...]], list[bool]]:
    """The number word(s) each token stands for (``()``: none) and whether it was fixed.

    Exact forms first; then unknown tokens through the lexicon, a few passes, so that a
    token next to a number (exact or already fixed) may be fixed more boldly."""
    entries: list[tuple[tuple[int, int], ...]] = []
    unknown: list[int] = []
    for i, (_, _, token) in enumerate(tokens):
        if token[0] <= "9":
            entries.append(())
            continue
        entry = WORDS.get(_normalise(token))
        entries.append((entry,) if entry is not None else ())
        if entry is None and len(token) >= 3:
            unknown.append(i)
    fixed = [False] * len(tokens)
    if not unknown:
        return entries, fixed

    def is_number(j: int, gap_from: int, gap_to: int) -> bool:
        if not 0 <= j < len(tokens) or not text[gap_from:gap_to].isspace():
            return False
        return tokens[j][2][0] <= "9" or bool(entries[j])

    for _ in range(3):
        changed = False
        for i in unknown:
            if entries[i]:
                continue
            start, end, token = tokens[i]
            after = is_number(i + 1, end, tokens[i + 1][0]) if i + 1 < len(tokens) else False
            before = is_number(i - 1, tokens[i - 1][1], start) if i else False
            words = _fix(text, tokens, i, before or after, hundred_homophones)
            if words:
                entries[i] = tuple(WORDS[w] for w in words)
                fixed[i] = changed = True
        if not changed:
            break
    return entries, fixed


def _half_follows(tokens: Tokens, i: int, text: str) -> bool:
    if i + 1 >= len(tokens):
        return False
    start, _, token = tokens[i + 1]
    return _normalise(token) == "половиной" and text[tokens[i][1] : start].isspace()


def _fix(
    text: str, tokens: Tokens, i: int, in_context: bool, hundred_homophones: bool
) -> tuple[str, ...]:
    """Number words that an unknown token stands for (see :mod:`nlu.number_lexicon`)."""
    start, _, token = tokens[i]
    norm = _normalise(token)
    if norm in NUMBER_LOOKALIKES:
        return ()
    if hundred_homophones and norm in HUNDRED_HOMOPHONES:
        return ("сто",) if _next_fits_hundred(tokens, i, text) else ()
    if token[0].isupper() and i > 0 and not _sentence_start(text, start):
        return ()  # a capitalised word mid-sentence is a name, not a number
    return _LEXICON.fix(norm, in_context)


def _next_fits_hundred(tokens: Tokens, i: int, text: str) -> bool:
    if i + 1 >= len(tokens) or not text[tokens[i][1] : tokens[i + 1][0]].isspace():
        return False
    token = tokens[i + 1][2]
    if token[0] <= "9":
        return token[0] != "0" and len(token) <= 2
    entry = WORDS.get(_normalise(token))
    return entry is not None and entry[0] <= TEN  # units, teens, tens


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in _SENTENCE_END


def find_numbers(text: str, *, hundred_homophones: bool = False) -> list[NumberSpan]:
    """Every number said in ``text``, left to right, as maximal cardinal groups.

    ``hundred_homophones``: read «стой/стоп» right before a number as «сто» (where the
    dialog expects an article; the span is then ``fixed``).

    >>> [s.value for s in find_numbers("артикул сто двадцать три две штуки")]
    ['123', '2']
    >>> [s.value for s in find_numbers("Артикул 123, две штуки.")]
    ['123', '2']
    """
    return _scan(text, hundred_homophones)[0]


def parse_cardinal(text: str) -> int | None:
    """The whole of ``text`` as one cardinal number, or ``None``.

    Accepts every gender and case ("двухсот пятидесяти шести" -> 256), a digit run
    ("256"), a colloquial quantity ("пару" -> 2), and surrounding punctuation; anything
    else (other words, two numbers, «полтора») gives ``None``.
    """
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return int(stripped)
    spans, first_start, last_end = _scan(text)
    if len(spans) != 1 or spans[0].kind == "fraction":
        return None
    span = spans[0]
    if span.start != first_start or span.end != last_end:
        return None  # a word that is not part of the number
    return int(span.value)
