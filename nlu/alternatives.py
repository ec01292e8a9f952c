"""The recognizer's other hypotheses, read against what the dialog expects and the catalog.

A beam-search recognizer (Whisper with ``beam_sizes``) gives its best transcript and a few
runner-up ones. When the best one holds no catalog article — or, at the quantity prompt, no
number at all — a runner-up often does: «№1091.» (not in the catalog) beside «№ 1191.».
:func:`resolve_alternatives` looks through them in the recognizer's order and turns the
first catalog article found into a *suggestion* of the heard article (``match="near"``,
``edit="alternative"``): the dialog asks «Артикул 1191, …. Верно?» and takes it only after
«да». An exact article of the best transcript is never replaced, and the digits heard stay
those of the best transcript. A quantity is taken from a runner-up only when the best
transcript holds no number at all (it is confirmed with the caller like any other).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from nlu.types import Entity, Parse

NEAR_ALTERNATIVE = 0.8  # confidence of a suggestion read from a runner-up hypothesis
# Intents that mean something other than the digits asked for: the runner-ups are not read.
NOT_DIGITS = frozenset({"ask_operator", "goodbye", "repeat", "affirm", "deny", "order_status"})

Reader = Callable[[str], Parse]


def resolve_alternatives(
    parse: Parse, expect: str | None, alternatives: Sequence[str], read: Reader
) -> Parse:
    """``parse`` of the best transcript, with what the runner-ups add (see the module doc);
    ``read`` parses one runner-up with the same expectation."""
    if not alternatives or parse.intent in NOT_DIGITS:
        return parse
    if expect == "article":
        return _article(parse, alternatives, read)
    if expect == "quantity" and not any(
        parse.first(kind) for kind in ("number", "fraction", "yes_no", "article")
    ):
        return _quantity(parse, alternatives, read)
    return parse


def _catalog_reading(entity: Entity | None) -> str | None:
    """The catalog article an article entity reads as without a changed digit."""
    if entity is None:
        return None
    if entity.match == "exact":
        return entity.value
    if entity.match == "near" and entity.distance == 0:
        return entity.suggestion
    return None


def _article(parse: Parse, alternatives: Sequence[str], read: Reader) -> Parse:
    heard = parse.first("article")
    if heard is None and parse.first("number") is not None:
        return parse  # a number that is not an article (a menu key, a colloquial amount)
    if _catalog_reading(heard) is not None:
        return parse  # the best transcript already reads as a catalog article
    for text in alternatives:
        other = read(text).first("article")
        found = _catalog_reading(other)
        if found is None or other is None:
            continue
        base = heard or Entity("article", other.value, 0, len(parse.text))
        entity = dataclasses.replace(
            base,
            confidence=NEAR_ALTERNATIVE,
            match="near",
            suggestion=found,
            distance=0,
            edit="alternative",
        )
        if heard is None:
            return dataclasses.replace(parse, entities=(*parse.entities, entity))
        return _with(parse, heard, entity)
    return parse


def _quantity(parse: Parse, alternatives: Sequence[str], read: Reader) -> Parse:
    for text in alternatives:
        other = read(text)
        if other.intent in NOT_DIGITS or other.first("fraction") is not None:
            continue
        quantity = other.first("quantity")
        if quantity is not None:
            entity = Entity("quantity", quantity.value, 0, len(parse.text), NEAR_ALTERNATIVE)
            return dataclasses.replace(parse, entities=(*parse.entities, entity))
    return parse


def _with(parse: Parse, old: Entity, new: Entity) -> Parse:
    entities = tuple(new if e is old else e for e in parse.entities)
    return dataclasses.replace(parse, entities=entities)
