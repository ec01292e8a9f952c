"""The bot's own tables in the shop database and how values are stored in them.

The shop's tables (``shop_orders``, ``shop_orders_status``, ``users``) belong to the shop and
are only read. The bot adds four tables of its own, created when missing:

- ``catalog``: the product catalog, replaced as a whole by each ``.xlsx`` upload;
- ``bot_orders`` + ``bot_order_items``: the orders taken on the phone;
- ``outbox``: e-mails waiting to be sent (one row per order), retried until the SMTP server
  accepts them.

Times are stored as ISO 8601 text. Outbox times are always UTC with a fixed width, so that
text comparison in SQL is time comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa

from connectors.shop.records import CatalogItem

ARTICLE_MAX = 64
NAME_MAX = 500

metadata = sa.MetaData()

catalog = sa.Table(
    "catalog",
    metadata,
    sa.Column("article", sa.String(ARTICLE_MAX), primary_key=True),
    sa.Column("name", sa.String(NAME_MAX), nullable=False),
    sa.Column("unit", sa.String(32), nullable=False, server_default="шт"),
)

bot_orders = sa.Table(
    "bot_orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("caller", sa.String(64)),
    sa.Column("called", sa.String(64)),
    sa.Column("call_time", sa.String(40)),
    sa.Column("status", sa.String(64)),
    sa.Column("created_at", sa.String(40)),
    sqlite_autoincrement=True,
)

bot_order_items = sa.Table(
    "bot_order_items",
    metadata,
    sa.Column("order_id", sa.Integer, sa.ForeignKey("bot_orders.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("article", sa.String(ARTICLE_MAX), nullable=False),
    sa.Column("name", sa.String(NAME_MAX), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("bot_orders.id"), nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.String(40), nullable=False),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("sent_at", sa.String(40), nullable=True),
    sa.Index("ix_outbox_due", "sent_at", "next_attempt_at"),
    sqlite_autoincrement=True,
)

OUTBOX_ORDER_EMAIL = "order_email"


def create_bot_tables(engine: sa.Engine) -> None:
    """Create the bot's tables that are missing (never touches existing ones)."""
    metadata.create_all(engine, checkfirst=True)


def replace_catalog_rows(conn: sa.Connection, items: Iterable[CatalogItem]) -> int:
    """Replace the whole catalog inside the caller's transaction; return the row count."""
    rows = [{"article": i.article, "name": i.name, "unit": i.unit} for i in items]
    conn.execute(catalog.delete())
    if rows:
        conn.execute(catalog.insert(), rows)
    return len(rows)


def utc(moment: datetime | None = None) -> datetime:
    """An aware UTC datetime; ``None`` means now, a naive value is taken as local time."""
    if moment is None:
        return datetime.now(UTC)
    return moment.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC ISO text (sorts like the time it stands for)."""
    return utc(moment).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`utc_text` (also reads any ISO 8601 text Python understands)."""
    return datetime.fromisoformat(text)
