from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from nlu.engine import NluEngine
from nlu.evaluate import cross_validate
from nlu.training_data import load_training_data
from nlu.types import FALLBACK_INTENT
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("хочу сделать заказ", "make_order"),
        ("Хочу оформить заказ.", "make_order"),
        ("где мой заказ", "order_status"),
        ("соедините с оператором", "ask_operator"),
        ("да", "affirm"),
        ("нет", "deny"),
        ("до свидания", "goodbye"),
        ("повторите пожалуйста", "repeat"),
        ("артикул сто двадцать три", "inform"),
        ("Артикул 123, две штуки.", "inform"),
    ],
)
def test_intents(engine: NluEngine, text: str, intent: str) -> None:
    assert engine.parse(text).intent == intent


def test_out_of_scope_falls_back(engine: NluEngine) -> None:
    parse = engine.parse("какая завтра погода на марсе")
    assert parse.intent == FALLBACK_INTENT
    assert parse.confidence < engine.threshold


def test_parse_json_shape(engine: NluEngine) -> None:
    data = engine.parse("артикул сто двадцать три, две штуки").to_json()
    assert set(data) == {"text", "intent", "confidence", "entities"}
    kinds = {(e["entity"], e["value"]) for e in data["entities"]}
    assert ("article", "123") in kinds and ("quantity", "2") in kinds
    assert all(set(e) >= {"entity", "value", "start", "end"} for e in data["entities"])


def test_cross_validation_macro_f1() -> None:
    report = cross_validate(load_training_data(ROOT / "data" / "nlu.yml"), k=5)
    assert report.macro_f1 >= 0.95, report.to_json()["intents"]


def test_model_retrains_when_data_changes(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    shutil.copy(ROOT / "data" / "nlu.yml", data)
    model_dir = tmp_path / "model"
    NluEngine.load(data, model_dir)
    first = json.loads((model_dir / "model.json").read_text("utf-8"))["data_sha256"]
    mtime = (model_dir / "weights.npz").stat().st_mtime_ns
    NluEngine.load(data, model_dir)
    assert (model_dir / "weights.npz").stat().st_mtime_ns == mtime, "unchanged data: no retrain"
    data.write_text(
        data.read_text("utf-8")
        + "\n- intent: weather\n  examples: |\n"
        + "".join(f"    - какая погода {w}\n" for w in ("завтра", "сегодня", "в москве")),
        "utf-8",
    )
    time.sleep(0.01)
    engine = NluEngine.load(data, model_dir)
    second = json.loads((model_dir / "model.json").read_text("utf-8"))["data_sha256"]
    assert second != first
    assert "weather" in engine.model.intents
