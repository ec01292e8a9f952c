from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def run_bot(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_nlu_parse_prints_one_json_per_line(tmp_path: Path) -> None:
    env = {"BOT_NLU__MODEL_DIR": str(tmp_path / "model")}
    result = run_bot("nlu", "parse", stdin="артикул сто двадцать три, две штуки\n\nда\n", env=env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    first = {(e["entity"], e["value"]) for e in lines[0]["entities"]}
    assert ("quantity", "2") in first
    assert ("article", "123") in first or ("number", "123") in first
    assert lines[1]["intent"] == "affirm"


def test_broken_nlu_yml_gives_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "nlu.yml"
    broken.write_text('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    oops\n', "utf-8")
    env = {"BOT_NLU__DATA": str(broken), "BOT_NLU__MODEL_DIR": str(tmp_path / "m")}
    result = run_bot("train", env=env)
    assert result.returncode == 2
    assert f"{broken}:5:" in result.stderr


def test_bad_config_value_is_named(tmp_path: Path) -> None:
    result = run_bot("train", env={"BOT_NLU__THRESHOLD": "lots"})
    assert result.returncode == 2
    assert "nlu.threshold" in result.stderr


def test_evaluate_writes_report_and_png(tmp_path: Path) -> None:
    result = run_bot("nlu", "evaluate", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert report["macro_f1"] >= 0.95
    assert (tmp_path / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "macro" in result.stdout
