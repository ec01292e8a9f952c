"""Numbers written as digits to Russian words, in the right form, for text-to-speech.

* :func:`number_to_words` -- a cardinal in any of the six cases and three genders
  (plus ``"plur"`` for pluralia tantum: «одни сутки»), 0 … 999 999 999 999, negative with
  «минус».
* :func:`digits_to_words` -- digit by digit: "007" -> «ноль ноль семь».
* :func:`verbalize` -- every digit run of a sentence, agreeing with the noun after it.

Decisions
---------
* «одна тысяча» / «тысяча». :func:`number_to_words` says the «one» of a multiplier by
  default (1000 -> «одна тысяча», 1 000 000 -> «один миллион», 1001 -> «одна тысяча один»),
  the unambiguous reading used for amounts. ``explicit_one=False`` drops it («тысяча»,
  «миллион двести тысяч»); :func:`verbalize` uses that, the way people say it in
  conversation («тысяча рублей», «заказ номер тысяча двести сорок пять»).
* Animate accusative: for «один» (masculine, and «одни») the accusative of an animate noun
  is the genitive (вижу «одного» кота, «двадцать одного» кота), and for the numbers 2, 3, 4
  alone it is the genitive too («двух» котов); compound numbers ending in 2-4 keep the
  nominative form («двадцать два» кота), as the norm recommends. Nothing else changes.
* Forms with «ё» are written with it (трёх, четырёмстам, нолём), which is what a speech
  synthesiser needs to stress them right. 800 in the instrumental is «восьмьюстами»,
  80 «восьмьюдесятью», 8 «восемью».

Rules of :func:`verbalize`
--------------------------
Text around numbers is kept as it is; only numbers, the unit abbreviations right after them
and «№» before a number are rewritten.

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
  transitive verb, which only matters for «тысячу»). A range «1-2 штуки» agrees
  both numbers with the noun after the second («одна-две штуки»).
* Units: шт, уп, л, мл, кг, г, гр, см, мм, м, км, руб, коп, «₽», «%» are written out in
  the form that goes with the number («10 л» -> «десять литров», «3 кг» -> «три
  килограмма»); their case comes from the preposition / verb before the number. A period
  after the abbreviation is dropped unless it ends the sentence.
* Decimals «1,5» / «1.5» (1-3 digits after the mark): «одна целая пять десятых»
  (hundredths, thousandths likewise); a unit after them is in the genitive singular
  («1,5 л» -> «…пять десятых литра»); with руб/₽ and two digits the reading is «… рублей
  … копеек».
* Dates: a day 1-31 before a month name in the genitive is an ordinal: «5 мая» ->
  «пятого мая» (genitive without a preposition: «доставим пятого мая»), «к 5 мая» ->
  «к пятому мая», «на 5 мая» -> «на пятое мая»; «12.05.2024» (and «12.05» with a two-digit
  day) -> «двенадцатого мая две тысячи двадцать четвёртого года».
* Years: 1000-2100 before a singular form of «год» or before «г.» are ordinals in that
  case: «в 2024 году» -> «в две тысячи двадцать четвёртом году», «в 2020 г.» -> «в две
  тысячи двадцатом году».
* Times «10:30» -> «десять тридцать», «18:05» -> «восемнадцать ноль пять» (the hour takes
  the preposition's case: «до 18:00» -> «до восемнадцати ноль ноль»).
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
from bisect import bisect_left
from functools import lru_cache
from typing import Final

from nlu.morph import analyzer, lemma, parses

__all__ = ["CASES", "GENDERS", "digits_to_words", "number_to_words", "verbalize"]

CASES: Final[tuple[str, ...]] = ("nomn", "gent", "datv", "accs", "ablt", "loct")
GENDERS: Final[tuple[str, ...]] = ("masc", "femn", "neut", "plur")
MAX_NUMBER: Final = 999_999_999_999

_NOMN, _GENT, _DATV, _ACCS, _ABLT, _LOCT = range(6)
_CASE_INDEX: Final[dict[str, int]] = {case: i for i, case in enumerate(CASES)}

Row = tuple[str, str, str, str, str, str]


def _row(words: str) -> Row:
    """Six forms in the order of :data:`CASES`."""
    w = words.split()
    if len(w) != 6:
        raise ValueError(f"six forms expected: {words!r}")
    return (w[0], w[1], w[2], w[3], w[4], w[5])


_ZERO: Final = _row("ноль ноля нолю ноль нолём ноле")
_ONE: Final[dict[str, Row]] = {
    "masc": _row("один одного одному один одним одном"),
    "femn": _row("одна одной одной одну одной одной"),
    "neut": _row("одно одного одному одно одним одном"),
    "plur": _row("одни одних одним одни одними одних"),
}
_TWO: Final[dict[str, Row]] = {
    "masc": _row("два двух двум два двумя двух"),
    "femn": _row("две двух двум две двумя двух"),
}


def _simple_table() -> dict[int, Row]:
    t: dict[int, Row] = {
        3: _row("три трёх трём три тремя трёх"),
        4: _row("четыре четырёх четырём четыре четырьмя четырёх"),
        8: _row("восемь восьми восьми восемь восемью восьми"),
        40: _row("сорок сорока сорока сорок сорока сорока"),
        90: _row("девяносто девяноста девяноста девяносто девяноста девяноста"),
        100: _row("сто ста ста сто ста ста"),
        200: _row("двести двухсот двумстам двести двумястами двухстах"),
        300: _row("триста трёхсот трёмстам триста тремястами трёхстах"),
        400: _row("четыреста четырёхсот четырёмстам четыреста четырьмястами четырёхстах"),
    }
    # Nouns of the third declension: пять, пяти, пяти, пять, пятью, пяти.
    for value, stem in (
        (5, "пят"),
        (6, "шест"),
        (7, "сем"),
        (9, "девят"),
        (10, "десят"),
        (11, "одиннадцат"),
        (12, "двенадцат"),
        (13, "тринадцат"),
        (14, "четырнадцат"),
        (15, "пятнадцат"),
        (16, "шестнадцат"),
        (17, "семнадцат"),
        (18, "восемнадцат"),
        (19, "девятнадцат"),
        (20, "двадцат"),
        (30, "тридцат"),
    ):
        t[value] = (stem + "ь", stem + "и", stem + "и", stem + "ь", stem + "ью", stem + "и")
    for value, nom, obl, ins in (
        (50, "пятьдесят", "пят", "пятью"),
        (60, "шестьдесят", "шест", "шестью"),
        (70, "семьдесят", "сем", "семью"),
        (80, "восемьдесят", "восьм", "восьмью"),
    ):
        t[value] = (nom, f"{obl}идесяти", f"{obl}идесяти", nom, f"{ins}десятью", f"{obl}идесяти")
    for value, nom, obl, ins in (
        (500, "пятьсот", "пят", "пятью"),
        (600, "шестьсот", "шест", "шестью"),
        (700, "семьсот", "сем", "семью"),
        (800, "восемьсот", "восьм", "восьмью"),
        (900, "девятьсот", "девят", "девятью"),
    ):
        t[value] = (nom, f"{obl}исот", f"{obl}истам", nom, f"{ins}стами", f"{obl}истах")
    return t


_SIMPLE: Final[dict[int, Row]] = _simple_table()

# Multiplier nouns: (gender of the count before them, singular forms, plural forms).
_MULTIPLIERS: Final[tuple[tuple[int, str, Row, Row], ...]] = (
    (
        1_000_000_000,
        "masc",
        _row("миллиард миллиарда миллиарду миллиард миллиардом миллиарде"),
        _row("миллиарды миллиардов миллиардам миллиарды миллиардами миллиардах"),
    ),
    (
        1_000_000,
        "masc",
        _row("миллион миллиона миллиону миллион миллионом миллионе"),
        _row("миллионы миллионов миллионам миллионы миллионами миллионах"),
    ),
    (
        1_000,
        "femn",
        _row("тысяча тысячи тысяче тысячу тысячей тысяче"),
        _row("тысячи тысяч тысячам тысячи тысячами тысячах"),
    ),
)

_DIGIT_WORDS: Final = (
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
)


def _count_form(n: int) -> str:
    """How a noun agrees with ``n``: ``one`` (21), ``few`` (2-4, 22), ``many`` (5, 11, 0)."""
    if 11 <= n % 100 <= 19:
        return "many"
    last = n % 10
    if last == 1:
        return "one"
    if 2 <= last <= 4:
        return "few"
    return "many"


def _noun_form_index(form: str, case: int) -> tuple[bool, int]:
    """(plural?, case index) of a noun counted by a number of ``form`` in ``case``."""
    if case in (_NOMN, _ACCS):
        if form == "one":
            return False, case
        return form != "few", _GENT
    return form != "one", case


def _unit_word(digit: int, gender: str, case: int) -> str:
    if digit == 1:
        return _ONE[gender][case]
    if digit == 2:
        return _TWO["femn" if gender == "femn" else "masc"][case]
    return _SIMPLE[digit][case]


def _group_words(group: int, gender: str, case: int) -> list[str]:
    """Words of 1 … 999 in ``case``; ``gender`` is that of the last word (1, 2)."""
    words: list[str] = []
    hundreds, rest = divmod(group, 100)
    if hundreds:
        words.append(_SIMPLE[hundreds * 100][case])
    if 10 <= rest <= 19:
        words.append(_SIMPLE[rest][case])
    else:
        tens, units = divmod(rest, 10)
        if tens:
            words.append(_SIMPLE[tens * 10][case])
        if units:
            words.append(_unit_word(units, gender, case))
    return words


@lru_cache(maxsize=8192)
def _cardinal(n: int, gender: str, case: str, animate: bool, explicit_one: bool) -> str:
    if n < 0:
        return "минус " + _cardinal(-n, gender, case, animate, explicit_one)
    ci = _CASE_INDEX[case]
    if n == 0:
        return _ZERO[ci]
    words: list[str] = []
    for value, mult_gender, singular, plural in _MULTIPLIERS:
        group = n // value % 1000
        if not group:
            continue
        if group != 1 or explicit_one:
            words += _group_words(group, mult_gender, ci)
        is_plural, noun_case = _noun_form_index(_count_form(group), ci)
        words.append((plural if is_plural else singular)[noun_case])
    group = n % 1000
    if group:
        if animate and ci == _ACCS and n in (2, 3, 4):
            words += _group_words(group, gender, _GENT)  # вижу двух котов
        else:
            last = _group_words(group, gender, ci)
            one = group % 10 == 1 and group % 100 != 11
            if animate and ci == _ACCS and one and gender in ("masc", "plur"):
                last[-1] = _ONE[gender][_GENT]  # вижу (двадцать) одного кота
            words += last
    return " ".join(words)


def number_to_words(
    n: int,
    *,
    gender: str = "masc",
    case: str = "nomn",
    animate: bool = False,
    explicit_one: bool = True,
) -> str:
    """``n`` in Russian words.

    ``gender`` (masc, femn, neut, or plur for pluralia tantum) is that of the counted noun
    and shows on a last «один»/«два»; ``case`` is one of :data:`CASES`; ``animate`` picks
    the genitive-like accusative («одного», «двух»); ``explicit_one=False`` says «тысяча»,
    «миллион» instead of «одна тысяча», «один миллион».

    >>> number_to_words(21, gender="femn", case="accs")
    'двадцать одну'
    >>> number_to_words(256, case="gent")
    'двухсот пятидесяти шести'
    >>> number_to_words(1000)
    'одна тысяча'
    """
    if case not in _CASE_INDEX:
        raise ValueError(f"unknown case {case!r}, expected one of {CASES}")
    if gender not in GENDERS:
        raise ValueError(f"unknown gender {gender!r}, expected one of {GENDERS}")
    if abs(n) > MAX_NUMBER:
        raise ValueError(f"{n} is out of range (at most {MAX_NUMBER} in absolute value)")
    return _cardinal(int(n), gender, case, animate, explicit_one)


def digits_to_words(s: str) -> str:
    """The digits of ``s`` one by one: "007" -> «ноль ноль семь». Other characters are skipped."""
    words = [_DIGIT_WORDS[ord(c) - 48] for c in s if "0" <= c <= "9"]
    if not words:
        raise ValueError(f"no digits in {s!r}")
    return " ".join(words)


def _digit_groups(digits: str) -> str:
    """A long run in groups: 2 + 2 at the end, threes before them ("89123456789" -> 8 912 …)."""
    if len(digits) < 5:
        return _read_group(digits)
    head, tail = digits[:-4], digits[-4:]
    groups = [tail[:2], tail[2:]]
    while head:
        groups.insert(0, head[-3:])
        head = head[:-3]
    return " ".join(_read_group(g) for g in groups)


def _read_group(digits: str) -> str:
    if len(digits) > 1 and digits[0] == "0":
        return digits_to_words(digits)
    return _cardinal(int(digits), "masc", "nomn", False, False)


# ---------------------------------------------------------------------------------------
# Ordinals (days of the month) and decimal fractions.
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
    "masc": _row("ый ого ому ый ым ом"),
    "masc-stressed": _row("ой ого ому ой ым ом"),
    "masc-soft": _row("ий ьего ьему ий ьим ьем"),  # третий
    "neut": _row("ое ого ому ое ым ом"),
    "neut-stressed": _row("ое ого ому ое ым ом"),
    "neut-soft": _row("ье ьего ьему ье ьим ьем"),  # третье
}
_MONTHS_GENT_LIST: Final = (
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split()
)
_MONTHS_GENT: Final = frozenset(_MONTHS_GENT_LIST)
_YEAR_FORMS: Final = _row("год года году год годом году")


@lru_cache(maxsize=4096)
def _ordinal(n: int, case: int, gender: str = "neut") -> str:
    """An ordinal 1 … 9999 (masc or neut, inanimate): «пятое», «две тысячи двадцать
    четвёртого», «тысяча девятисотого», «двухтысячный»."""
    prefix: list[str] = []
    if n % 1000 == 0:
        count = n // 1000
        stem = ("" if count == 1 else _cardinal(count, "masc", "gent", False, False)) + "тысячн"
    elif n % 100 == 0:
        if n >= 1000:
            prefix.append(_cardinal(n // 1000 * 1000, "masc", "nomn", False, False))
        hundreds = n % 1000
        stem = "сот" if hundreds == 100 else _SIMPLE[hundreds][_GENT]
    else:
        rest = n % 100
        if n > rest:
            prefix.append(_cardinal(n - rest, "masc", "nomn", False, False))
        if rest not in _ORDINAL_STEMS:
            prefix.append(_SIMPLE[rest // 10 * 10][_NOMN])
            rest %= 10
        stem = _ORDINAL_STEMS[rest]
    kind = ""
    if stem == "трет":
        kind = "-soft"
    elif stem in _STRESSED_ENDING_STEMS:
        kind = "-stressed"
    return " ".join([*prefix, stem + _ORDINAL_ENDINGS[gender + kind][case]])


_FEM_ADJ_SINGULAR: Final = _row("ая ой ой ую ой ой")
_ADJ_PLURAL: Final = _row("ых ых ым ых ыми ых")  # after a number: «две целых», «пяти целым»
_FRACTION_STEMS: Final = ("", "десят", "сот", "тысячн")


def _fraction_adj(stem: str, count: int, case: int) -> str:
    endings = _FEM_ADJ_SINGULAR if _count_form(count) == "one" else _ADJ_PLURAL
    return stem + endings[case]


def _decimal_words(whole: int, fraction: str, case: int) -> str:
    """«одна целая пять десятых» (fraction of 1-3 digits)."""
    part = int(fraction)
    case_name = CASES[case]
    return " ".join(
        (
            _cardinal(whole, "femn", case_name, False, False),
            _fraction_adj("цел", whole, case),
            _cardinal(part, "femn", case_name, False, False),
            _fraction_adj(_FRACTION_STEMS[len(fraction)], part, case),
        )
    )


# ---------------------------------------------------------------------------------------
# Context: prepositions, verbs, nouns, units.
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
# The case of a day before a month name, by the preposition before it (none: genitive).
_DATE_CASES: Final[dict[str, int]] = {
    **{p: _GENT for p in "с со до от после около кроме для из начиная вплоть".split()},
    **{p: _DATV for p in "к ко".split()},
    **{p: _ACCS for p in "на по в во про через за".split()},
    **{p: _LOCT for p in "о об обо".split()},
    **{p: _ABLT for p in "перед передо между над под".split()},
}
_YEAR_CASES: Final[dict[str, int]] = {
    **_DATE_CASES,
    **{p: _LOCT for p in "в во о об обо при".split()},
}
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
def _candidates(word: str, form: str) -> tuple[Candidate, ...]:
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


@lru_cache(maxsize=4096)
def _inflect(noun: str, plural: bool, case: str) -> str:
    for p in analyzer().parse(noun):
        if p.tag.POS == "NOUN" and p.tag.case == "nomn" and p.tag.number == "sing":
            inflected = p.inflect({"plur" if plural else "sing", case})
            if inflected is not None:
                return str(inflected.word)
    return noun


def _unit_words(unit_lemma: str, n: int, case: int) -> str:
    form = _number_form(n)
    if form == "mult":
        return _inflect(unit_lemma, True, "gent")
    plural, noun_case = _noun_form_index(form, case)
    return _inflect(unit_lemma, plural, CASES[noun_case])


def _number_form(n: int) -> str:
    return "mult" if n >= 1000 and n % 1000 == 0 else _count_form(n)


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
_TOKEN_RE: Final = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*|[№%₽]")
_RANGE_RE: Final = re.compile(r"\s*[-–—]\s*([0-9]+)(?![0-9,.:])")
_DOT_KEEPS_RE: Final = re.compile(r"\.\s*(?:$|[A-ZА-ЯЁ!?\"«»)])")
_DATE_RANGE_RE: Final = re.compile(
    r"(?:\s*[-–—]\s*|\s+(?:по|до)\s+)\d{1,2}\s+(?:"
    + "|".join(sorted(_MONTHS_GENT))
    + r")(?![^\W\d_])",
    re.IGNORECASE,
)


class _Text:
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


class _Context:
    """What is around one number: preposition, verb, the noun or unit after it."""

    __slots__ = ("noun", "preferred", "preposition", "unit", "unit_end")

    def __init__(self, doc: _Text, start: int, end: int, n: int) -> None:
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
            self.unit_end = _abbreviation_end(doc.text, doc.tokens[nxt][2])  # «5 шт. в упаковке»
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
        choice = self.choose(_candidates(self.noun, _number_form(n)))
        if choice is not None:
            return choice
        fallback = _candidates(self.noun, "one")  # at least the gender
        return self.first_case(), fallback[0][1] if fallback else "masc", False


def _say(n: int, case: str, gender: str = "masc", animate: bool = False) -> str:
    return _cardinal(n, gender, case, animate, False)


def _spaced(text: str, start: int, end: int, words: str) -> str:
    """``words`` with a space added where they would touch a letter of ``text``."""
    if start > 0 and text[start - 1].isalpha():
        words = " " + words
    if end < len(text) and text[end].isalpha():
        words += " "
    return words


def _abbreviation_end(text: str, end: int) -> int:
    """The end of an abbreviation at ``end``, with its period unless that ends the sentence."""
    if text.startswith(".", end) and not _DOT_KEEPS_RE.match(text, end):
        return end + 1
    return end


def _year(doc: _Text, ctx: _Context, start: int, end: int, n: int) -> tuple[int, str] | None:
    """«2024 года», «в 2020 г.» as an ordinal: (end, words), or ``None`` if not a year."""
    if not 1000 <= n <= 2100:
        return None
    nxt = doc.after(end)
    if nxt is not None and doc.lower[nxt] == "г":
        case = _YEAR_CASES.get(ctx.preposition or "", _GENT)
        words = f"{_ordinal(n, case, 'masc')} {_YEAR_FORMS[case]}"
        return _abbreviation_end(doc.text, doc.tokens[nxt][2]), words
    if ctx.noun is None or not _is_year_noun(ctx.noun):
        return None
    choice = ctx.choose(_candidates(ctx.noun, "one"))
    if choice is None:
        return None
    return end, _ordinal(n, _CASE_INDEX[choice[0]], "masc")


@lru_cache(maxsize=4096)
def _is_year_noun(word: str) -> bool:
    found = parses(word)
    return bool(found) and found[0].normal_form == "год" and found[0].tag.number == "sing"


def _verbalize_number(
    doc: _Text, start: int, end: int, n: int, *, negative: bool = False, grouped: bool = False
) -> tuple[int, int, str]:
    """A cardinal agreeing with what is around it (or a date, a year, digit groups).

    ``start`` may include a minus sign (``negative``); ``grouped``: written «1 500 000».
    """
    text = doc.text
    sign = "минус " if negative else ""
    ctx = _Context(doc, start, end, n)
    if not negative:
        # A date: «5 мая», «к 5 мая», «с 1 по 5 мая», «1-5 мая».
        if 1 <= n <= 31 and (ctx.noun in _MONTHS_GENT or _DATE_RANGE_RE.match(text, end)):
            return start, end, _ordinal(n, _DATE_CASES.get(ctx.preposition or "", _GENT))
        year = _year(doc, ctx, start, end, n)
        if year is not None:
            return start, year[0], year[1]
    if n >= 1_000_000 and not grouped and ctx.noun is None and ctx.unit is None:
        return start, end, sign + _digit_groups(str(n))
    # A range «1-2 штуки»: the first number agrees with the noun after the second.
    rng = _RANGE_RE.match(text, end)
    if rng is not None and ctx.noun is None and ctx.unit is None:
        second = int(rng.group(1))
        ctx2 = _Context(doc, rng.start(1), rng.end(1), second)
        if ctx2.noun is not None or ctx2.unit is not None:
            ctx2.preferred = ctx.preferred
            case, gender, anim = ctx2.agreement(second)
            return start, end, sign + _say(n, case, gender, anim)
    case, gender, anim = ctx.agreement(n)
    words = sign + _say(n, case, gender, anim)
    if ctx.unit is not None:
        unit = _unit_words(ctx.unit, n, _CASE_INDEX[case])
        return start, ctx.unit_end, f"{words} {unit}"
    return start, end, words


def _id_token(doc: _Text, start: int) -> int | None:
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


def _verbalize_id(doc: _Text, start: int, end: int) -> tuple[int, int, str]:
    """An identifier: «ноль ноль семь», «сто двадцать три», «номер …» for «№»."""
    digits = doc.text[start:end]
    if len(digits) > 1 and digits[0] == "0":
        words = digits_to_words(digits)
    elif len(digits) >= 7:
        words = _digit_groups(digits)
    else:
        words = _say(int(digits), "nomn")
    id_token = _id_token(doc, start)
    if id_token is not None and doc.tokens[id_token][0] == "№":
        start = doc.tokens[id_token][1]
        words = "номер " + words
    return start, end, words


def _verbalize_int(doc: _Text, m: re.Match[str]) -> tuple[int, int, str]:
    digits = m.group("int")
    start, end = m.span("int")
    if m.group("minus") is not None:
        if len(digits) > 12 or (len(digits) > 1 and digits[0] == "0"):
            return m.start(), end, "минус " + digits_to_words(digits)
        return _verbalize_number(doc, m.start(), end, int(digits), negative=True)
    if _id_token(doc, start) is not None:
        return _verbalize_id(doc, start, end)
    if len(digits) > 1 and digits[0] == "0":
        return start, end, digits_to_words(digits)  # «агент 007»
    if len(digits) > 12:
        return start, end, _digit_groups(digits)
    return _verbalize_number(doc, start, end, int(digits))


def _decimal(doc: _Text, start: int, end: int, whole: int, fraction: str) -> tuple[int, int, str]:
    ctx = _Context(doc, start, end, 2)
    case_name = ctx.first_case()
    if ctx.noun is not None:
        choice = ctx.choose(_candidates(ctx.noun, "decimal"))
        case_name = choice[0] if choice is not None else case_name
    ci = _CASE_INDEX[case_name]
    if ctx.unit == "рубль" and len(fraction) == 2:
        case = CASES[ci]
        words = f"{_say(whole, case)} {_unit_words('рубль', whole, ci)}"
        kopecks = int(fraction)
        if kopecks:
            words += f" {_say(kopecks, case, 'femn')} {_unit_words('копейка', kopecks, ci)}"
        return start, ctx.unit_end, words
    words = _decimal_words(whole, fraction, ci)
    if ctx.unit is not None:
        return start, ctx.unit_end, f"{words} {_inflect(ctx.unit, False, 'gent')}"
    return start, end, words


def _verbalize_date(doc: _Text, m: re.Match[str]) -> tuple[int, int, str]:
    """«12.05.2024» -> «двенадцатого мая две тысячи двадцать четвёртого года»."""
    start, end = m.start(), m.end()
    day, month, year = m.group("dd"), m.group("mm"), m.group("yyyy")
    ctx = _Context(doc, start, end, 2)
    if year is None and (ctx.noun is not None or ctx.unit is not None):
        return _decimal(doc, start, end, int(day), month)  # «12.05 кг»
    case = _DATE_CASES.get(ctx.preposition or "", _GENT)
    words = f"{_ordinal(int(day), case)} {_MONTHS_GENT_LIST[int(month) - 1]}"
    if year is not None:
        words += " " + _ordinal(int(year), _GENT, "masc")
        nxt = doc.after(end)
        if nxt is not None and doc.lower[nxt] == "г":
            end = _abbreviation_end(doc.text, doc.tokens[nxt][2])
            words += " года"
        elif nxt is None or doc.lower[nxt] != "года":
            words += " года"
    return start, end, words


def _verbalize_time(doc: _Text, m: re.Match[str]) -> tuple[int, int, str]:
    hours, minutes = m.group("time").split(":")
    ctx = _Context(doc, m.start(), m.end(), int(hours))
    words = _say(int(hours), ctx.first_case())
    if minutes == "00":
        words += " ноль ноль"
    elif minutes[0] == "0":
        words += " ноль " + _DIGIT_WORDS[int(minutes[1])]
    else:
        words += " " + _say(int(minutes), "nomn", "femn")
    return m.start(), m.end(), words


def _verbalize_phone(m: re.Match[str]) -> tuple[int, int, str]:
    raw = m.group("phone")
    groups = re.findall(r"\d+", raw)
    words = " ".join(_digit_groups(g) if len(g) > 4 else _read_group(g) for g in groups)
    if raw.startswith("+"):
        words = "плюс " + words
    return m.start(), m.end(), words


def _euphony(doc: _Text, start: int, pos: int, words: str) -> tuple[int, str]:
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
    doc = _Text(text)
    out: list[str] = []
    pos = 0
    while (m := _ITEM_RE.search(text, pos)) is not None:
        if m.group("phone") is not None:
            start, end, words = _verbalize_phone(m)
        elif m.group("time") is not None:
            start, end, words = _verbalize_time(doc, m)
        elif m.group("date") is not None:
            start, end, words = _verbalize_date(doc, m)
        elif m.group("dec") is not None:
            start, end = m.span()
            start, end, words = _decimal(doc, start, end, int(m.group("whole")), m.group("frac"))
        elif m.group("grouped") is not None:
            first = re.match(r"\d+", m.group("grouped"))
            if first is not None and _id_token(doc, m.start()) is not None:
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
