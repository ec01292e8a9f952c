"""The bot's tables come from Alembic migrations, on SQLite and PostgreSQL, old files included."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from connectors.shop import migrate, schema
from connectors.shop.database import ShopDatabase
from connectors.shop.mail import SmtpSettings
from connectors.shop.order_store import OrderStore
from connectors.shop.outbox import Outbox
from connectors.shop.settings import OrderStoreSettings, ShopSettings
from tests.connectors.shop.conftest import REPO, count_rows
from tests.fakes.smtp_server import SmtpSink

OLD_DATABASE = Path(__file__).with_name("data") / "shop_before_migrations.sql"
BOT_TABLES = {"catalog", "bot_orders", "bot_order_items", "outbox", "bot_workers", "bot_meta"}


def _differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": migrate.VERSION_TABLE, "compare_type": True}
        )
        diffs = compare_metadata(context, schema.metadata)
    # the shop's own tables are not ours to describe
    return [d for d in diffs if not (isinstance(d, tuple) and d[0] == "remove_table")]


def test_a_new_database_gets_the_newest_schema(empty_url: str) -> None:
    assert migrate.upgrade(empty_url) == migrate.head_revision()
    engine = sa.create_engine(empty_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) >= BOT_TABLES
        assert _differences(engine) == []
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert migrate.upgrade_engine(engine) == migrate.head_revision()  # idempotent
        with engine.connect() as conn:
            token = conn.execute(sa.text("SELECT value FROM bot_meta")).scalar_one()
        assert len(token) == 10
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = sa.create_engine(empty_url)
    try:
        migrate.downgrade_engine(engine, "0001")
        assert migrate.current_revision(engine) == "0001"
        assert "bot_workers" not in sa.inspect(engine).get_table_names()
        columns = {c["name"] for c in sa.inspect(engine).get_columns("bot_orders")}
        assert "call_key" not in columns
        assert migrate.upgrade_engine(engine) == migrate.head_revision()
        assert _differences(engine) == []
    finally:
        engine.dispose()


def _old_demo_database(tmp_path: Path) -> str:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_DATABASE.read_text(encoding="utf-8"))
    return f"sqlite:///{path}"


async def test_an_old_demo_database_is_upgraded_and_keeps_everything(tmp_path: Path) -> None:
    url = _old_demo_database(tmp_path)
    before = {t: count_rows(url, t) for t in ("catalog", "bot_orders", "outbox", "shop_orders")}
    assert before == {"catalog": 30, "bot_orders": 2, "outbox": 2, "shop_orders": 8}
    db = await ShopDatabase.open(ShopSettings(url=url))
    try:
        assert {t: count_rows(db.engine, t) for t in before} == before
        assert migrate.current_revision(db.engine) == migrate.head_revision()
        assert _differences(db.engine) == []
        item = await db.find_article(" 00 7 ")  # article keys were filled in
        assert item is not None and item.article == "007"
        with SmtpSink() as sink:
            assert await Outbox(db, SmtpSettings(port=sink.port)).deliver_due() == 1
            [legacy] = sink.messages
        assert legacy["Message-ID"] == "<order-2@localhost>"  # queued by the old code
        store = OrderStore(db, OrderStoreSettings(journal=tmp_path / "j.jsonl"))
        order = await db.load_order(1)
        assert order is not None
        new_id = await store.submit("call-1", order)
        assert new_id == 3
        assert await db.order_state(1) == ("final", "принят успешно")
    finally:
        await db.close()
    with sqlite3.connect(tmp_path / "shop.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migration_command_line(tmp_path: Path) -> None:
    url = _old_demo_database(tmp_path)
    command = [sys.executable, "-m", "connectors.shop.migrate", "--url", url]
    current = subprocess.run([*command, "current"], cwd=REPO, capture_output=True, text=True)
    assert current.stdout.strip() == "none"
    done = subprocess.run([*command, "upgrade"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"bot tables: none ➜ {migrate.head_revision()}"
    again = subprocess.run([*command, "current"], cwd=REPO, capture_output=True, text=True)
    assert again.stdout.strip() == migrate.head_revision()


def test_two_workers_migrating_at_once(pg_url: str) -> None:
    """Two processes start together on an empty PostgreSQL database: one migrates, the other
    waits for the advisory lock and finds the schema current."""
    command = [sys.executable, "-m", "connectors.shop.migrate", "--url", pg_url, "upgrade"]
    workers = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)]
    workers.append(subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True))
    outputs = sorted(w.communicate(timeout=60)[0].strip() for w in workers)
    assert [w.returncode for w in workers] == [0, 0]
    head = migrate.head_revision()
    assert outputs[0].endswith(head) and outputs[1].endswith(head)
    engine = sa.create_engine(pg_url)
    try:
        assert count_rows(engine, migrate.VERSION_TABLE) == 1
        assert count_rows(engine, "bot_meta") == 1
    finally:
        engine.dispose()


async def test_a_read_only_database_at_the_newest_version_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "shop.sqlite"
    migrate.upgrade(f"sqlite:///{path}")
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    db = await ShopDatabase.open(ShopSettings(url=url))
    try:
        assert await db.articles() == []
    finally:
        await db.close()
