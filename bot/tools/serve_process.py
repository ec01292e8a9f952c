"""A ``python -m bot serve`` child process for benchmarks and tests: its own config file,
its addresses read from what it prints, its log captured in a file, stop or ``kill -9``.

    with ServeProcess(folder, {"server": {"max_calls": 50}}) as bot:
        await bot.started()
        bot.addresses["fastagi"]          # "agi://127.0.0.1:40123/"
        bot.kill()                        # SIGKILL, as a crash
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SHARED_TTS_CACHE = REPO / "var" / "tts-cache"  # prompts synthesized once for every run


def base_config(folder: Path, *, mail_port: int, secret: str | None = None) -> dict[str, Any]:
    """A config for a throw-away server in ``folder``: its own SQLite shop and journal, free
    ports, no SIP, the mail at ``mail_port`` (an SMTP sink the caller runs, or nothing)."""
    return {
        "nlu": {"model_dir": str(folder.parent / "nlu-model")},
        "shop": {
            "url": f"sqlite:///{folder / 'shop.sqlite'}",
            "orders": {
                "journal": str(folder / "orders-journal.jsonl"),
                "maintenance_interval": 1.0,
            },
        },
        "demo": {"mail_sink": False},
        "mail": {"host": "127.0.0.1", "port": mail_port, "timeout": 2.0},
        "outbox": {"base_delay": 0.5, "max_delay": 2.0, "poll_interval": 0.5},
        "voice": {"tts": {"cache_dir": str(SHARED_TTS_CACHE)}},
        "recordings": {"dir": str(folder / "recordings")},
        "server": {
            "http": {"port": 0, "secret": secret},
            "asterisk": {"audiosocket_port": 0, "agi_port": 0},
            "sip": {"enabled": False},
            "managers_file": None,
            "transcripts_dir": str(folder / "transcripts"),
            "shutdown_grace": 2.0,
            "overload_lag_ms": 0,  # a loaded test machine must not turn calls away
        },
    }


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


class ServeProcess:
    def __init__(self, folder: Path, config: dict[str, Any], *, name: str = "serve") -> None:
        self.folder = folder
        self.config = config
        self.name = name
        self.log_path = folder / f"{name}.log"
        self.out_path = folder / f"{name}.out"
        self.addresses: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0
        self._out_offset = 0

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        config_path = self.folder / f"{self.name}.yml"
        config_path.write_text(yaml.safe_dump(self.config, allow_unicode=True), "utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
        env["PYTHONUNBUFFERED"] = "1"
        self._started_at = time.monotonic()
        self._out_offset = self.out_path.stat().st_size if self.out_path.exists() else 0
        with self.log_path.open("ab") as log, self.out_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(config_path), "serve"],
                cwd=REPO,
                stdout=out,
                stderr=log,
                env=env,
            )

    async def started(self, timeout: float = 120.0) -> dict[str, str]:
        """Until the server printed where it listens; its addresses."""
        if self.process is None:
            self.start()
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            with self.out_path.open("rb") as out:  # this start's output only
                out.seek(self._out_offset)
                text = out.read().decode("utf-8", "replace")
            if "Place a test call" in text:
                break
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"bot serve exited with {self.process.returncode}: {self.tail()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"bot serve did not start within {timeout:g} s: {self.tail()}")
            await asyncio.sleep(0.1)
        self.start_seconds = time.monotonic() - self._started_at
        for line in text.split("Place a test call", 1)[0].splitlines():
            parts = line.split(None, 1)
            if line.startswith("  ") and len(parts) == 2:
                self.addresses[parts[0]] = parts[1].strip()
        return self.addresses

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def agi(self) -> tuple[str, int]:
        host, port = self.addresses["fastagi"].removeprefix("agi://").rstrip("/").rsplit(":", 1)
        return host, int(port)

    def http(self) -> str:
        return self.addresses["http"]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the server process (``VmRSS``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def kill(self) -> None:
        """SIGKILL: a crash, nothing is cleaned up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    async def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait (calls finish or go to an operator); the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if self.process.poll() is None:
                self.kill()
        return int(self.process.returncode)

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
