"""Retraining from the console: a candidate model beside the one in force, its 5-fold
evaluation against the model in force, and activation only when the editor says so.

One job at a time (per process), in worker threads: (1) train the candidate from the draft,
(2) cross-validate it, (3) cross-validate the data in force (cached by its SHA-256). The
candidate lives in ``admin.work_dir/candidate`` (its ``nlu.yml``, ``model/``, ``report.json``,
``confusion.png``); :meth:`Trainer.activate` writes the draft over ``nlu.data``, puts the
candidate's model in place of ``nlu.model_dir`` (its recorded data hash matches, so nothing
retrains it) and returns the new engine for the next calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.web.audit import sha256
from bot.web.files import replace_dir, write_atomic
from nlu.engine import NluEngine, train
from nlu.evaluate import cross_validate
from nlu.intent_model import IntentModel
from nlu.training_data import load_training_data

log = logging.getLogger(__name__)
FOLDS = 5


@dataclass(slots=True)
class Job:
    data_sha: str
    step: int = 0
    steps: int = 3
    stage: str = "подготовка"
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        end = self.finished or time.monotonic()
        return {
            "running": self.finished is None,
            "step": self.step,
            "steps": self.steps,
            "stage": self.stage,
            "seconds": round(end - self.started, 1),
            "error": self.error,
            "data_sha": self.data_sha,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    candidate: dict[str, Any]  # report.json of the candidate
    active: dict[str, Any] | None  # report.json of the data in force
    data_sha: str

    @property
    def worse(self) -> bool:
        return self.active is not None and self.candidate["macro_f1"] < self.active["macro_f1"]

    def rows(self) -> list[dict[str, Any]]:
        old = (self.active or {}).get("intents", {})
        result = []
        for name, score in self.candidate["intents"].items():
            before = old.get(name)
            delta = score["f1"] - before["f1"] if before else None
            result.append({"intent": name, **score, "before": before, "delta": delta})
        return result


class Trainer:
    def __init__(self, work_dir: Path, data_path: Path, model_dir: Path, threshold: float) -> None:
        self.folder = work_dir / "candidate"
        self.cache = work_dir / "active-report.json"
        self.data_path = data_path
        self.model_dir = model_dir
        self.threshold = threshold
        self.job: Job | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, text: str) -> Job:
        """Train and evaluate ``text`` (the draft) as the candidate; one job at a time."""
        if self.running:
            assert self.job is not None
            return self.job
        self.job = Job(sha256(text.encode()))
        self._task = asyncio.create_task(self._run(self.job, text), name="nlu-candidate")
        return self.job

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, job: Job, text: str) -> None:
        try:
            staging = self.folder.with_name("candidate.new")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            data_file = staging / "nlu.yml"
            data_file.write_text(text, "utf-8")
            job.step, job.stage = 1, "обучение новой модели"
            result = await asyncio.to_thread(train, data_file, staging / "model")
            job.step, job.stage = 2, f"проверка новой модели ({FOLDS} блоков)"
            report = await asyncio.to_thread(self._evaluate, data_file, staging)
            job.step, job.stage = 3, "проверка модели, которая работает сейчас"
            await asyncio.to_thread(self.active_report)
            (staging / "meta.json").write_text(
                json.dumps({"data_sha": job.data_sha, "examples": result.examples}), "utf-8"
            )
            shutil.rmtree(self.folder, ignore_errors=True)
            staging.rename(self.folder)
            job.stage = "готово"
            log.info(
                "nlu candidate trained",
                extra={"examples": result.examples, "macro_f1": report["macro_f1"]},
            )
        except Exception as exc:
            log.exception("nlu candidate training failed")
            job.error = f"Не удалось обучить модель: {exc}"
        finally:
            job.finished = time.monotonic()

    def _evaluate(self, data_file: Path, folder: Path) -> dict[str, Any]:
        from bot.tools.plots import confusion_png

        data = load_training_data(data_file)
        report = cross_validate(data, k=FOLDS)
        payload = report.to_json()
        (folder / "report.json").write_text(json.dumps(payload, ensure_ascii=False), "utf-8")
        confusion_png(
            report.intents,
            report.confusion,
            folder / "confusion.png",
            f"{FOLDS}-fold CV, macro F1 {report.macro_f1:.3f}",
        )
        return payload

    def active_report(self) -> dict[str, Any] | None:
        """The evaluation of the data in force (computed once per version of the file)."""
        if not self.data_path.exists():
            return None
        digest = sha256(self.data_path.read_bytes())
        try:
            cached = json.loads(self.cache.read_text("utf-8"))
            if cached.get("data_sha") == digest:
                return dict(cached["report"])
        except (OSError, ValueError, KeyError):
            pass
        report = cross_validate(load_training_data(self.data_path), k=FOLDS).to_json()
        self._cache(digest, report)
        return report

    def _cache(self, digest: str, report: dict[str, Any]) -> None:
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        payload = {"data_sha": digest, "report": report}
        write_atomic(self.cache, json.dumps(payload, ensure_ascii=False).encode())

    def comparison(self) -> Comparison | None:
        try:
            meta = json.loads((self.folder / "meta.json").read_text("utf-8"))
            candidate = json.loads((self.folder / "report.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        active = None
        try:
            cached = json.loads(self.cache.read_text("utf-8"))
            if self.data_path.exists() and cached.get("data_sha") == sha256(
                self.data_path.read_bytes()
            ):
                active = cached["report"]
        except (OSError, ValueError, KeyError):
            pass
        return Comparison(candidate, active, str(meta["data_sha"]))

    def candidate_engine(self, articles: Iterable[str]) -> NluEngine | None:
        if not (self.folder / "model" / "model.json").exists():
            return None
        model, _ = IntentModel.load(self.folder / "model")
        data = load_training_data(self.folder / "nlu.yml")
        return NluEngine(model, data, threshold=self.threshold, articles=articles)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def activate(self, articles: Iterable[str]) -> NluEngine:
        """Put the candidate in force (runs in a thread); return the engine for new calls."""
        text = (self.folder / "nlu.yml").read_bytes()
        report = json.loads((self.folder / "report.json").read_text("utf-8"))
        write_atomic(self.data_path, text)
        replace_dir(self.folder / "model", self.model_dir)
        self._cache(sha256(text), report)
        engine = NluEngine.load(
            self.data_path, self.model_dir, threshold=self.threshold, articles=articles
        )
        self.discard()
        return engine

    def restore(self, text: bytes, articles: Iterable[str]) -> NluEngine:
        """Write ``text`` in force and train it now (rollback without a candidate)."""
        write_atomic(self.data_path, text)
        train(self.data_path, self.model_dir)
        return NluEngine.load(
            self.data_path, self.model_dir, threshold=self.threshold, articles=articles
        )
