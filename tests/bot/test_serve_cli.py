"""``python -m bot serve`` as a process: it starts, says where it listens, and SIGTERM stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_serve_starts_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BOT_SHOP__URL": f"sqlite:///{tmp_path / 'shop.sqlite'}",
        "BOT_NLU__MODEL_DIR": str(tmp_path / "nlu"),
        "BOT_SERVER__HTTP__PORT": "0",
        "BOT_SERVER__ASTERISK__AUDIOSOCKET_PORT": "0",
        "BOT_SERVER__ASTERISK__AGI_PORT": "0",
        "BOT_SERVER__TRANSCRIPTS_DIR": str(tmp_path / "transcripts"),
        "BOT_DEMO__MAIL_SINK": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "python -m bot dial" in line:
                break
        text = "".join(lines)
        for endpoint in ("audiosocket", "fastagi", "http"):
            assert endpoint in text, text
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "stopped" in out
        assert "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
