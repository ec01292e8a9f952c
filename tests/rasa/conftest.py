"""Fixtures for the real-Rasa tests: one Rasa server and one action server per test session.

Without Python 3.10 on the machine the real-Rasa tests are skipped, and the run says so in
one line. With it they must run: the venv is built if missing (``scripts/rasa_venv.sh``), and
a failed build, training or start fails the tests, in CI too. When the servers came up, the
marker ``var/ci/rasa-tests-ran`` is written: ``.ci/run`` fails a run that has Python 3.10
but no marker (the tests were skipped or deselected).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.shop.demo import create_demo_shop
from tests.conftest import ROOT
from tests.rasa import servers

MARKER = ROOT / "var" / "ci" / "rasa-tests-ran"
MANAGERS = "+79031112233=107\n"  # Сергей has a personal manager
_state: dict[str, str] = {}


@dataclass
class RasaStack:
    rasa_url: str
    actions_url: str
    shop_url: str
    workdir: Path
    managers: Path


@pytest.fixture(scope="session")
def rasa_venv() -> Path:
    try:
        venv = servers.build_venv()
    except servers.NoPython310 as exc:
        _state["skipped"] = str(exc)
        pytest.skip(f"real-Rasa tests skipped: {exc}")
    except Exception as exc:  # Python 3.10 is here: not being able to use it is a failure
        pytest.fail(f"the Rasa venv could not be built: {exc}")
    return venv


@pytest.fixture(scope="session")
def rasa_stack(rasa_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaStack]:
    workdir = tmp_path_factory.mktemp("rasa")
    started = time.monotonic()
    try:
        project = servers.trained_project(rasa_venv)
    except Exception as exc:
        pytest.fail(f"the starter Rasa assistant could not be trained: {exc}")
    shop_url = create_demo_shop(workdir / "shop.sqlite")
    managers = workdir / "managers.txt"
    managers.write_text(MANAGERS, "utf-8")
    actions = rasa = None
    try:
        actions = servers.ActionServer.start(workdir, shop_url, managers)
        rasa = servers.RasaServer.start(rasa_venv, project, workdir, actions.url)
    except Exception as exc:
        for server in (rasa, actions):
            if server is not None:
                server.stop()
        pytest.fail(str(exc))
    _state["ready_s"] = f"{time.monotonic() - started:.0f}"
    MARKER.parent.mkdir(parents=True, exist_ok=True)
    MARKER.write_text(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} rasa {rasa.url}\n", "utf-8")
    try:
        yield RasaStack(rasa.url, actions.url, shop_url, workdir, managers)
    finally:
        rasa.stop()
        actions.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "skipped" in _state:
        terminalreporter.write_line(f"rasa: real-Rasa tests skipped: {_state['skipped']}")
    elif "ready_s" in _state:
        t = servers.TIMINGS
        trained = f"trained {t.train_s:.0f} s" if t.trained else "model from the cache"
        terminalreporter.write_line(
            f"rasa: real Rasa 3.6.21 ready in {_state['ready_s']} s (venv check/build "
            f"{t.venv_s:.0f} s, {trained}, rasa run {t.start_s:.0f} s)"
        )
