"""The NLU engine: text ➜ :class:`~nlu.types.Parse` (intent, confidence, entities).

The intent model is trained from ``nlu.yml`` and stored in a model folder together with
the SHA-256 of the data it was trained on; :meth:`NluEngine.load` retrains by itself when
the data file changed (or the folder is missing), so editors only edit ``nlu.yml``.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nlu.alternatives import resolve_alternatives
from nlu.articles import ArticleMatcher
from nlu.entities import EntityExtractor
from nlu.intent_model import IntentModel, TrainOptions
from nlu.training_data import TrainingData, load_training_data
from nlu.types import FALLBACK_INTENT, Entity, Parse

log = logging.getLogger(__name__)
MODEL_FORMAT = 1
EXPECTATIONS = frozenset({"menu", "article", "quantity", "yes_no"})
DEFAULT_THRESHOLD = 0.45


@dataclass(frozen=True, slots=True)
class TrainResult:
    model_dir: Path
    examples: int
    intents: list[str]
    seconds: float


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train(data_path: Path, model_dir: Path, options: TrainOptions | None = None) -> TrainResult:
    """Train the intent model from ``data_path`` and write it to ``model_dir``."""
    data = load_training_data(data_path)
    started = time.perf_counter()
    model = IntentModel.train(
        [e.text for e in data.examples], [e.intent for e in data.examples], options
    )
    seconds = time.perf_counter() - started
    meta = {
        "format": MODEL_FORMAT,
        "data_sha256": file_digest(data_path),
        "data_file": str(data_path),
        "examples": len(data.examples),
        "train_seconds": round(seconds, 3),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    model.save(model_dir, meta)
    return TrainResult(model_dir, len(data.examples), model.intents, seconds)


class NluEngine:
    def __init__(
        self,
        model: IntentModel,
        data: TrainingData,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        articles: Iterable[str] = (),
    ) -> None:
        self.model = model
        self.threshold = threshold
        self.synonyms = dict(data.synonyms)
        self.extractor = EntityExtractor()
        self.extractor.add_units(data.lookups.get("unit", []))
        self.set_articles(articles)

    @classmethod
    def load(
        cls,
        data_path: Path,
        model_dir: Path,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        articles: Iterable[str] = (),
    ) -> NluEngine:
        """Load the model, retraining first if ``data_path`` changed since it was trained."""
        data = load_training_data(data_path)
        if not _up_to_date(data_path, model_dir):
            result = train(data_path, model_dir)
            log.info(
                "nlu model retrained",
                extra={"examples": result.examples, "seconds": round(result.seconds, 3)},
            )
        model, _ = IntentModel.load(model_dir)
        return cls(model, data, threshold=threshold, articles=articles)

    def set_articles(self, articles: Iterable[str]) -> None:
        """Give the engine the catalog's articles (call again after a catalog import)."""
        matcher = ArticleMatcher(articles)
        self.extractor.matcher = matcher if len(matcher) else None
        self._sorted_articles = sorted(matcher.articles)

    def article_goes_on(self, digits: str) -> bool:
        """Whether a longer catalog article starts with ``digits`` («12» when 1245 exists):
        a caller who paused after them may not have finished the article."""
        articles = getattr(self, "_sorted_articles", [])
        i = bisect.bisect_right(articles, digits)
        return i < len(articles) and articles[i].startswith(digits)

    def parse(
        self, text: str, expect: str | None = None, alternatives: Sequence[str] = ()
    ) -> Parse:
        """Understand one caller turn; ``expect`` is what the dialog asked for (``"article"``,
        ``"quantity"``, ``"yes_no"``, ``"menu"``; ``None`` or an unknown key: no expectation).

        The expectation decides how digits are read (see :mod:`nlu.entities`): at the
        article prompt all dictated digits are the article, at the quantity prompt the
        whole number said is the quantity. ``alternatives`` are the recognizer's runner-up
        transcripts, best first (:mod:`nlu.alternatives`): a catalog article found only
        there becomes a suggestion of the heard article, never an article taken."""
        ranking = self.model.predict(text) if text.strip() else [(FALLBACK_INTENT, 1.0)]
        intent, confidence = ranking[0]
        if confidence < self.threshold:
            intent = FALLBACK_INTENT
        known = expect if expect in EXPECTATIONS else None
        entities = tuple(self._synonym(e) for e in self.extractor.extract(text, known))
        parse = Parse(text, intent, confidence, entities, tuple(ranking[:5]))
        if alternatives and self.extractor.matcher is not None:
            parse = resolve_alternatives(parse, known, alternatives, self._entities_only(known))
        return parse

    def _entities_only(self, expect: str | None) -> Callable[[str], Parse]:
        def read(text: str) -> Parse:
            entities = tuple(self.extractor.extract(text, expect))
            return Parse(text, FALLBACK_INTENT, 0.0, entities)

        return read

    def _synonym(self, entity: Entity) -> Entity:
        if entity.entity in ("number", "article", "quantity", "yes_no", "fraction"):
            return entity
        canonical = self.synonyms.get(entity.value.lower())
        if canonical is None:
            return entity
        return dataclasses.replace(entity, value=canonical)


def _up_to_date(data_path: Path, model_dir: Path) -> bool:
    meta_file = model_dir / "model.json"
    if not meta_file.exists() or not (model_dir / "weights.npz").exists():
        return False
    import json

    try:
        meta = json.loads(meta_file.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        meta.get("format") == MODEL_FORMAT and meta.get("data_sha256") == file_digest(data_path)
    )
