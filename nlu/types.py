"""The shapes NLU hands to the rest of the bot: a parse with its intent and entities."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Entity:
    """One thing found in an utterance.

    ``value`` is normalised (digits for numbers and articles, ``"yes"``/``"no"`` for
    ``yes_no``, a nominative first name for ``name``, ``"1.5"`` for a ``fraction``);
    ``start``/``end`` are character offsets into the original text.

    An ``article`` carries the digits *heard* in ``value`` and how they stand against the
    catalog: ``match`` is ``"exact"`` (``value`` is a catalog article), ``"near"`` (it is
    not, but ``suggestion`` is: ``distance`` edits away, of the kind ``edit``: a digit
    ``changed``, ``dropped`` (heard one digit fewer), ``added`` (heard one more) or
    ``swapped``, the digit groups ``split`` («100 42» for 142) or ``merged`` («сто двадцать
    три» for 10023), or a number word ``respelled`` («стой двадцать три» for 123)) or
    ``"none"``. A suggestion is only ever a question for the caller, never an article taken.
    """

    entity: str
    value: str
    start: int
    end: int
    confidence: float = 1.0
    match: str | None = None
    suggestion: str | None = None
    distance: int | None = None
    edit: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
        }
        if self.confidence < 1.0:
            data["confidence"] = round(self.confidence, 3)
        for key in ("match", "suggestion", "distance", "edit"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass(frozen=True, slots=True)
class Parse:
    """What the bot understood from one caller turn.

    ``heard_confidence``: how sure the recognizer was of ``text`` (0–1, as the engine reports
    it), set by whoever recognized the speech; ``None`` for typed text and keys.
    """

    text: str
    intent: str
    confidence: float
    entities: tuple[Entity, ...] = field(default_factory=tuple)
    ranking: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    heard_confidence: float | None = None

    def first(self, entity: str) -> Entity | None:
        """The first entity of this type, or ``None``."""
        return next((e for e in self.entities if e.entity == entity), None)

    def values(self, entity: str) -> list[str]:
        return [e.value for e in self.entities if e.entity == entity]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "entities": [e.to_json() for e in self.entities],
        }
        if self.heard_confidence is not None:
            data["heard_confidence"] = round(self.heard_confidence, 3)
        return data


FALLBACK_INTENT = "nlu_fallback"
