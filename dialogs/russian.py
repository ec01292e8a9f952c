"""Russian for the bot's replies: «1 штуку, 2 штуки, 5 штук», product names in a sentence.

Number-noun agreement is :func:`nlu.agreement.agree`, the one implementation the number
verbalizer uses too; here it defaults to the accusative («Вы хотите заказать 2 штуки?»).
"""

from __future__ import annotations

from nlu import agreement


def agree(number: int, noun: str, case: str = "accs") -> str:
    """``noun`` in the form that goes with ``number`` (accusative: «заказать 2 штуки»)."""
    return agreement.agree(number, noun, case)


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
