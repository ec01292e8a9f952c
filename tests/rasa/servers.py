"""A real Rasa for the tests: the Python 3.10 venv, the starter assistant, both servers.

    venv = build_venv()                      # scripts/rasa_venv.sh (cached in .venv-rasa/)
    project = trained_project(venv)          # trained once per set of inputs (cached too)
    actions = ActionServer.start(workdir, shop_url, managers)   # python -m bot rasa-actions
    rasa = RasaServer.start(venv, project, workdir, actions.url)   # rasa run --enable-api
    ...
    rasa.stop(); actions.stop()

Everything listens on 127.0.0.1 at free ports; telemetry is off; each server's output goes
to a log file in ``workdir`` (its tail is in the error when a server does not come up).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bot.rasa.project import TRAIN_ARGS, assemble, layout, model_path, training_digest
from tests.conftest import ROOT
from tests.fakes.smtp_server import free_port

VENV = Path(os.environ.get("RASA_VENV", ROOT / ".venv-rasa"))
PROJECTS = VENV / "projects"  # trained starter assistants, by the digest of their inputs
RASA_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
BUILD_TIMEOUT_S = 1800
TRAIN_TIMEOUT_S = 900
START_TIMEOUT_S = 180


class NoPython310(RuntimeError):
    """This machine has no Python 3.10: Rasa Open Source 3.6 cannot run here."""


@dataclass
class Timings:
    venv_s: float = 0.0
    train_s: float = 0.0
    trained: bool = False  # False: the cached model was used
    start_s: float = 0.0


TIMINGS = Timings()


def python310() -> str | None:
    found = subprocess.run(
        ["bash", "scripts/rasa_venv.sh", "--python"], cwd=ROOT, capture_output=True, text=True
    )
    return found.stdout.strip() or None if found.returncode == 0 else None


def build_venv() -> Path:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "scripts/rasa_venv.sh", str(VENV)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    TIMINGS.venv_s = time.monotonic() - started
    if done.returncode == 3:
        raise NoPython310(done.stderr.strip())
    if done.returncode != 0:
        raise RuntimeError(f"building the Rasa venv failed:\n{done.stderr[-3000:]}")
    return VENV


def _env() -> dict[str, str]:
    return {**os.environ, **RASA_ENV}


def trained_project(venv: Path) -> Path:
    files = layout(
        ROOT / "data" / "rasa", ROOT / "data" / "nlu.yml", ROOT / "data" / "responses.yml"
    )
    digest = training_digest(files)[:16]
    project = PROJECTS / digest
    if model_path(project).is_file():
        return project
    started = time.monotonic()
    work = PROJECTS / f"{digest}.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    assemble(work, files)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "rasa", *TRAIN_ARGS],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_S,
    )
    if done.returncode != 0 or not model_path(work).is_file():
        raise RuntimeError(f"rasa train failed:\n{(done.stdout + done.stderr)[-3000:]}")
    with contextlib.suppress(OSError):
        work.rename(project)  # another run may have won the race: its model is as good
    shutil.rmtree(work, ignore_errors=True)
    TIMINGS.train_s, TIMINGS.trained = time.monotonic() - started, True
    return project


def _get(url: str, timeout: float = 2.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bytes(response.read()) if response.status == 200 else None
    except OSError:
        return None


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait(self, probe: str, ready: bytes, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            body = _get(self.url + probe)
            if body is not None and ready in body:
                return
            time.sleep(0.3)
        tail = self.log_path.read_text("utf-8", "replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{what} did not come up on {self.url}:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _spawn(
    args: list[str], cwd: Path, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)


class ActionServer(Server):
    @classmethod
    def start(cls, workdir: Path, shop_url: str, managers: Path) -> ActionServer:
        port = free_port()
        env = {
            **os.environ,
            "BOT_SHOP__URL": shop_url,
            "BOT_SERVER__MANAGERS_FILE": str(managers),
            "BOT_NLU__MODEL_DIR": str(workdir / "nlu-model"),
            "BOT_SHOP__ORDERS__JOURNAL": str(workdir / "orders-journal.jsonl"),
        }
        env.pop("BOT_CONFIG", None)
        log_path = workdir / "rasa-actions.log"
        args = [sys.executable, "-m", "bot", "rasa-actions", "--port", str(port)]
        server = cls(_spawn(args, ROOT, env, log_path), port, log_path)
        server.wait("/health", b"ok", "the action server")
        return server


class RasaServer(Server):
    @classmethod
    def start(cls, venv: Path, project: Path, workdir: Path, actions_url: str) -> RasaServer:
        started = time.monotonic()
        port = free_port()
        endpoints = workdir / "endpoints.yml"
        endpoints.write_text(f'action_endpoint:\n  url: "{actions_url}/webhook"\n', "utf-8")
        log_path = workdir / "rasa.log"
        args = [
            str(venv / "bin" / "python"), "-m", "rasa", "run", "--enable-api",
            "--model", str(model_path(project)), "--endpoints", str(endpoints),
            "--credentials", str(project / "credentials.yml"),
            "--interface", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
        server = cls(_spawn(args, workdir, _env(), log_path), port, log_path)
        server.wait("/status", b"model_file", "rasa run --enable-api")
        TIMINGS.start_s = time.monotonic() - started
        return server
