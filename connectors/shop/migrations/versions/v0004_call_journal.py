"""The call journal: calls, their events and turns; a manager's extension on console users.

Revision ID: 0004
Revises: 0003
Create Date: 2024-07-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_calls",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(200), nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=True),
        sa.Column("connector", sa.String(32), nullable=False, server_default=""),
        sa.Column("route", sa.String(64), nullable=False, server_default=""),
        sa.Column("scenario", sa.String(32), nullable=False, server_default=""),
        sa.Column("caller", sa.String(64), nullable=False, server_default=""),
        sa.Column("called", sa.String(64), nullable=False, server_default=""),
        sa.Column("caller_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("answered_at", sa.String(40), nullable=True),
        sa.Column("ended_at", sa.String(40), nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("end_reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("result", sa.String(16), nullable=False, server_default="active"),
        sa.Column("handoff_reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("handoff_target", sa.String(80), nullable=False, server_default=""),
        sa.Column("order_id", sa.Integer, nullable=True),
        sa.Column("order_status", sa.String(64), nullable=False, server_default=""),
        sa.Column("turns", sa.Integer, nullable=False, server_default="0"),
        sa.Column("recording", sa.String(300), nullable=True),
        sa.Column("recording_bytes", sa.BigInteger, nullable=True),
        sa.Column("recording_s", sa.Float, nullable=True),
    )
    op.create_index("ix_bot_calls_started", "bot_calls", ["started_at"])
    op.create_index("ix_bot_calls_call_id", "bot_calls", ["call_id"])
    op.create_index("ix_bot_calls_target", "bot_calls", ["handoff_target"])
    op.create_table(
        "bot_call_events",
        sa.Column(
            "call",
            sa.String(32),
            sa.ForeignKey("bot_calls.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("t", sa.Float, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("key", sa.String(64), nullable=False, server_default=""),
        sa.Column("intent", sa.String(64), nullable=False, server_default=""),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("source", sa.String(16), nullable=False, server_default=""),
        sa.Column("heard", sa.Text, nullable=False, server_default=""),
        sa.Column("data", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_bot_call_events_key", "bot_call_events", ["key"])
    op.create_table(
        "bot_call_turns",
        sa.Column(
            "call",
            sa.String(32),
            sa.ForeignKey("bot_calls.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("intent", sa.String(64), nullable=False, server_default=""),
        sa.Column("speech_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("eop_wait_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("asr_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("nlu_policy_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("tts_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("gap_s", sa.Float, nullable=True),
        sa.Column("barge_in", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("early", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(sa.Column("extension", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_users") as batch:
        batch.drop_column("extension")
    op.drop_table("bot_call_turns")
    op.drop_table("bot_call_events")
    op.drop_table("bot_calls")
