"""Rasa as the NLU engine (``nlu.engine: rasa``): Rasa's intents, our Russian numbers.

:class:`RasaNluEngine` is an :class:`~nlu.engine.NluEngine` (so everything that reads the
catalog's articles or parses speculatively keeps working) whose turns are understood by a
Rasa server: ``POST /model/parse`` gives the intent, its confidence and ranking; the
entities are read by our own extractor with what the dialog expects (Rasa leaves «сто
двадцать три» as words; our article, quantity, yes/no, number and name handling is the one
the embedded engine uses). Entity types we do not extract ourselves (an assistant's own)
are passed on as Rasa found them; an entity of our types that only Rasa saw is read again
from its words with our numbers, or dropped.

When Rasa does not answer within ``rasa.nlu_timeout_s`` (or answers nonsense) the embedded
model parses instead (``rasa.nlu_fallback``, the default) and the turn carries the reason,
which the front end publishes as an ``nlu_fallback`` call event (counted by the metrics);
with ``rasa.nlu_fallback: false`` :class:`~bot.rasa.client.RasaUnavailable` propagates and
the voice session hands the call to a person.

Front ends call :func:`understand` instead of ``nlu.parse``: it awaits Rasa for this engine
and parses on the spot for the embedded one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bot.events import EventBus, NluFellBack
from bot.rasa.client import RasaClient, RasaUnavailable
from bot.rasa.settings import RasaSettings
from nlu.alternatives import resolve_alternatives
from nlu.engine import EXPECTATIONS, NluEngine
from nlu.intent_model import IntentModel
from nlu.training_data import TrainingData, load_training_data
from nlu.types import FALLBACK_INTENT, Entity, Parse

log = logging.getLogger(__name__)
# entity types our extractor produces: for these our reading wins over Rasa's
OWN_ENTITIES = frozenset(
    {"number", "fraction", "article", "quantity", "yes_no", "name", "order_edit"}
)


class RasaNluEngine(NluEngine):
    def __init__(
        self,
        model: IntentModel,
        data: TrainingData,
        *,
        rasa: RasaSettings,
        threshold: float,
        articles: Iterable[str] = (),
        client: RasaClient | None = None,
    ) -> None:
        super().__init__(model, data, threshold=threshold, articles=articles)
        self.rasa = rasa
        self.client = client or RasaClient(rasa)

    @classmethod
    def open(
        cls,
        data_path: Path,
        model_dir: Path,
        rasa: RasaSettings,
        *,
        threshold: float,
        articles: Iterable[str] = (),
    ) -> RasaNluEngine:
        """The embedded model (retrained if ``nlu.yml`` changed: it is the fallback) + Rasa."""
        embedded = NluEngine.load(data_path, model_dir, threshold=threshold)
        data = load_training_data(data_path)
        return cls(embedded.model, data, rasa=rasa, threshold=threshold, articles=articles)

    async def understand(
        self, text: str, expect: str | None = None, alternatives: Sequence[str] = ()
    ) -> tuple[Parse, str]:
        """The parse of one caller turn and, when the embedded model stood in, why."""
        if not text.strip():
            return self.parse(text, expect, alternatives), ""
        try:
            answer = await self.client.parse(text)
        except RasaUnavailable as exc:
            if not self.rasa.nlu_fallback:
                raise
            log.warning(
                "rasa nlu unavailable: the embedded model parses", extra={"reason": exc.reason}
            )
            return self.parse(text, expect, alternatives), exc.reason
        return self.from_rasa(answer, text, expect, alternatives), ""

    def from_rasa(
        self,
        answer: dict[str, Any],
        text: str,
        expect: str | None = None,
        alternatives: Sequence[str] = (),
    ) -> Parse:
        """Rasa's ``/model/parse`` answer as our :class:`Parse`."""
        intent_data = answer.get("intent") or {}
        intent = str(intent_data.get("name") or FALLBACK_INTENT)
        confidence = _number(intent_data.get("confidence"))
        if confidence < self.threshold:
            intent = FALLBACK_INTENT
        ranking = tuple(
            (str(r["name"]), _number(r.get("confidence")))
            for r in answer.get("intent_ranking") or []
            if isinstance(r, dict) and r.get("name")
        )[:5]
        known = expect if expect in EXPECTATIONS else None
        ours = [self._synonym(e) for e in self.extractor.extract(text, known)]
        theirs = [
            e
            for raw in answer.get("entities") or []
            if isinstance(raw, dict)
            for e in self._rasa_entity(raw, text, known, ours)
        ]
        entities = tuple(sorted([*ours, *theirs], key=lambda e: (e.start, e.end)))
        parse = Parse(text, intent, confidence, entities, ranking or ((intent, confidence),))
        if alternatives and self.extractor.matcher is not None:
            parse = resolve_alternatives(parse, known, alternatives, self._entities_only(known))
        return parse

    def _rasa_entity(
        self, raw: dict[str, Any], text: str, expect: str | None, ours: list[Entity]
    ) -> list[Entity]:
        kind = str(raw.get("entity") or "")
        if not kind or raw.get("value") is None:
            return []
        start, end = raw.get("start"), raw.get("end")
        span = (start, end) if isinstance(start, int) and isinstance(end, int) else None
        if span is not None and not 0 <= span[0] <= span[1] <= len(text):
            span = None
        if kind not in OWN_ENTITIES:
            s, e = span or (0, 0)
            confidence = _number(raw.get("confidence_entity"), 1.0)
            return [Entity(kind, str(raw["value"]), s, e, confidence=confidence)]
        if span is None or any(e.entity == kind for e in ours):
            return []  # ours is normalised; Rasa's words are not
        offset = span[0]
        return [
            dataclasses.replace(e, start=e.start + offset, end=e.end + offset)
            for e in self.extractor.extract(text[span[0] : span[1]], expect)
            if e.entity == kind
        ]


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


async def understand(
    nlu: NluEngine,
    text: str,
    expect: str | None = None,
    bus: EventBus | None = None,
    alternatives: Sequence[str] = (),
) -> Parse:
    """One caller turn understood by the configured engine; a Rasa NLU that could not answer
    is an ``nlu_fallback`` call event on ``bus`` (the embedded model parsed instead)."""
    if not isinstance(nlu, RasaNluEngine):
        return nlu.parse(text, expect, alternatives)
    parse, fell_back = await nlu.understand(text, expect, alternatives)
    if fell_back and bus is not None:
        bus.publish(NluFellBack(engine="rasa", reason=fell_back))
    return parse


def keep_engine(current: NluEngine, new: NluEngine) -> NluEngine:
    """The engine for the next calls once ``new`` (an embedded model, e.g. activated in the
    editors' console) replaces ``current``: with ``nlu.engine: rasa`` Rasa still parses and
    ``new`` becomes its fallback and number reader."""
    if not isinstance(current, RasaNluEngine) or isinstance(new, RasaNluEngine):
        return new
    engine = RasaNluEngine.__new__(RasaNluEngine)
    engine.__dict__.update(new.__dict__)
    engine.rasa, engine.client = current.rasa, current.client
    return engine
