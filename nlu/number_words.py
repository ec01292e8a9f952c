"""Numbers to Russian words: cardinals in every case and gender, digits one by one.

* :func:`number_to_words` -- a cardinal in any of the six cases and three genders
  (plus ``"plur"`` for pluralia tantum: «одни сутки»), 0 … 999 999 999 999, negative with
  «минус».
* :func:`digits_to_words` -- digit by digit: "007" -> «ноль ноль семь».

For the other ``nlu.verbalize*`` modules: :func:`say` (a cardinal the way it is said in
conversation), :func:`digit_groups` (a long run of digits in groups), :func:`decimal_words`
(«одна целая пять десятых»), the case indices (:data:`NOMN` … :data:`LOCT`,
:data:`CASE_INDEX`), the six-form rows (:data:`Row`, :func:`row`) and how a counted noun
agrees with a number (:func:`count_form`, :func:`noun_form_index`).

Decisions
---------
* «одна тысяча» / «тысяча». :func:`number_to_words` says the «one» of a multiplier by
  default (1000 -> «одна тысяча», 1 000 000 -> «один миллион», 1001 -> «одна тысяча один»),
  the unambiguous reading used for amounts. ``explicit_one=False`` drops it («тысяча»,
  «миллион двести тысяч»); :func:`say` (and so :func:`nlu.verbalize.verbalize`) uses that,
  the way people say it in conversation («тысяча рублей», «заказ номер тысяча двести сорок
  пять»).
* Animate accusative: for «один» (masculine, and «одни») the accusative of an animate noun
  is the genitive (вижу «одного» кота, «двадцать одного» кота), and for the numbers 2, 3, 4
  alone it is the genitive too («двух» котов); compound numbers ending in 2-4 keep the
  nominative form («двадцать два» кота), as the norm recommends. Nothing else changes.
* Forms with «ё» are written with it (трёх, четырёмстам, нолём), which is what a speech
  synthesiser needs to stress them right. 800 in the instrumental is «восьмьюстами»,
  80 «восьмьюдесятью», 8 «восемью».
* Decimals (:func:`decimal_words`, 1-3 digits after the mark): «одна целая пять десятых»,
  hundredths and thousandths likewise.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

__all__ = [
    "ABLT",
    "ACCS",
    "CASES",
    "CASE_INDEX",
    "DATV",
    "GENDERS",
    "GENT",
    "LOCT",
    "MAX_NUMBER",
    "NOMN",
    "Row",
    "count_form",
    "decimal_words",
    "digit_groups",
    "digits_to_words",
    "noun_form_index",
    "number_to_words",
    "row",
    "say",
]

CASES: Final[tuple[str, ...]] = ("nomn", "gent", "datv", "accs", "ablt", "loct")
GENDERS: Final[tuple[str, ...]] = ("masc", "femn", "neut", "plur")
MAX_NUMBER: Final = 999_999_999_999

NOMN, GENT, DATV, ACCS, ABLT, LOCT = range(6)
CASE_INDEX: Final[dict[str, int]] = {case: i for i, case in enumerate(CASES)}

Row = tuple[str, str, str, str, str, str]


def row(words: str) -> Row:
    """Six forms in the order of :data:`CASES`."""
    w = words.split()
    if len(w) != 6:
        raise ValueError(f"six forms expected: {words!r}")
    return (w[0], w[1], w[2], w[3], w[4], w[5])


_ZERO: Final = row("ноль ноля нолю ноль нолём ноле")
_ONE: Final[dict[str, Row]] = {
    "masc": row("один одного одному один одним одном"),
    "femn": row("одна одной одной одну одной одной"),
    "neut": row("одно одного одному одно одним одном"),
    "plur": row("одни одних одним одни одними одних"),
}
_TWO: Final[dict[str, Row]] = {
    "masc": row("два двух двум два двумя двух"),
    "femn": row("две двух двум две двумя двух"),
}


def _simple_table() -> dict[int, Row]:
    t: dict[int, Row] = {
        3: row("три трёх трём три тремя трёх"),
        4: row("четыре четырёх четырём четыре четырьмя четырёх"),
        8: row("восемь восьми восьми восемь восемью восьми"),
        40: row("сорок сорока сорока сорок сорока сорока"),
        90: row("девяносто девяноста девяноста девяносто девяноста девяноста"),
        100: row("сто ста ста сто ста ста"),
        200: row("двести двухсот двумстам двести двумястами двухстах"),
        300: row("триста трёхсот трёмстам триста тремястами трёхстах"),
        400: row("четыреста четырёхсот четырёмстам четыреста четырьмястами четырёхстах"),
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
        row("миллиард миллиарда миллиарду миллиард миллиардом миллиарде"),
        row("миллиарды миллиардов миллиардам миллиарды миллиардами миллиардах"),
    ),
    (
        1_000_000,
        "masc",
        row("миллион миллиона миллиону миллион миллионом миллионе"),
        row("миллионы миллионов миллионам миллионы миллионами миллионах"),
    ),
    (
        1_000,
        "femn",
        row("тысяча тысячи тысяче тысячу тысячей тысяче"),
        row("тысячи тысяч тысячам тысячи тысячами тысячах"),
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


def count_form(n: int) -> str:
    """How a noun agrees with ``n``: ``one`` (21), ``few`` (2-4, 22), ``many`` (5, 11, 0)."""
    if 11 <= n % 100 <= 19:
        return "many"
    last = n % 10
    if last == 1:
        return "one"
    if 2 <= last <= 4:
        return "few"
    return "many"


def noun_form_index(form: str, case: int) -> tuple[bool, int]:
    """(plural?, case index) of a noun counted by a number of ``form`` in ``case``."""
    if case in (NOMN, ACCS):
        if form == "one":
            return False, case
        return form != "few", GENT
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
    ci = CASE_INDEX[case]
    if n == 0:
        return _ZERO[ci]
    words: list[str] = []
    for value, mult_gender, singular, plural in _MULTIPLIERS:
        group = n // value % 1000
        if not group:
            continue
        if group != 1 or explicit_one:
            words += _group_words(group, mult_gender, ci)
        is_plural, noun_case = noun_form_index(count_form(group), ci)
        words.append((plural if is_plural else singular)[noun_case])
    group = n % 1000
    if group:
        if animate and ci == ACCS and n in (2, 3, 4):
            words += _group_words(group, gender, GENT)  # вижу двух котов
        else:
            last = _group_words(group, gender, ci)
            one = group % 10 == 1 and group % 100 != 11
            if animate and ci == ACCS and one and gender in ("masc", "plur"):
                last[-1] = _ONE[gender][GENT]  # вижу (двадцать) одного кота
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
    if case not in CASE_INDEX:
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


def digit_groups(digits: str) -> str:
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


def say(n: int, case: str, gender: str = "masc", animate: bool = False) -> str:
    """``n`` as said in conversation: «тысяча», «миллион» without «одна», «один»."""
    return _cardinal(n, gender, case, animate, False)


# ---------------------------------------------------------------------------------------
# Decimal fractions.
# ---------------------------------------------------------------------------------------

_FEM_ADJ_SINGULAR: Final = row("ая ой ой ую ой ой")
_ADJ_PLURAL: Final = row("ых ых ым ых ыми ых")  # after a number: «две целых», «пяти целым»
_FRACTION_STEMS: Final = ("", "десят", "сот", "тысячн")


def _fraction_adj(stem: str, count: int, case: int) -> str:
    endings = _FEM_ADJ_SINGULAR if count_form(count) == "one" else _ADJ_PLURAL
    return stem + endings[case]


def decimal_words(whole: int, fraction: str, case: int) -> str:
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
