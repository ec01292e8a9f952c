"""A real PostgreSQL server for tests: Debian's ``postgresql`` binaries in a temporary folder.

    server = PostgresServer.start()        # initdb + pg_ctl start on a free loopback port
    url = server.create_database()         # a fresh database: postgresql+psycopg://…/t_1
    ...
    server.stop()

The server runs from ``/usr/lib/postgresql/<newest>/bin`` (or ``$PG_BIN``). PostgreSQL refuses
to run as root, so under root it runs as the ``postgres`` system user (created by Debian's
package) through ``runuser``; the data folder is made for that user. Authentication is
``trust`` on 127.0.0.1 only; the server is stopped (``pg_ctl stop -m immediate``) and its
folder removed at the end.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.smtp_server import free_port

SUPERUSER = "bot"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed here."""


def find_bin_dir() -> Path:
    """The folder with ``initdb`` and ``pg_ctl``: ``$PG_BIN`` or Debian's newest version."""
    explicit = os.environ.get("PG_BIN")
    candidates = [explicit] if explicit else []

    def version(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN)"
    )


def _run_as() -> str | None:
    """The system user to run the server as when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable("running as root and there is no 'postgres' user to run the server")


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    user: str | None
    host: str = "127.0.0.1"
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _cmd(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return command

    @classmethod
    def start(cls, bin_dir: Path | None = None) -> PostgresServer:
        bin_dir = bin_dir or find_bin_dir()
        user = _run_as()
        root = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        server = cls(bin_dir, root, free_port(), user)
        try:
            server._initdb()
            server._pg_ctl_start()
        except BaseException:
            server.stop()
            raise
        return server

    def _initdb(self) -> None:
        subprocess.run(
            self._cmd(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            cwd=self.root,
        )

    def _pg_ctl_start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses={self.host} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100"
        )
        result = subprocess.run(
            self._cmd(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.root / "server.log"),
                "-o",
                options,
            ),
            capture_output=True,
            text=True,
            cwd=self.root,
        )
        if result.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {result.stderr.strip()}\n{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]  # test-made names only

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"t_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with contextlib.suppress(Exception):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            subprocess.run(
                self._cmd("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data_dir)),
                capture_output=True,
                cwd=self.root,
                timeout=60,
            )
        for _ in range(50):
            if not (self.data_dir / "postmaster.pid").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
