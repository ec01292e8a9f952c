"""The bot's own tables in the shop database and how values are stored in them.

The shop's tables (``shop_orders``, ``shop_orders_status``, ``users``) belong to the shop and
are only read. The bot adds tables of its own, created and upgraded by the Alembic migrations
in ``connectors/shop/migrations`` (version table ``bot_alembic_version``); this module is their
newest shape, which a test compares with the migrated database:

- ``catalog``: the product catalog, replaced as a whole by each ``.xlsx`` upload;
  ``article_key`` is the normalised article (:mod:`connectors.shop.articles`);
- ``bot_orders`` + ``bot_order_items``: the orders taken on the phone. ``state`` is
  ``draft`` while the call goes on (``call_key`` names the call, ``worker_id`` the process
  that owns it, ``revision`` orders the writes) and ``final`` once submitted or recovered;
- ``outbox``: e-mails waiting to be sent, retried until the SMTP server accepts them;
  ``leased_until`` / ``claim_token`` mark a delivery in progress, ``message_key`` is the
  stable local part of the Message-ID;
- ``bot_workers``: every ``bot serve`` process (host, boot, pid, heartbeat), to tell the drafts
  of a dead process from those of a live one;
- ``bot_meta``: ``instance`` (a random token of this database, part of every Message-ID);
- ``admin_users``, ``admin_sessions``, ``admin_audit``, ``admin_history``: the editors'
  console (:mod:`bot.web`): accounts (argon2 hashes), sessions (only a hash of the cookie),
  the audit log, and every version of what the console wrote, for rollback;
- ``bot_calls``, ``bot_call_events``, ``bot_call_turns``: the call journal (:mod:`bot.journal`).
- ``missed_calls``: calls nobody answered and their call-back status (:mod:`bot.missed`);
  ``callback_jobs`` (the call-backs' queue) and ``voice_messages`` (voicemail).
- ``sms_messages``: the SMS decision of each missed call and the SMS outbox (:mod:`bot.missed`).

Times are stored as ISO 8601 text, always UTC with a fixed width (:func:`utc_text`), so that
text comparison in SQL is time comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa

from connectors.shop.articles import article_key
from connectors.shop.records import CatalogItem

ARTICLE_MAX = 64
NAME_MAX = 500

metadata = sa.MetaData()

CALL_KEY_MAX = 200

catalog = sa.Table(
    "catalog",
    metadata,
    sa.Column("article", sa.String(ARTICLE_MAX), primary_key=True),
    sa.Column("name", sa.String(NAME_MAX), nullable=False),
    sa.Column("unit", sa.String(32), nullable=False, server_default="шт"),
    sa.Column("article_key", sa.String(ARTICLE_MAX), nullable=True),
    sa.Index("ix_catalog_article_key", "article_key"),
)

STATE_DRAFT = "draft"
STATE_FINAL = "final"

bot_orders = sa.Table(
    "bot_orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("caller", sa.String(64)),
    sa.Column("called", sa.String(64)),
    sa.Column("call_time", sa.String(40)),
    sa.Column("status", sa.String(64)),
    sa.Column("created_at", sa.String(40)),
    sa.Column("call_key", sa.String(CALL_KEY_MAX), nullable=True),
    sa.Column("worker_id", sa.String(64), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, server_default=STATE_FINAL),
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.String(40), nullable=True),
    sa.Index("ux_bot_orders_call_key", "call_key", unique=True),
    sa.Index("ix_bot_orders_state_worker", "state", "worker_id"),
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
    sa.Column("message_key", sa.String(200), nullable=True),
    sa.Column("leased_until", sa.String(40), nullable=True),
    sa.Column("claimed_at", sa.String(40), nullable=True),
    sa.Column("claim_token", sa.String(40), nullable=True),
    sa.Index("ix_outbox_due", "sent_at", "next_attempt_at"),
    sa.Index("ix_outbox_order", "order_id"),
    sqlite_autoincrement=True,
)

bot_workers = sa.Table(
    "bot_workers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("boot_id", sa.String(64), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("pid_start", sa.String(32), nullable=False),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("heartbeat_at", sa.String(40), nullable=False),
    sa.Column("stopped_at", sa.String(40), nullable=True),
)

bot_meta = sa.Table(
    "bot_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

# The editors' console (bot/web): accounts, sessions, the audit log and the history of every
# file the console writes (nlu.yml, responses.yml, managers.txt) and of the catalog.
admin_users = sa.Table(
    "admin_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.String(40), nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("extension", sa.String(80), nullable=True),  # a manager's own extension
    sa.Index("ux_admin_users_name", "name", unique=True),
    sqlite_autoincrement=True,
)

admin_sessions = sa.Table(
    "admin_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the cookie's token
    sa.Column("user_id", sa.Integer, sa.ForeignKey("admin_users.id"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("last_seen", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(40), nullable=False),
    sa.Index("ix_admin_sessions_user", "user_id"),
)

admin_audit = sa.Table(
    "admin_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200), nullable=False, server_default=""),
    sa.Column("before", sa.Text, nullable=False, server_default=""),
    sa.Column("after", sa.Text, nullable=False, server_default=""),
    sa.Column("remote", sa.String(64), nullable=False, server_default=""),
    sa.Index("ix_admin_audit_at", "at"),
    sqlite_autoincrement=True,
)

admin_history = sa.Table(
    "admin_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),  # nlu | responses | managers | catalog
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("summary", sa.String(500), nullable=False, server_default=""),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),  # gzip of the file (catalog: JSON)
    sa.Index("ix_admin_history_kind", "kind", "id"),
    sqlite_autoincrement=True,
)

# The call journal (bot/journal): one row per call, its events (what was said, done) and its
# caller turns with their timings; bot_calls.recording is the call's Ogg/Opus file, relative
# to recordings.dir. admin_users.extension: a manager's own extension (role «manager»).
CALL_ID_MAX = 200

bot_calls = sa.Table(
    "bot_calls",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # random hex, the journal's key
    sa.Column("call_id", sa.String(CALL_ID_MAX), nullable=False),  # the PBX's id
    sa.Column("worker_id", sa.String(64), nullable=True),
    sa.Column("connector", sa.String(32), nullable=False, server_default=""),
    sa.Column("route", sa.String(64), nullable=False, server_default=""),
    sa.Column("scenario", sa.String(32), nullable=False, server_default=""),
    sa.Column("caller", sa.String(64), nullable=False, server_default=""),  # last 10 digits
    sa.Column("called", sa.String(64), nullable=False, server_default=""),
    sa.Column("caller_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("answered_at", sa.String(40), nullable=True),  # the bot's first audio
    sa.Column("ended_at", sa.String(40), nullable=True),
    sa.Column("duration_s", sa.Float, nullable=True),
    sa.Column("end_reason", sa.String(64), nullable=False, server_default=""),
    # order | transfer | hangup | error, "active" until the call ends
    sa.Column("result", sa.String(16), nullable=False, server_default="active"),
    sa.Column("handoff_reason", sa.String(64), nullable=False, server_default=""),
    sa.Column("handoff_target", sa.String(80), nullable=False, server_default=""),
    sa.Column("order_id", sa.Integer, nullable=True),
    sa.Column("order_status", sa.String(64), nullable=False, server_default=""),
    sa.Column("turns", sa.Integer, nullable=False, server_default="0"),
    sa.Column("recording", sa.String(300), nullable=True),
    sa.Column("recording_bytes", sa.BigInteger, nullable=True),
    sa.Column("recording_s", sa.Float, nullable=True),
    sa.Index("ix_bot_calls_started", "started_at"),
    sa.Index("ix_bot_calls_call_id", "call_id"),
    sa.Index("ix_bot_calls_target", "handoff_target"),
)

bot_call_events = sa.Table(
    "bot_call_events",
    metadata,
    sa.Column(
        "call", sa.String(32), sa.ForeignKey("bot_calls.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("t", sa.Float, nullable=False),  # seconds since the call started
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Column("key", sa.String(64), nullable=False, server_default=""),  # say: responses.yml
    sa.Column("intent", sa.String(64), nullable=False, server_default=""),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("source", sa.String(16), nullable=False, server_default=""),
    sa.Column("heard", sa.Text, nullable=False, server_default=""),  # misheard: caller's words
    sa.Column("data", sa.Text, nullable=False, server_default="{}"),  # the event's JSON
    sa.Index("ix_bot_call_events_key", "key"),
)

bot_call_turns = sa.Table(
    "bot_call_turns",
    metadata,
    sa.Column(
        "call", sa.String(32), sa.ForeignKey("bot_calls.id", ondelete="CASCADE"), primary_key=True
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

# Missed calls (bot/missed): one row per call nobody answered, from the PBX (HTTP, AMI,
# Telphin) or the bot's own handoffs; (intake, external_id) makes the intake idempotent.
missed_calls = sa.Table(
    "missed_calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("missed_at", sa.String(40), nullable=False),
    sa.Column("caller", sa.String(32), nullable=False, server_default=""),  # last 10 digits
    sa.Column("called", sa.String(64), nullable=False, server_default=""),
    sa.Column("source_kind", sa.String(16), nullable=False),  # number|queue|extension|bot
    sa.Column("source", sa.String(80), nullable=False, server_default=""),
    sa.Column("wait_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("intake", sa.String(16), nullable=False),  # http|ami|telphin|bot
    sa.Column("external_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="not_called_back"),
    sa.Column("status_at", sa.String(40), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("details", sa.Text, nullable=False, server_default="{}"),  # JSON
    sa.Column("call_id", sa.String(200), nullable=True),
    sa.Index("ux_missed_calls_intake_external", "intake", "external_id", unique=True),
    sa.Index("ix_missed_calls_caller", "caller", "missed_at"),
    sa.Index("ix_missed_calls_status", "status", "missed_at"),
    sqlite_autoincrement=True,
)

# SMS for missed calls (bot/missed/sms_outbox.py): every decision (send or skip, and why) and
# the outbox of those to send; one decision per missed call (missed_call_id is unique).
sms_messages = sa.Table(
    "sms_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("missed_call_id", sa.Integer, nullable=True),
    sa.Column("caller", sa.String(32), nullable=False, server_default=""),  # last 10 digits
    sa.Column("to_number", sa.String(32), nullable=False, server_default=""),  # as sent
    sa.Column("called", sa.String(64), nullable=False, server_default=""),
    sa.Column("source", sa.String(80), nullable=False, server_default=""),
    sa.Column("rule", sa.String(80), nullable=False, server_default=""),
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Column("decision", sa.String(8), nullable=False),  # send | skip
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending|sending|sent|failed|…
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
    sa.Index("ux_sms_messages_missed_call", "missed_call_id", unique=True),
    sa.Index("ix_sms_messages_caller", "caller", "decided_at"),
    sa.Index("ix_sms_messages_due", "state", "next_attempt_at"),
    sqlite_autoincrement=True,
)

# Call-backs (bot/missed/scheduler.py): one job per caller while it is open (``open_key``
# is the caller then, NULL once finished: the unique index lets one worker call a client at
# a time); a claimed job carries ``claim_token`` and ``leased_until``.
callback_jobs = sa.Table(
    "callback_jobs",
    metadata,
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
    sa.Column("details", sa.Text, nullable=False, server_default="{}"),  # JSON: attempts
    sa.Index("ux_callback_jobs_open_key", "open_key", unique=True),
    sa.Index("ix_callback_jobs_due", "state", "due_at"),
    sa.Index("ix_callback_jobs_missed", "missed_id"),
    sqlite_autoincrement=True,
)

# Voice messages left on a call-back (bot/missed/voicemail.py): the recording is a file
# under ``callbacks.voicemail_dir`` (``recording`` is its relative path).
voice_messages = sa.Table(
    "voice_messages",
    metadata,
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
    sa.Index("ix_voice_messages_recorded", "recorded_at"),
    sa.Index("ix_voice_messages_caller", "caller", "recorded_at"),
    sqlite_autoincrement=True,
)

OUTBOX_ORDER_EMAIL = "order_email"
META_INSTANCE = "instance"


def create_bot_tables(engine: sa.Engine) -> None:
    """Create or upgrade the bot's tables to the newest schema (the Alembic migrations)."""
    from connectors.shop.migrate import upgrade_engine

    upgrade_engine(engine)


def replace_catalog_rows(conn: sa.Connection, items: Iterable[CatalogItem]) -> int:
    """Replace the whole catalog inside the caller's transaction; return the row count."""
    rows = [
        {
            "article": i.article,
            "name": i.name,
            "unit": i.unit,
            "article_key": article_key(i.article),
        }
        for i in items
    ]
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
