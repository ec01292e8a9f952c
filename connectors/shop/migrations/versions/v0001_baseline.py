"""Baseline: the tables the bot created before migrations existed.

Databases made by the old code already have them; then this step only records the version.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "catalog" not in existing:
        op.create_table(
            "catalog",
            sa.Column("article", sa.String(64), primary_key=True),
            sa.Column("name", sa.String(500), nullable=False),
            sa.Column("unit", sa.String(32), nullable=False, server_default="шт"),
        )
    if "bot_orders" not in existing:
        op.create_table(
            "bot_orders",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("caller", sa.String(64)),
            sa.Column("called", sa.String(64)),
            sa.Column("call_time", sa.String(40)),
            sa.Column("status", sa.String(64)),
            sa.Column("created_at", sa.String(40)),
            sqlite_autoincrement=True,
        )
    if "bot_order_items" not in existing:
        op.create_table(
            "bot_order_items",
            sa.Column("order_id", sa.Integer, sa.ForeignKey("bot_orders.id"), primary_key=True),
            sa.Column("position", sa.Integer, primary_key=True),
            sa.Column("article", sa.String(64), nullable=False),
            sa.Column("name", sa.String(500), nullable=False),
            sa.Column("quantity", sa.Integer, nullable=False),
        )
    if "outbox" not in existing:
        op.create_table(
            "outbox",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("order_id", sa.Integer, sa.ForeignKey("bot_orders.id"), nullable=True),
            sa.Column("created_at", sa.String(40), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("next_attempt_at", sa.String(40), nullable=False),
            sa.Column("last_error", sa.String(500), nullable=True),
            sa.Column("sent_at", sa.String(40), nullable=True),
            sqlite_autoincrement=True,
        )
        op.create_index("ix_outbox_due", "outbox", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    for table in ("outbox", "bot_order_items", "bot_orders", "catalog"):
        op.drop_table(table)
