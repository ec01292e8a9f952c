"""The ``outbox`` table as a queue that several processes drain at once.

A drainer **claims** due rows: in one short transaction it selects them ``FOR UPDATE SKIP
LOCKED`` (PostgreSQL, MySQL 8; on SQLite the transaction is ``BEGIN IMMEDIATE``, which
serialises claims) and gives them a lease (``leased_until``) and its ``claim_token``. Other
drainers skip leased rows, so no two send the same message while the lease runs. A row is
marked sent only after the SMTP server accepted it; a failure clears the lease and schedules
the next attempt. If the drainer dies, the lease runs out and another one takes the row.

Normal passes take rows whose ``next_attempt_at`` is due; a forced pass (``bot outbox
--force``) takes every unsent row that is not leased, each at most once per pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from connectors.shop import schema
from connectors.shop.records import OutboxEntry


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """An outbox row reserved for one delivery attempt."""

    id: int
    kind: str
    order_id: int | None
    attempts: int
    message_key: str | None = None
    claim_token: str | None = None


def claim(
    conn: sa.Connection,
    *,
    now: datetime,
    lease_until: datetime,
    limit: int,
    token: str,
    force_since: datetime | None = None,
) -> list[ClaimedMessage]:
    box = schema.outbox
    now_text = schema.utc_text(now)
    where = [
        box.c.sent_at.is_(None),
        sa.or_(box.c.leased_until.is_(None), box.c.leased_until <= now_text),
    ]
    if force_since is None:
        where.append(box.c.next_attempt_at <= now_text)
    else:
        since = schema.utc_text(force_since)
        where.append(sa.or_(box.c.claimed_at.is_(None), box.c.claimed_at < since))
    rows = conn.execute(
        sa.select(box.c.id, box.c.kind, box.c.order_id, box.c.attempts, box.c.message_key)
        .where(*where)
        .order_by(box.c.next_attempt_at, box.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    conn.execute(
        box.update()
        .where(box.c.id.in_([r.id for r in rows]))
        .values(
            leased_until=schema.utc_text(lease_until),
            claimed_at=schema.utc_text(schema.utc()),
            claim_token=token,
        )
    )
    return [
        ClaimedMessage(r.id, r.kind, r.order_id, int(r.attempts), r.message_key, token)
        for r in rows
    ]


def mark_sent(conn: sa.Connection, message_id: int, sent_at: datetime) -> None:
    box = schema.outbox
    conn.execute(
        box.update()
        .where(box.c.id == message_id)
        .values(sent_at=schema.utc_text(sent_at), last_error=None, leased_until=None)
    )


def mark_failed(
    conn: sa.Connection,
    message_id: int,
    attempts: int,
    next_attempt_at: datetime,
    error: str,
    token: str | None,
) -> None:
    """Schedule the next attempt, unless the row was sent or taken over meanwhile."""
    box = schema.outbox
    where = [box.c.id == message_id, box.c.sent_at.is_(None)]
    if token is not None:
        where.append(box.c.claim_token == token)
    conn.execute(
        box.update()
        .where(*where)
        .values(
            attempts=attempts,
            next_attempt_at=schema.utc_text(next_attempt_at),
            last_error=error[:500],
            leased_until=None,
        )
    )


def pending(conn: sa.Connection) -> int:
    box = schema.outbox
    stmt = sa.select(sa.func.count()).select_from(box).where(box.c.sent_at.is_(None))
    return int(conn.execute(stmt).scalar_one())


def entries(conn: sa.Connection) -> list[OutboxEntry]:
    box = schema.outbox
    rows = conn.execute(sa.select(box).order_by(box.c.id)).all()
    return [
        OutboxEntry(
            id=r.id,
            kind=r.kind,
            order_id=r.order_id,
            attempts=int(r.attempts),
            created_at=schema.parse_time(r.created_at),
            next_attempt_at=schema.parse_time(r.next_attempt_at),
            last_error=r.last_error,
            sent_at=schema.parse_time(r.sent_at) if r.sent_at else None,
            message_key=r.message_key,
        )
        for r in rows
    ]
