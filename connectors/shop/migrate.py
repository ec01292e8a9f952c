"""Create and upgrade the bot's own tables with the Alembic migrations (SQLite, PostgreSQL).

``ShopDatabase.open`` runs :func:`upgrade_engine` by itself (``shop.migrate: true``); run it by
hand before starting several workers, or to see where a database stands::

    python -m connectors.shop.migrate upgrade            # the URL from BOT_SHOP__URL or …
    python -m connectors.shop.migrate --url postgresql+psycopg://bot@db/shop current

The whole upgrade is one transaction: ``BEGIN IMMEDIATE`` on SQLite, and on PostgreSQL a
transaction-scoped advisory lock, so workers that start together migrate one at a time and
the later ones find the schema current. A database already at the newest version is only
read (a read-only SQLite file still opens). The version is kept in ``bot_alembic_version``,
apart from any ``alembic_version`` table of the shop's own application.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from connectors.shop.engine import sqlite_write_engine

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "bot_alembic_version"
PG_LOCK_KEY = 0x626F745F6D6967  # "bot_mig": the advisory lock of the upgrade
DEFAULT_URL = "sqlite:///var/shop.sqlite"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def _upgrade(conn: sa.Connection, target: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    command.upgrade(_config(conn), target)


def upgrade_engine(engine: sa.Engine, target: str = "head") -> str | None:
    """Bring the bot's tables to ``target``; return the revision in force afterwards."""
    if target == "head" and current_revision(engine) == head_revision():
        return head_revision()
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        writer = sqlite_write_engine(engine.url)
        try:
            with writer.begin() as conn:
                _upgrade(conn, target)
        finally:
            writer.dispose()
    else:
        with engine.begin() as conn:
            _upgrade(conn, target)
    return current_revision(engine)


def downgrade_engine(engine: sa.Engine, target: str) -> None:
    """Undo migrations down to ``target`` (``"base"`` removes the bot's tables)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        command.downgrade(_config(conn), target)


def upgrade(url: str, target: str = "head") -> str | None:
    """:func:`upgrade_engine` for a database URL."""
    engine = sa.create_engine(url, hide_parameters=True)
    try:
        return upgrade_engine(engine, target)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.shop.migrate", description="the bot's database migrations"
    )
    parser.add_argument(
        "--url", default=os.environ.get("BOT_SHOP__URL", DEFAULT_URL), help="SQLAlchemy URL"
    )
    parser.add_argument(
        "action", nargs="?", choices=["upgrade", "current", "head"], default="upgrade"
    )
    args = parser.parse_args(argv)
    if args.action == "head":
        print(head_revision())
        return 0
    engine = sa.create_engine(args.url, hide_parameters=True)
    try:
        if args.action == "current":
            print(current_revision(engine) or "none")
            return 0
        before = current_revision(engine)
        after = upgrade_engine(engine)
    except sa.exc.SQLAlchemyError as exc:
        print(f"error: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"bot tables: {before or 'none'} ➜ {after}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
