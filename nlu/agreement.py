"""Russian number-noun agreement: the one implementation («1 штуку, 2 штуки, 5 штук»).

The number decides the noun's count form (:func:`nlu.number_words.count_form`: 21 ➜ one,
2-4 ➜ few, 5, 11, 0 ➜ many; a round thousand or million ➜ genitive plural in any case) and
the case the sentence gives the number decides the noun's case (nominative and accusative
take the genitive after 2-4 and 5+). The noun is inflected with pymorphy3. The verbalizer
(:mod:`nlu.verbalize`: units after numbers) and the dialogs (:mod:`dialogs.russian`: «Вы
хотите заказать 2 штуки?») both use it.
"""

from __future__ import annotations

from functools import lru_cache

from nlu.morph import analyzer
from nlu.number_words import CASE_INDEX, CASES, count_form, noun_form_index

ABBREVIATIONS = {"шт": "штука", "шт.": "штука", "уп": "упаковка", "уп.": "упаковка"}


@lru_cache(maxsize=4096)
def inflect(noun: str, plural: bool, case: str) -> str:
    """``noun`` (nominative singular) in number ``plural`` and ``case``; as it is if unknown."""
    for p in analyzer().parse(noun):
        if p.tag.POS == "NOUN" and p.tag.case == "nomn" and p.tag.number == "sing":
            inflected = p.inflect({"plur" if plural else "sing", case})
            if inflected is not None:
                return str(inflected.word)
    return noun


def number_form(n: int) -> str:
    """``one`` / ``few`` / ``many``, or ``mult`` after a round thousand (1000, 2000 000…)."""
    return "mult" if n >= 1000 and n % 1000 == 0 else count_form(abs(n))


def unit_words(noun: str, n: int, case: int) -> str:
    """``noun`` (nominative singular) as it goes with ``n`` in case index ``case``."""
    form = number_form(n)
    if form == "mult":
        return inflect(noun, True, "gent")
    plural, noun_case = noun_form_index(form, case)
    return inflect(noun, plural, CASES[noun_case])


def agree(n: int, noun: str, case: str = "nomn") -> str:
    """``noun`` (or an abbreviation such as «шт») in the form that goes with ``n`` in
    ``case`` (one of :data:`nlu.number_words.CASES`): ``agree(2, "штука", "accs")`` ➜ «штуки»."""
    word = ABBREVIATIONS.get(noun.lower(), noun)
    return unit_words(word, n, CASE_INDEX[case])
