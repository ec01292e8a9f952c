"""Call-backs to missed callers (their jobs, claimed by one worker at a time) and voicemail.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("missed_id", sa.Integer, nullable=False),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("open_key", sa.String(32), nullable=True),
        sa.Column("rule", sa.String(80), nullable=False, server_default=""),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("due_at", sa.String(40), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False, server_default="3"),
        sa.Column("leased_until", sa.String(40), nullable=True),
        sa.Column("claim_token", sa.String(40), nullable=True),
        sa.Column("worker", sa.String(64), nullable=False, server_default=""),
        sa.Column("outcome", sa.String(32), nullable=False, server_default=""),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("details", sa.Text, nullable=False, server_default="{}"),
        sqlite_autoincrement=True,
    )
    op.create_index("ux_callback_jobs_open_key", "callback_jobs", ["open_key"], unique=True)
    op.create_index("ix_callback_jobs_due", "callback_jobs", ["state", "due_at"])
    op.create_index("ix_callback_jobs_missed", "callback_jobs", ["missed_id"])
    op.create_table(
        "voice_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("caller", sa.String(32), nullable=False, server_default=""),
        sa.Column("called", sa.String(64), nullable=False, server_default=""),
        sa.Column("missed_id", sa.Integer, nullable=True),
        sa.Column("job_id", sa.Integer, nullable=True),
        sa.Column("rule", sa.String(80), nullable=False, server_default=""),
        sa.Column("call_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("recording", sa.String(300), nullable=False),
        sa.Column("recording_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_voice_messages_recorded", "voice_messages", ["recorded_at"])
    op.create_index("ix_voice_messages_caller", "voice_messages", ["caller", "recorded_at"])


def downgrade() -> None:
    op.drop_table("voice_messages")
    op.drop_table("callback_jobs")
