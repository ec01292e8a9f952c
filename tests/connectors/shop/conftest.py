"""Shared fixtures of the shop connector tests: a demo shop on SQLite and on PostgreSQL.

``demo_url`` and ``db`` are parametrised over both backends, so every test that uses them
runs twice: ``[sqlite]`` in a temporary file and ``[postgresql]`` in a fresh database of a
real PostgreSQL server that the tests start themselves (:mod:`tests.fakes.postgres_server`,
once per session). Without the server binaries the PostgreSQL cases are skipped on a
developer's machine but FAIL under ``SPEECH_REQUIRE_ENGINES=1`` (``make test``) or ``CI``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.shop.database import ShopDatabase
from connectors.shop.demo import create_demo_shop
from connectors.shop.settings import ShopSettings
from tests.fakes.postgres_server import PostgresServer, PostgresUnavailable

REPO = Path(__file__).resolve().parents[3]
DEMO_SOURCE = REPO / "data" / "shop_demo.yml"
DEMO_CATALOG = REPO / "data" / "catalog.xlsx"
BACKENDS = ["sqlite", "postgresql"]


def postgres_required() -> bool:
    return os.environ.get("SPEECH_REQUIRE_ENGINES") == "1" or bool(os.environ.get("CI"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        if postgres_required():
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    url = postgres.create_database()
    try:
        yield url
    finally:
        postgres.drop_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database of the test's backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def demo_url(empty_url: str) -> str:
    return create_demo_shop(empty_url, source=DEMO_SOURCE, catalog=DEMO_CATALOG)


@pytest.fixture
async def db(demo_url: str) -> AsyncIterator[ShopDatabase]:
    database = await ShopDatabase.open(ShopSettings(url=demo_url))
    try:
        yield database
    finally:
        await database.close()


def count_rows(url_or_engine: str | sa.Engine, table: str) -> int:
    """Rows in ``table`` (a bot or demo table name, never user input)."""
    engine = sa.create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
