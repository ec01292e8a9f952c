"""SMS for missed calls (Case 3): every decision with its reason, and the SMS outbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("missed_call_id", sa.Integer, nullable=True),
        sa.Column("caller", sa.String(32), nullable=False, server_default=""),
        sa.Column("to_number", sa.String(32), nullable=False, server_default=""),
        sa.Column("called", sa.String(64), nullable=False, server_default=""),
        sa.Column("source", sa.String(80), nullable=False, server_default=""),
        sa.Column("rule", sa.String(80), nullable=False, server_default=""),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.String(40), nullable=True),
        sa.Column("leased_until", sa.String(40), nullable=True),
        sa.Column("claim_token", sa.String(40), nullable=True),
        sa.Column("sent_at", sa.String(40), nullable=True),
        sa.Column("gateway", sa.String(16), nullable=False, server_default=""),
        sa.Column("gateway_id", sa.String(200), nullable=True),
        sa.Column("parts", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ux_sms_messages_missed_call", "sms_messages", ["missed_call_id"], unique=True)
    op.create_index("ix_sms_messages_caller", "sms_messages", ["caller", "decided_at"])
    op.create_index("ix_sms_messages_due", "sms_messages", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("sms_messages")
