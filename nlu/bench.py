"""Parse latency over every training example and training time (``python -m bot nlu bench``).

The first pass over the examples is reported apart as *cold* (the morphology caches are
empty, as for the first calls after a start); the later passes are the steady state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from nlu.engine import NluEngine, train
from nlu.training_data import load_training_data


@dataclass(slots=True)
class BenchResult:
    utterances: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    cold_p99_ms: float
    train_seconds: float

    def to_json(self) -> dict[str, float | int]:
        return {
            "utterances": self.utterances,
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "cold_p99_ms": round(self.cold_p99_ms, 3),
            "train_seconds": round(self.train_seconds, 3),
        }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def _timed_pass(engine: NluEngine, texts: list[str]) -> list[float]:
    timings = []
    for text in texts:
        started = time.perf_counter()
        engine.parse(text)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def run_bench(
    data_path: Path, model_dir: Path, articles: list[str], rounds: int = 3
) -> BenchResult:
    """Train once (timed), then parse every example ``rounds`` times."""
    result = train(data_path, model_dir)
    engine = NluEngine.load(data_path, model_dir, articles=articles)
    texts = [e.text for e in load_training_data(data_path).examples]
    cold = _timed_pass(engine, texts)
    warm = [t for _ in range(max(rounds - 1, 1)) for t in _timed_pass(engine, texts)]
    return BenchResult(
        len(texts),
        percentile(warm, 50),
        percentile(warm, 99),
        max(warm, default=0.0),
        percentile(cold, 99),
        result.seconds,
    )
