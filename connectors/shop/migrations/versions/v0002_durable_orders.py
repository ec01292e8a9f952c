"""Durable orders: drafts per call, workers, outbox leases, Message-ID keys, article keys.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-02
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from connectors.shop.articles import article_key

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bot_orders", sa.Column("call_key", sa.String(200), nullable=True))
    op.add_column("bot_orders", sa.Column("worker_id", sa.String(64), nullable=True))
    op.add_column(
        "bot_orders", sa.Column("state", sa.String(16), nullable=False, server_default="final")
    )
    op.add_column(
        "bot_orders", sa.Column("revision", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column("bot_orders", sa.Column("updated_at", sa.String(40), nullable=True))
    op.create_index("ux_bot_orders_call_key", "bot_orders", ["call_key"], unique=True)
    op.create_index("ix_bot_orders_state_worker", "bot_orders", ["state", "worker_id"])

    op.add_column("outbox", sa.Column("message_key", sa.String(200), nullable=True))
    op.add_column("outbox", sa.Column("leased_until", sa.String(40), nullable=True))
    op.add_column("outbox", sa.Column("claimed_at", sa.String(40), nullable=True))
    op.add_column("outbox", sa.Column("claim_token", sa.String(40), nullable=True))
    op.create_index("ix_outbox_order", "outbox", ["order_id"])

    op.add_column("catalog", sa.Column("article_key", sa.String(64), nullable=True))
    op.create_index("ix_catalog_article_key", "catalog", ["article_key"])
    catalog = sa.table("catalog", sa.column("article", sa.String), sa.column("article_key"))
    bind = op.get_bind()
    for (article,) in bind.execute(sa.select(catalog.c.article)).all():
        bind.execute(
            catalog.update()
            .where(catalog.c.article == article)
            .values(article_key=article_key(str(article)))
        )

    op.create_table(
        "bot_workers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("pid_start", sa.String(32), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("heartbeat_at", sa.String(40), nullable=False),
        sa.Column("stopped_at", sa.String(40), nullable=True),
    )
    meta = op.create_table(
        "bot_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.bulk_insert(meta, [{"key": "instance", "value": secrets.token_hex(5)}])


def downgrade() -> None:
    op.drop_table("bot_meta")
    op.drop_table("bot_workers")
    with op.batch_alter_table("catalog") as batch:
        batch.drop_index("ix_catalog_article_key")
        batch.drop_column("article_key")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_order")
        for column in ("claim_token", "claimed_at", "leased_until", "message_key"):
            batch.drop_column(column)
    with op.batch_alter_table("bot_orders") as batch:
        batch.drop_index("ix_bot_orders_state_worker")
        batch.drop_index("ux_bot_orders_call_key")
        for column in ("updated_at", "revision", "state", "worker_id", "call_key"):
            batch.drop_column(column)
