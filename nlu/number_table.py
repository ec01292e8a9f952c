"""The table of Russian number words for :mod:`nlu.numbers`: every gender and case form,
normalised (lower case, ё ➜ е), with its word class and value.

The slot numbers say which part of a three-digit group a word fills: hundreds = 3,
tens = 2, units = 1. A word may join a group only if the highest slot it fills is below the
lowest slot already filled.
"""

from __future__ import annotations

from typing import Final

UNIT: Final = 0
TEEN: Final = 1  # 10..19: fills tens and units
TEN: Final = 2
HUNDRED: Final = 3
ZERO: Final = 4
MULT: Final = 5  # тысяча, миллион, миллиард: the value is the level (1, 2, 3)
COLLOQ: Final = 6  # пару, десяток, дюжину: a quantity of its own
HUNDREDS_NOUN: Final = 7  # сотня (value 1: singular, may stand alone) / сотни, сотен (2)
HALF: Final = 8  # полтора, полторы: 1.5, a whole number only before a multiplier

TOP_SLOT: Final[tuple[int, ...]] = (1, 2, 2, 3)  # by class, for UNIT..HUNDRED
LOW_SLOT: Final[tuple[int, ...]] = (1, 1, 2, 3)
EMPTY: Final = 4  # "lowest filled slot" of an empty sub-group
FULL: Final = 0  # a digit run or colloquial word: nothing more can join
NO_LEVEL: Final = 99  # no multiplier in the group yet
MULTIPLIER: Final[tuple[int, ...]] = (1, 1_000, 1_000_000, 1_000_000_000)

# Words a recognizer writes for «сто» (Whisper: «стой», «стоп»); read as «сто» only where
# the dialog expects an article and a number follows at once, and never silently.
HUNDRED_HOMOPHONES: Final = frozenset({"стой", "стоп"})


def _forms(table: dict[str, tuple[int, int]], cls: int, value: int, words: str) -> None:
    for word in words.split():
        table[word] = (cls, value)


def build_words() -> dict[str, tuple[int, int]]:
    """Every form, normalised (lowercase, ё -> е) -> (class, value or multiplier level)."""
    t: dict[str, tuple[int, int]] = {}
    _forms(t, ZERO, 0, "ноль нуль ноля нуля нолю нулю нолем нулем ноле нуле")
    _forms(
        t,
        UNIT,
        1,
        "один одна одно одни одного одной одному одним одном одну одною одних одними",
    )
    _forms(t, UNIT, 2, "два две двух двум двумя")
    _forms(t, UNIT, 3, "три трех трем тремя")
    _forms(t, UNIT, 4, "четыре четырех четырем четырьмя")
    _forms(t, UNIT, 5, "пять пяти пятью")
    _forms(t, UNIT, 6, "шесть шести шестью")
    _forms(t, UNIT, 7, "семь семи семью")
    _forms(t, UNIT, 8, "восемь восьми восемью восьмью")
    _forms(t, UNIT, 9, "девять девяти девятью")
    _forms(t, TEEN, 10, "десять десяти десятью")
    teens: tuple[str, ...] = ("одиннадц", "двенадц", "тринадц", "четырнадц", "пятнадц")
    teens += ("шестнадц", "семнадц", "восемнадц", "девятнадц")
    for offset, stem in enumerate(teens, start=11):
        _forms(t, TEEN, offset, f"{stem}ать {stem}ати {stem}атью")
    _forms(t, TEN, 20, "двадцать двадцати двадцатью")
    _forms(t, TEN, 30, "тридцать тридцати тридцатью")
    _forms(t, TEN, 40, "сорок сорока")
    _forms(t, TEN, 50, "пятьдесят пятидесяти пятьюдесятью")
    _forms(t, TEN, 60, "шестьдесят шестидесяти шестьюдесятью")
    _forms(t, TEN, 70, "семьдесят семидесяти семьюдесятью")
    _forms(t, TEN, 80, "восемьдесят восьмидесяти восемьюдесятью восьмьюдесятью")
    _forms(t, TEN, 90, "девяносто девяноста")
    _forms(t, HUNDRED, 100, "сто ста")
    _forms(t, HUNDRED, 200, "двести двухсот двумстам двумястами двухстах")
    _forms(t, HUNDRED, 300, "триста трехсот тремстам тремястами трехстах")
    _forms(t, HUNDRED, 400, "четыреста четырехсот четыремстам четырьмястами четырехстах")
    for value, nom, obl, ins in (
        (500, "пятьсот", "пят", "пятью"),
        (600, "шестьсот", "шест", "шестью"),
        (700, "семьсот", "сем", "семью"),
        (800, "восемьсот", "восьм", "восемью"),
        (900, "девятьсот", "девят", "девятью"),
    ):
        _forms(t, HUNDRED, value, f"{nom} {obl}исот {obl}истам {ins}стами {obl}истах")
    _forms(t, HUNDRED, 800, "восьмьюстами")
    _forms(
        t,
        MULT,
        1,
        "тысяча тысячи тысяч тысяче тысячу тысячей тысячею тысячью тысячам тысячами тысячах тыс "
        "тыща тыщи тыщ тыще тыщу тыщей тыщам тыщами тыщах",
    )
    _forms(
        t,
        MULT,
        2,
        "миллион миллиона миллиону миллионом миллионе миллионы миллионов миллионам "
        "миллионами миллионах млн",
    )
    _forms(
        t,
        MULT,
        3,
        "миллиард миллиарда миллиарду миллиардом миллиарде миллиарды миллиардов "
        "миллиардам миллиардами миллиардах млрд",
    )
    # «три сотни» = 300, «пять сотен» = 500; «сотня» alone is 100, «сотни» alone is none.
    _forms(t, HUNDREDS_NOUN, 1, "сотня сотню сотней сотне")
    _forms(t, HUNDREDS_NOUN, 2, "сотни сотен сотням сотнями сотнях")
    _forms(t, HALF, 1, "полтора полторы полутора")
    # Colloquial quantities. Left out on purpose: plural forms that mean "dozens of"
    # (десятков, дюжины) and "пятка" (a heel).
    _forms(t, COLLOQ, 2, "пара пару парой парочка парочку парочкой")
    _forms(t, COLLOQ, 5, "пяток пятком")
    _forms(t, COLLOQ, 6, "полдюжины")
    _forms(t, COLLOQ, 10, "десяток десятка десятку десятком")
    _forms(t, COLLOQ, 12, "дюжина дюжину дюжиной")
    _forms(t, COLLOQ, 50, "полсотни")
    _forms(t, COLLOQ, 500, "полтысячи")
    return t


WORDS: Final[dict[str, tuple[int, int]]] = build_words()
