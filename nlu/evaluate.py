"""K-fold cross-validation of the intent model on the training data.

Stratified folds (every intent spread over all folds, seeded), per-intent precision,
recall and F1, macro averages, the confusion matrix and the misclassified examples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from nlu.intent_model import IntentModel, TrainOptions
from nlu.training_data import Example, TrainingData


@dataclass(slots=True)
class IntentScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(slots=True)
class EvaluationReport:
    folds: int
    intents: list[str]
    scores: dict[str, IntentScore]
    confusion: list[list[int]]  # rows: true intent, columns: predicted (same order as intents)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        return sum(s.f1 for s in self.scores.values()) / max(len(self.scores), 1)

    @property
    def accuracy(self) -> float:
        total = sum(sum(row) for row in self.confusion)
        right = sum(self.confusion[i][i] for i in range(len(self.intents)))
        return right / max(total, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "macro_f1": round(self.macro_f1, 4),
            "accuracy": round(self.accuracy, 4),
            "intents": {
                name: {
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                    "support": s.support,
                }
                for name, s in self.scores.items()
            },
            "labels": self.intents,
            "confusion": self.confusion,
            "errors": self.errors,
        }


def stratified_folds(examples: list[Example], k: int, seed: int = 0) -> list[list[Example]]:
    rng = random.Random(seed)
    folds: list[list[Example]] = [[] for _ in range(k)]
    by_intent: dict[str, list[Example]] = {}
    for example in examples:
        by_intent.setdefault(example.intent, []).append(example)
    offset = 0
    for intent in sorted(by_intent):
        items = by_intent[intent][:]
        rng.shuffle(items)
        for i, example in enumerate(items):
            folds[(i + offset) % k].append(example)
        offset += len(items)
    return folds


def cross_validate(
    data: TrainingData, k: int = 5, options: TrainOptions | None = None, seed: int = 0
) -> EvaluationReport:
    if k < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    intents = data.intents
    index = {name: i for i, name in enumerate(intents)}
    confusion = [[0] * len(intents) for _ in intents]
    errors: list[dict[str, Any]] = []
    folds = stratified_folds(data.examples, k, seed)
    for n, test in enumerate(folds):
        train = [e for i, fold in enumerate(folds) if i != n for e in fold]
        model = IntentModel.train([e.text for e in train], [e.intent for e in train], options)
        for example in test:
            predicted, confidence = model.predict(example.text)[0]
            confusion[index[example.intent]][index[predicted]] += 1
            if predicted != example.intent:
                errors.append(
                    {
                        "text": example.text,
                        "line": example.line,
                        "intent": example.intent,
                        "predicted": predicted,
                        "confidence": round(confidence, 3),
                    }
                )
    scores: dict[str, IntentScore] = {}
    for name, i in index.items():
        tp = confusion[i][i]
        predicted_total = sum(row[i] for row in confusion)
        support = sum(confusion[i])
        precision = tp / predicted_total if predicted_total else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = IntentScore(precision, recall, f1, support)
    return EvaluationReport(k, intents, scores, confusion, errors)


def format_report(report: EvaluationReport) -> str:
    width = max(len(name) for name in report.intents) + 2
    lines = [f"{'intent':<{width}}precision  recall     f1  support"]
    for name, s in report.scores.items():
        lines.append(f"{name:<{width}}{s.precision:9.3f}{s.recall:8.3f}{s.f1:7.3f}{s.support:9d}")
    lines.append(f"{'macro':<{width}}{'':9}{'':8}{report.macro_f1:7.3f}")
    lines.append(f"accuracy {report.accuracy:.3f} over {report.folds} folds")
    if report.errors:
        lines.append("confusions (true ➜ predicted):")
        pairs: dict[tuple[str, str], int] = {}
        for e in report.errors:
            key = (e["intent"], e["predicted"])
            pairs[key] = pairs.get(key, 0) + 1
        for (true, pred), count in sorted(pairs.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {true} ➜ {pred}: {count}")
        for e in report.errors:
            lines.append(f"  line {e['line']}: {e['text']!r} {e['intent']} ➜ {e['predicted']}")
    return "\n".join(lines)
