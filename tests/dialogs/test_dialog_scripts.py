"""Every YAML dialog script under ``scripts/`` played through NLU + policy + demo shop."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.engine import NluEngine
from tests.dialogs.dialog_runner import SCRIPTS, load_script, run_dialog

SCRIPT_FILES = sorted(SCRIPTS.glob("*.yml"))


def test_there_are_scripts() -> None:
    assert len(SCRIPT_FILES) >= 10


@pytest.mark.parametrize("path", SCRIPT_FILES, ids=[p.stem for p in SCRIPT_FILES])
async def test_dialog_script(path: Path, engine: NluEngine, tmp_path: Path) -> None:
    await run_dialog(load_script(path), engine, tmp_path)
