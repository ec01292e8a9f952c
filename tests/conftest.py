"""Shared fixtures: paths, the trained NLU engine (trained once per test session)."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

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


# Under ``make test`` (``SPEECH_REQUIRE_ENGINES=1``) and in CI nothing may be skipped: every
# engine, server and browser the tests need is installed by the project's scripts, so a skip
# means a test that should have run here did not.
REQUIRE_ALL = os.environ.get("SPEECH_REQUIRE_ENGINES") == "1" or bool(os.environ.get("CI"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under make test, where it must run: {reason}"
