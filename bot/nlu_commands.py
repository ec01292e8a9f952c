"""``python -m bot train`` and ``python -m bot nlu parse|evaluate|bench``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO

from bot.config import Settings
from nlu.bench import run_bench
from nlu.engine import NluEngine, train
from nlu.evaluate import cross_validate, format_report
from nlu.training_data import load_training_data


def catalog_articles(settings: Settings) -> list[str]:
    """The shop catalog's articles, so ``nlu parse`` matches articles as the bot does."""
    from bot.shop_setup import catalog_articles as read

    return asyncio.run(read(settings))


def cmd_train(settings: Settings) -> int:
    result = train(settings.nlu.data, settings.nlu.model_dir)
    print(
        f"trained {len(result.intents)} intents on {result.examples} examples "
        f"in {result.seconds:.2f} s ➜ {result.model_dir}"
    )
    return 0


def load_engine(settings: Settings, *, articles: list[str] | None = None) -> NluEngine:
    return NluEngine.load(
        settings.nlu.data,
        settings.nlu.model_dir,
        threshold=settings.nlu.threshold,
        articles=catalog_articles(settings) if articles is None else articles,
    )


def cmd_parse(settings: Settings, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    engine = load_engine(settings)
    for line in stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        stdout.write(json.dumps(engine.parse(text).to_json(), ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def cmd_evaluate(settings: Settings, folds: int, out: Path | None) -> int:
    from bot.tools.plots import confusion_png

    data = load_training_data(settings.nlu.data)
    report = cross_validate(data, k=folds)
    print(format_report(report))
    folder = out or settings.nlu.model_dir
    folder.mkdir(parents=True, exist_ok=True)
    report_file = folder / "report.json"
    report_file.write_text(
        json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    picture = confusion_png(
        report.intents,
        report.confusion,
        folder / "confusion.png",
        f"{folds}-fold CV, macro F1 {report.macro_f1:.3f}",
    )
    print(f"wrote {report_file} and {picture}")
    return 0


def cmd_bench(settings: Settings, out: Path) -> int:
    result = run_bench(settings.nlu.data, settings.nlu.model_dir, catalog_articles(settings))
    print(
        f"parse latency over {result.utterances} utterances: p50 {result.p50_ms:.3f} ms, "
        f"p99 {result.p99_ms:.3f} ms, max {result.max_ms:.3f} ms "
        f"(cold first pass p99 {result.cold_p99_ms:.3f} ms); "
        f"training {result.train_seconds:.2f} s"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_json(), indent=2) + "\n", "utf-8")
    print(f"wrote {out}")
    return 0
