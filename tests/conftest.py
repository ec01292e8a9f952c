"""Shared fixtures: paths, the trained NLU engine (trained once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.engine import NluEngine

ROOT = Path(__file__).resolve().parents[1]
PEER_TESTS = ROOT.parent / "shared" / "peer-tests"
DEMO_ARTICLES = ["123", "1245", "007", "7715", "4512", "555", "10", "2024", "31337"]


@pytest.fixture(scope="session")
def nlu_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nlu-model")


@pytest.fixture(scope="session")
def engine(nlu_model_dir: Path) -> NluEngine:
    return NluEngine.load(ROOT / "data" / "nlu.yml", nlu_model_dir, articles=DEMO_ARTICLES)
