"""Connections to the shop database and the threads that use them.

Two SQLAlchemy engines over the same database, each with its own bounded thread pool:

- **reads** (customer look-ups, the catalog): SQLite busy timeout / PostgreSQL
  ``statement_timeout`` = ``read_timeout``;
- **writes** (orders, outbox, catalog replacement, workers): a short lock wait
  (``write_busy_timeout``: SQLite busy timeout, PostgreSQL ``lock_timeout``), so a locked
  database fails a write fast and the order store can retry and fall back to its journal.

On SQLite the database is switched to WAL journaling when it is opened: readers then never
wait for a writer (a greeting is answered while another connection holds the write lock),
and every write transaction starts with ``BEGIN IMMEDIATE`` (the write lock is taken at once,
never upgraded half-way). ``synchronous`` stays FULL: a committed order survives a power cut.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import math
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from connectors.shop.settings import ShopSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class DbExecutor:
    """A bounded pool of threads for blocking database calls (never the event loop)."""

    def __init__(self, name: str, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"db-{name}")

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        call = functools.partial(context.run, func, *args)
        return await loop.run_in_executor(self._pool, call)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def _is_memory(url: sa.URL) -> bool:
    database = url.database
    return not database or database == ":memory:" or url.query.get("mode") == "memory"


def make_sqlite_folder(url: str | sa.URL) -> None:
    """Create the folder of a SQLite file database. For a ``file:`` URI
    (``sqlite:///file:/path/shop.sqlite?uri=true``) that is the folder of its path, and none
    for a read-only one (``mode=ro``: the file must exist); taking the whole URI for a path
    made folders named ``file:``. In-memory databases have no folder."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or _is_memory(parsed):
        return
    path = parsed.database or ""
    if path.startswith("file:"):
        if parsed.query.get("mode") == "ro":
            return
        path = urllib.parse.urlsplit(path).path
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: sa.URL, busy_timeout: float, begin: str, pool: Any = None) -> sa.Engine:
    kwargs: dict[str, Any] = {"hide_parameters": True}
    connect_args: dict[str, Any] = {"timeout": busy_timeout, "check_same_thread": False}
    if pool is not None:
        kwargs["poolclass"] = pool
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def sqlite_write_engine(url: str | sa.URL, busy_timeout: float = 5.0) -> sa.Engine:
    """A SQLite engine whose transactions start with ``BEGIN IMMEDIATE`` (migrations, demo)."""
    return _sqlite_engine(sa.make_url(url), busy_timeout, "BEGIN IMMEDIATE")


def _pg_options(**settings: float) -> str:
    return " ".join(f"-c {name}={int(value * 1000)}" for name, value in settings.items())


@dataclass
class Engines:
    """The read and the write engine of one database (the same one for in-memory SQLite)."""

    read: sa.Engine
    write: sa.Engine
    backend: str

    def dispose(self) -> None:
        self.read.dispose()
        if self.write is not self.read:
            self.write.dispose()


def make_engines(settings: ShopSettings) -> Engines:
    url = sa.make_url(settings.url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if _is_memory(url):
            # one shared connection: two engines would be two different empty databases
            engine = _sqlite_engine(url, settings.read_timeout, "BEGIN IMMEDIATE", StaticPool)
            return Engines(engine, engine, backend)
        make_sqlite_folder(url)
        read = _sqlite_engine(url, settings.read_timeout, "BEGIN")
        write = _sqlite_engine(url, settings.write_busy_timeout, "BEGIN IMMEDIATE")
        return Engines(read, write, backend)
    connect_timeout = max(2, math.ceil(settings.connect_timeout))
    common: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": True}
    read_args: dict[str, Any] = {}
    write_args: dict[str, Any] = {}
    if backend == "postgresql":
        read_args = {
            "connect_timeout": connect_timeout,
            "options": _pg_options(statement_timeout=settings.read_timeout),
        }
        write_args = {
            "connect_timeout": connect_timeout,
            "options": _pg_options(
                lock_timeout=settings.write_busy_timeout,
                statement_timeout=max(10.0, settings.read_timeout),
            ),
        }
    read = sa.create_engine(
        url,
        connect_args=read_args,
        pool_size=settings.read_workers,
        max_overflow=2,
        pool_timeout=settings.read_timeout,
        **common,
    )
    write = sa.create_engine(
        url,
        connect_args=write_args,
        pool_size=settings.write_workers,
        max_overflow=2,
        pool_timeout=10,
        **common,
    )
    return Engines(read, write, backend)


def enable_wal(engine: sa.Engine) -> str | None:
    """Switch a SQLite file to WAL journaling (kept in the file); return the mode in force."""
    if engine.dialect.name != "sqlite" or _is_memory(engine.url):
        return None
    raw = engine.raw_connection()  # outside any transaction: the mode cannot change inside one
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        row = cursor.fetchone()
        cursor.close()
        mode = row[0] if row else None
    except Exception as exc:  # read-only or locked: keep what the file has
        log.warning(
            "could not switch the SQLite database to WAL", extra={"error": type(exc).__name__}
        )
        return None
    finally:
        raw.close()
    if str(mode).lower() != "wal":
        log.warning("SQLite database is not in WAL mode", extra={"journal_mode": str(mode)})
    return str(mode).lower()
