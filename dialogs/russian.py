"""Russian agreement for the bot's replies: «1 штуку, 2 штуки, 5 штук»."""

from __future__ import annotations

from functools import lru_cache

from nlu.morph import analyzer

UNIT_WORDS = {"шт": "штука", "шт.": "штука", "уп": "упаковка", "уп.": "упаковка"}


@lru_cache(maxsize=1024)
def agree(number: int, noun: str, case: str = "accs") -> str:
    """``noun`` in the form that goes with ``number`` (accusative: «заказать 2 штуки»)."""
    word = UNIT_WORDS.get(noun.lower(), noun)
    parse = analyzer().parse(word)[0]
    inflected = parse.inflect({case}) if case != "nomn" else parse
    agreed = (inflected or parse).make_agree_with_number(abs(number))
    return str(agreed.word) if agreed else word


def quantity_phrase(number: int, unit: str = "штука", case: str = "accs") -> str:
    """«2 штуки», «1 штуку», «5 упаковок»."""
    return f"{number} {agree(number, unit, case)}"


def phrase_name(name: str) -> str:
    """A product name to put before a full stop: «Батарейки AA, 4 шт.» ➜ «… 4 шт»."""
    return name.strip().rstrip(".").rstrip()


def inline_name(name: str) -> str:
    """A product name inside a sentence: «Швабра с отжимом» ➜ «швабра с отжимом» (an
    abbreviation such as «LED-лампа» or «ООО» keeps its capitals)."""
    name = phrase_name(name)
    if len(name) > 1 and name[0].isupper() and not name[1].isupper():
        return name[0].lower() + name[1:]
    return name
