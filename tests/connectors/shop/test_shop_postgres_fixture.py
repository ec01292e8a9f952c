"""The PostgreSQL test server: found where Debian puts it, required under make test / CI."""

from __future__ import annotations

import glob

import pytest
import sqlalchemy as sa

from tests.connectors.shop.conftest import postgres_required
from tests.fakes.postgres_server import PostgresServer, PostgresUnavailable, find_bin_dir


def test_missing_server_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PG_BIN", raising=False)
    monkeypatch.setattr(glob, "glob", lambda pattern: [])
    with pytest.raises(PostgresUnavailable, match="apt-get install postgresql"):
        find_bin_dir()


def test_make_test_and_ci_require_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SPEECH_REQUIRE_ENGINES", raising=False)
    assert not postgres_required()
    monkeypatch.setenv("SPEECH_REQUIRE_ENGINES", "1")
    assert postgres_required()
    monkeypatch.delenv("SPEECH_REQUIRE_ENGINES")
    monkeypatch.setenv("CI", "true")
    assert postgres_required()


def test_each_test_gets_its_own_database(postgres: PostgresServer) -> None:
    first, second = postgres.create_database(), postgres.create_database()
    try:
        assert first != second
        engine = sa.create_engine(first)
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SHOW server_encoding")).scalar() == "UTF8"
                assert conn.execute(sa.text("SELECT 'Ведро'")).scalar() == "Ведро"
        finally:
            engine.dispose()
    finally:
        postgres.drop_database(first)
        postgres.drop_database(second)
