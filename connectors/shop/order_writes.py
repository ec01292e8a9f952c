"""Writing orders idempotently: drafts, final orders, recovery of orphaned drafts.

Each write carries the whole order of one call (``call_key``) and a ``revision`` that grows
with every write of that call. A write is applied only when its revision is newer than the
stored one, so the same write may be applied twice (a journal replayed again, a commit whose
answer was lost) and writes may arrive out of order (a journaled draft replayed after the
final order was written directly) without losing or duplicating anything.

A write that makes an order final queues its e-mail in the same transaction, unless an
e-mail of that order is still waiting (it will be rendered from the order as it is then).
These functions take a connection inside the caller's transaction and never commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.shop import schema
from connectors.shop.records import OrderItem, OrderRecord
from connectors.shop.workers import WorkerIdentity, WorkerRow, is_dead

JOURNAL_VERSION = 1


@dataclass(frozen=True, slots=True)
class OrderWrite:
    """One write of a call's order: a draft (``final=False``) or the finished order."""

    call_key: str
    worker_id: str
    revision: int
    final: bool
    order: OrderRecord

    def to_json(self) -> dict[str, Any]:
        order = self.order
        return {
            "v": JOURNAL_VERSION,
            "call_key": self.call_key,
            "worker": self.worker_id,
            "revision": self.revision,
            "final": self.final,
            "order": {
                "caller": order.caller,
                "called": order.called,
                "call_time": order.call_time.isoformat(),
                "status": order.status,
                "items": [
                    {"article": i.article, "name": i.name, "quantity": i.quantity}
                    for i in order.items
                ],
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> OrderWrite:
        """Parse a journal entry; ``ValueError`` for anything that is not one."""
        if not isinstance(data, dict) or data.get("v") != JOURNAL_VERSION:
            raise ValueError("not an order journal entry of a known version")
        try:
            order = data["order"]
            record = OrderRecord(
                caller=order["caller"],
                called=order["called"],
                call_time=datetime.fromisoformat(order["call_time"]),
                status=order["status"],
                items=[OrderItem(i["article"], i["name"], i["quantity"]) for i in order["items"]],
            )
            write = cls(
                call_key=data["call_key"],
                worker_id=data["worker"],
                revision=data["revision"],
                final=data["final"],
                order=record,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"incomplete order journal entry: {type(exc).__name__}") from None
        if not isinstance(write.call_key, str) or not isinstance(write.worker_id, str):
            raise ValueError("order journal entry: call_key and worker must be text")
        if not isinstance(write.revision, int) or not isinstance(write.final, bool):
            raise ValueError("order journal entry: bad revision or final flag")
        return write


@dataclass(frozen=True, slots=True)
class Applied:
    order_id: int
    applied: bool
    """False when the database already had this revision or a newer one."""
    email_queued: bool


def instance_token(conn: sa.Connection) -> str:
    """This database's random token (``bot_meta``), created when missing."""
    meta = schema.bot_meta
    value = conn.execute(
        sa.select(meta.c.value).where(meta.c.key == schema.META_INSTANCE)
    ).scalar_one_or_none()
    if value is None:
        value = secrets.token_hex(5)
        conn.execute(meta.insert().values(key=schema.META_INSTANCE, value=value))
    return str(value)


def enqueue_email(conn: sa.Connection, order_id: int, now: datetime) -> bool:
    """Queue the order's e-mail unless one is already waiting; True when queued."""
    box = schema.outbox
    waiting = conn.execute(
        sa.select(sa.func.count())
        .select_from(box)
        .where(
            box.c.order_id == order_id,
            box.c.kind == schema.OUTBOX_ORDER_EMAIL,
            box.c.sent_at.is_(None),
        )
    ).scalar_one()
    if waiting:
        return False
    earlier = conn.execute(
        sa.select(sa.func.count()).select_from(box).where(box.c.order_id == order_id)
    ).scalar_one()
    now_text = schema.utc_text(now)
    conn.execute(
        box.insert().values(
            kind=schema.OUTBOX_ORDER_EMAIL,
            order_id=order_id,
            created_at=now_text,
            attempts=0,
            next_attempt_at=now_text,
            message_key=f"order-{order_id}-{int(earlier) + 1}.{instance_token(conn)}",
        )
    )
    return True


def _items(order_id: int, order: OrderRecord) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_id,
            "position": position,
            "article": _short(item.article, schema.ARTICLE_MAX),
            "name": _short(item.name, schema.NAME_MAX),
            "quantity": item.quantity,
        }
        for position, item in enumerate(order.items, start=1)
    ]


def _short(text: str, limit: int = 64) -> str:
    """PBX numbers and statuses are free text; the columns hold 64 characters."""
    return text[:limit]


def insert_order(
    conn: sa.Connection,
    order: OrderRecord,
    now: datetime,
    *,
    call_key: str | None = None,
    worker_id: str | None = None,
    revision: int = 0,
    final: bool = True,
) -> int:
    now_text = schema.utc_text(now)
    result = conn.execute(
        schema.bot_orders.insert().values(
            caller=_short(order.caller),
            called=_short(order.called),
            call_time=order.call_time.isoformat(),
            status=_short(str(order.status)),
            created_at=now_text,
            updated_at=now_text,
            call_key=call_key,
            worker_id=worker_id,
            state=schema.STATE_FINAL if final else schema.STATE_DRAFT,
            revision=revision,
        )
    )
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the database did not return the new order id")
    order_id = int(key[0])
    if order.items:
        conn.execute(schema.bot_order_items.insert(), _items(order_id, order))
    return order_id


def apply_write(
    conn: sa.Connection, write: OrderWrite, now: datetime, touch: WorkerIdentity | None
) -> Applied:
    """Apply ``write`` if it is newer than what is stored; queue the e-mail of a final one."""
    if touch is not None:
        touch_worker(conn, touch, now)
    orders = schema.bot_orders
    row = conn.execute(
        sa.select(orders.c.id, orders.c.revision)
        .where(orders.c.call_key == write.call_key)
        .with_for_update()
    ).first()
    if row is None:
        order_id = insert_order(
            conn,
            write.order,
            now,
            call_key=write.call_key,
            worker_id=write.worker_id,
            revision=write.revision,
            final=write.final,
        )
    elif write.revision <= int(row.revision):
        return Applied(int(row.id), applied=False, email_queued=False)
    else:
        order_id = int(row.id)
        order = write.order
        conn.execute(
            orders.update()
            .where(orders.c.id == order_id)
            .values(
                caller=_short(order.caller),
                called=_short(order.called),
                call_time=order.call_time.isoformat(),
                status=_short(str(order.status)),
                updated_at=schema.utc_text(now),
                worker_id=write.worker_id,
                state=schema.STATE_FINAL if write.final else schema.STATE_DRAFT,
                revision=write.revision,
            )
        )
        items = schema.bot_order_items
        conn.execute(items.delete().where(items.c.order_id == order_id))
        if order.items:
            conn.execute(items.insert(), _items(order_id, order))
    queued = enqueue_email(conn, order_id, now) if write.final else False
    return Applied(order_id, applied=True, email_queued=queued)


# --- workers ------------------------------------------------------------------------------


def touch_worker(conn: sa.Connection, me: WorkerIdentity, now: datetime) -> None:
    """Record that ``me`` is alive (the row is created on the first call)."""
    workers = schema.bot_workers
    now_text = schema.utc_text(now)
    updated = conn.execute(
        workers.update().where(workers.c.id == me.id).values(heartbeat_at=now_text, stopped_at=None)
    )
    if updated.rowcount == 0:
        conn.execute(
            workers.insert().values(
                id=me.id,
                host=me.host,
                boot_id=me.boot_id,
                pid=me.pid,
                pid_start=me.pid_start,
                started_at=now_text,
                heartbeat_at=now_text,
            )
        )


def mark_stopped(conn: sa.Connection, me: WorkerIdentity, now: datetime) -> None:
    workers = schema.bot_workers
    conn.execute(
        workers.update().where(workers.c.id == me.id).values(stopped_at=schema.utc_text(now))
    )


def _worker_rows(conn: sa.Connection, ids: set[str]) -> dict[str, WorkerRow]:
    workers = schema.bot_workers
    rows = conn.execute(sa.select(workers).where(workers.c.id.in_(sorted(ids)))).all()
    return {
        r.id: WorkerRow(
            id=r.id,
            host=r.host,
            boot_id=r.boot_id,
            pid=int(r.pid),
            pid_start=r.pid_start,
            heartbeat_at=schema.parse_time(r.heartbeat_at),
            stopped_at=schema.parse_time(r.stopped_at) if r.stopped_at else None,
        )
        for r in rows
    }


def recover_drafts(
    conn: sa.Connection, me: WorkerIdentity, now: datetime, timeout: float, status: str
) -> list[int]:
    """Finish the drafts of dead workers with ``status`` and queue their e-mails."""
    orders = schema.bot_orders
    drafts = conn.execute(
        sa.select(orders.c.id, orders.c.worker_id, orders.c.revision)
        .where(orders.c.state == schema.STATE_DRAFT)
        .order_by(orders.c.id)
        .with_for_update(skip_locked=True)
    ).all()
    owners = {d.worker_id for d in drafts if d.worker_id and d.worker_id != me.id}
    rows = _worker_rows(conn, owners) if owners else {}
    recovered: list[int] = []
    for draft in drafts:
        if draft.worker_id == me.id:
            continue
        if not is_dead(rows.get(draft.worker_id or ""), me, now, timeout):
            continue
        done = conn.execute(
            orders.update()
            .where(
                orders.c.id == draft.id,
                orders.c.state == schema.STATE_DRAFT,
                orders.c.revision == draft.revision,
            )
            .values(
                state=schema.STATE_FINAL, status=_short(status), updated_at=schema.utc_text(now)
            )
        )
        if done.rowcount == 1:
            enqueue_email(conn, int(draft.id), now)
            recovered.append(int(draft.id))
    return recovered


def finish_own_drafts(
    conn: sa.Connection, me: WorkerIdentity, now: datetime, status: str
) -> list[int]:
    """At a clean shutdown: finish ``me``'s leftover drafts with ``status``, queue e-mails."""
    orders = schema.bot_orders
    stmt = sa.select(orders.c.id).where(
        orders.c.state == schema.STATE_DRAFT, orders.c.worker_id == me.id
    )
    ids = [int(i) for i in conn.execute(stmt).scalars()]
    for order_id in ids:
        conn.execute(
            orders.update()
            .where(orders.c.id == order_id, orders.c.state == schema.STATE_DRAFT)
            .values(
                state=schema.STATE_FINAL, status=_short(status), updated_at=schema.utc_text(now)
            )
        )
        enqueue_email(conn, order_id, now)
    return ids
