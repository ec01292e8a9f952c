"""Missed calls (Case 3, the missed-call manual): one row per call nobody answered.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "missed_calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("missed_at", sa.String(40), nullable=False),
        sa.Column("caller", sa.String(32), nullable=False, server_default=""),
        sa.Column("called", sa.String(64), nullable=False, server_default=""),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(80), nullable=False, server_default=""),
        sa.Column("wait_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("intake", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="not_called_back"),
        sa.Column("status_at", sa.String(40), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("details", sa.Text, nullable=False, server_default="{}"),
        sa.Column("call_id", sa.String(200), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ux_missed_calls_intake_external", "missed_calls", ["intake", "external_id"], unique=True
    )
    op.create_index("ix_missed_calls_caller", "missed_calls", ["caller", "missed_at"])
    op.create_index("ix_missed_calls_status", "missed_calls", ["status", "missed_at"])


def downgrade() -> None:
    op.drop_table("missed_calls")
