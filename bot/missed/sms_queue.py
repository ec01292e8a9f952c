"""The ``sms_messages`` table: the SMS decision of each missed call and the SMS outbox.

Every function takes a connection inside the caller's transaction (the shop database's write
pool). The row's ``state``:

- ``skipped``: no SMS (``reason``: ``no_number``, ``no_rule``, ``recent_sms``);
- ``pending``: to send at ``next_attempt_at`` (``reason``: ``rule``, the rule in ``rule``);
- ``sending``: claimed by one worker (``claim_token``) until ``leased_until``; this is
  committed **before** the gateway is asked, so no other worker can send it again;
- ``sent``: the gateway accepted it at ``sent_at``;
- ``failed``: refused for good, or given up (``max_attempts``, ``max_age_hours``);
- ``uncertain``: maybe sent (no clear answer, or the worker died while sending): never sent
  again automatically; a person decides (docs/missed/sms.md).

Claims take due rows ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; on SQLite the write transaction
is ``BEGIN IMMEDIATE``, which serialises claims), as the e-mail outbox does
(:mod:`connectors.shop.outbox_queue`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.shop.schema import missed_calls, parse_time, sms_messages, utc_text

SKIPPED, PENDING, SENDING, SENT, FAILED, UNCERTAIN = (
    "skipped",
    "pending",
    "sending",
    "sent",
    "failed",
    "uncertain",
)
STATES = (SKIPPED, PENDING, SENDING, SENT, FAILED, UNCERTAIN)
# an SMS in these states counts for «at most one per caller within once_per_hours»
COUNTED = (PENDING, SENDING, SENT, UNCERTAIN)
_LOCK_SPACE = 0x736D73  # "sms": the advisory lock space of the per-caller decisions


@dataclass(frozen=True, slots=True)
class SmsRecord:
    id: int
    missed_call_id: int | None
    caller: str
    called: str
    source: str
    rule: str
    text: str
    decision: str  # send | skip
    reason: str
    state: str
    decided_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    gateway: str
    gateway_id: str | None
    parts: int | None
    last_error: str | None
    to_number: str = ""


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    to_number: str
    text: str
    attempts: int  # including this attempt
    decided_at: datetime
    token: str


def _record(row: Any) -> SmsRecord:
    def when(value: str | None) -> datetime | None:
        return parse_time(value) if value else None

    return SmsRecord(
        id=int(row.id),
        missed_call_id=row.missed_call_id,
        caller=row.caller,
        called=row.called,
        source=row.source,
        rule=row.rule,
        text=row.text,
        decision=row.decision,
        reason=row.reason,
        state=row.state,
        decided_at=parse_time(row.decided_at),
        attempts=int(row.attempts),
        next_attempt_at=when(row.next_attempt_at),
        sent_at=when(row.sent_at),
        gateway=row.gateway,
        gateway_id=row.gateway_id,
        parts=row.parts,
        last_error=row.last_error,
        to_number=row.to_number,
    )


def lock_caller(conn: sa.Connection, caller: str) -> None:
    """Serialise the decisions for one caller (PostgreSQL; SQLite writes are serial)."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(caller.encode()) - 2**31
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": _LOCK_SPACE, "b": key})


def by_missed_call(conn: sa.Connection, missed_call_id: int) -> SmsRecord | None:
    t = sms_messages
    row = conn.execute(sa.select(t).where(t.c.missed_call_id == missed_call_id)).first()
    return None if row is None else _record(row)


def get(conn: sa.Connection, sms_id: int) -> SmsRecord | None:
    t = sms_messages
    row = conn.execute(sa.select(t).where(t.c.id == sms_id)).first()
    return None if row is None else _record(row)


def last_counted(conn: sa.Connection, caller: str) -> datetime | None:
    """When the caller's last SMS went out (or was queued, while it waits), or None."""
    t = sms_messages
    moment = sa.func.coalesce(t.c.sent_at, t.c.decided_at)
    value = conn.execute(
        sa.select(sa.func.max(moment)).where(
            t.c.caller == caller, t.c.decision == "send", t.c.state.in_(COUNTED)
        )
    ).scalar()
    return parse_time(value) if value else None


def insert(conn: sa.Connection, values: dict[str, Any]) -> int:
    result = conn.execute(sms_messages.insert().values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def expire(conn: sa.Connection, now: datetime, too_old: datetime) -> tuple[int, int]:
    """Leases run out while sending ➜ uncertain; pending since before ``too_old`` ➜ failed."""
    t = sms_messages
    now_text = utc_text(now)
    lost = conn.execute(
        t.update()
        .where(t.c.state == SENDING, t.c.leased_until <= now_text)
        .values(
            state=UNCERTAIN,
            leased_until=None,
            last_error="the worker stopped while sending: maybe sent, not sent again",
        )
    ).rowcount
    old = conn.execute(
        t.update()
        .where(t.c.state == PENDING, t.c.decided_at < utc_text(too_old))
        .values(state=FAILED, next_attempt_at=None, last_error="given up: too old (max_age_hours)")
    ).rowcount
    return int(lost or 0), int(old or 0)


def claim(
    conn: sa.Connection, *, now: datetime, lease_until: datetime, limit: int, token: str
) -> list[Claimed]:
    t = sms_messages
    rows = conn.execute(
        sa.select(t.c.id, t.c.to_number, t.c.text, t.c.attempts, t.c.decided_at)
        .where(t.c.state == PENDING, t.c.next_attempt_at <= utc_text(now))
        .order_by(t.c.next_attempt_at, t.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    conn.execute(
        t.update()
        .where(t.c.id.in_([r.id for r in rows]), t.c.state == PENDING)
        .values(
            state=SENDING,
            leased_until=utc_text(lease_until),
            claim_token=token,
            attempts=t.c.attempts + 1,
        )
    )
    return [
        Claimed(r.id, r.to_number, r.text, int(r.attempts) + 1, parse_time(r.decided_at), token)
        for r in rows
    ]


def finish(conn: sa.Connection, claimed: Claimed, **values: Any) -> bool:
    """Record an attempt's outcome, if this worker still holds the row (or it was marked
    uncertain meanwhile because the lease ran out: the real outcome is better)."""
    t = sms_messages
    values.setdefault("leased_until", None)
    result = conn.execute(
        t.update()
        .where(
            t.c.id == claimed.id,
            t.c.claim_token == claimed.token,
            t.c.state.in_((SENDING, UNCERTAIN)),
        )
        .values(**values)
    )
    return bool(result.rowcount)


def listing(
    conn: sa.Connection, *, limit: int = 50, offset: int = 0, states: tuple[str, ...] = ()
) -> list[SmsRecord]:
    t = sms_messages
    stmt = sa.select(t).order_by(t.c.id.desc()).limit(limit).offset(offset)
    if states:
        stmt = stmt.where(t.c.state.in_(states))
    return [_record(r) for r in conn.execute(stmt)]


def for_missed_calls(conn: sa.Connection, ids: list[int]) -> dict[int, SmsRecord]:
    if not ids:
        return {}
    t = sms_messages
    rows = conn.execute(sa.select(t).where(t.c.missed_call_id.in_(ids)))
    return {int(r.missed_call_id): _record(r) for r in rows}


def counts(conn: sa.Connection) -> dict[str, int]:
    t = sms_messages
    rows = conn.execute(sa.select(t.c.state, sa.func.count()).group_by(t.c.state))
    return {str(state): int(n) for state, n in rows}


def undecided(conn: sa.Connection, since: datetime, limit: int = 500) -> list[Any]:
    """Missed calls since ``since`` without an SMS decision (a listener that failed)."""
    m, t = missed_calls, sms_messages
    decided = sa.select(t.c.id).where(t.c.missed_call_id == m.c.id).exists()
    stmt = (
        sa.select(m.c.id, m.c.missed_at, m.c.caller, m.c.called, m.c.source_kind, m.c.source)
        .where(m.c.missed_at >= utc_text(since), ~decided)
        .order_by(m.c.missed_at, m.c.id)
        .limit(limit)
    )
    return list(conn.execute(stmt).all())
