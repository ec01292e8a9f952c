"""Access to the shop database: customer look-ups, the catalog, orders and the outbox.

Every method is ``async`` and runs its blocking SQLAlchemy work in one of two bounded thread
pools (:mod:`connectors.shop.engine`): look-ups in the read pool, orders, outbox and catalog
changes in the write pool. A slow or locked database therefore never stalls the event loop,
and a write waiting for a lock never delays a greeting. Phone keys are validated (exactly 10
digits) and always bound as parameters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from connectors.shop import order_writes, outbox_queue, schema
from connectors.shop.articles import article_key
from connectors.shop.engine import DbExecutor, Engines, enable_wal, make_engines
from connectors.shop.outbox_queue import ClaimedMessage
from connectors.shop.phone import validate_phone10
from connectors.shop.records import CatalogItem, OrderItem, OrderRecord, OrdersSummary, OutboxEntry
from connectors.shop.settings import ShopSettings

logger = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["ClaimedMessage", "ShopDatabase"]


def _clean_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _migrate(engines: Engines, settings: ShopSettings) -> None:
    from connectors.shop.migrate import upgrade, upgrade_engine

    if engines.write is engines.read:  # in-memory SQLite: only this engine sees the database
        upgrade_engine(engines.write)
    else:
        upgrade(settings.url)


class ShopDatabase:
    """The shop's SQL database plus the bot's own tables in it.

    Create it with ``await ShopDatabase.open(settings)`` and ``await db.close()`` it at the end.
    """

    def __init__(self, engines: Engines, settings: ShopSettings) -> None:
        self._engines = engines
        self._settings = settings
        self._done = settings.done_status.strip().casefold()
        self._reads = DbExecutor("read", settings.read_workers)
        self._writes = DbExecutor("write", settings.write_workers)

    @classmethod
    async def open(cls, settings: ShopSettings) -> ShopDatabase:
        """Connect, switch SQLite to WAL, and migrate the bot's tables (``settings.migrate``)."""

        def _open() -> Engines:
            engines = make_engines(settings)
            try:
                enable_wal(engines.write)
                if settings.migrate:
                    _migrate(engines, settings)
            except Exception:
                engines.dispose()
                raise
            return engines

        engines = await asyncio.to_thread(_open)
        return cls(engines, settings)

    @property
    def engine(self) -> sa.Engine:
        """The write engine (for tests and tools that need a plain connection)."""
        return self._engines.write

    @property
    def engines(self) -> Engines:
        return self._engines

    @property
    def backend(self) -> str:
        return self._engines.backend

    @property
    def settings(self) -> ShopSettings:
        return self._settings

    async def close(self) -> None:
        def _close() -> None:
            self._reads.shutdown()
            self._writes.shutdown()
            self._engines.dispose()

        await asyncio.to_thread(_close)

    async def read(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work(connection)`` in the read pool (a read-only transaction)."""

        def _run() -> T:
            with self._engines.read.connect() as conn:
                return work(conn)

        return await self._reads.run(_run)

    async def write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work(connection)`` in ONE write transaction in the write pool."""

        def _run() -> T:
            with self._engines.write.begin() as conn:
                return work(conn)

        return await self._writes.run(_run)

    # --- customer look-ups (Кейс 2) -------------------------------------------------

    async def _query(self, sql: str, phone10: str) -> list[tuple[Any, ...]]:
        def _run(conn: sa.Connection) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in conn.execute(sa.text(sql), {"phone": phone10})]

        return await self.read(_run)

    async def orders_summary(self, phone10: str) -> OrdersSummary:
        """Person (newest non-empty), number of orders and of «done» orders for the phone."""
        validate_phone10(phone10)
        rows = await self._query(self._settings.queries.orders_by_phone, phone10)
        person: str | None = None
        done = 0
        for row in rows:
            if person is None:
                person = _clean_text(row[0])
            status = _clean_text(row[1]) if len(row) > 1 else None
            if status is not None and status.casefold() == self._done:
                done += 1
        return OrdersSummary(person=person, total=len(rows), done=done)

    async def user_name(self, phone10: str) -> str | None:
        """``users.Name`` of the phone, stripped; None when missing or empty."""
        validate_phone10(phone10)
        for row in await self._query(self._settings.queries.user_name, phone10):
            name = _clean_text(row[0])
            if name is not None:
                return name
        return None

    async def last_order_status(self, phone10: str) -> str | None:
        """Status name of the newest order of the phone; None when it has no orders."""
        validate_phone10(phone10)
        rows = await self._query(self._settings.queries.last_order_status, phone10)
        return _clean_text(rows[0][0]) if rows else None

    def is_done_status(self, status_name: str | None) -> bool:
        """True when ``status_name`` is the configured «done» status (case-insensitive)."""
        return status_name is not None and status_name.strip().casefold() == self._done

    # --- catalog ---------------------------------------------------------------------

    async def find_article(self, article: str) -> CatalogItem | None:
        """The catalog item of this article, compared by :func:`article_key` (case, spaces,
        Latin/Cyrillic look-alikes do not matter)."""
        key = article_key(article) if isinstance(article, str) else ""
        if not key or len(key) > schema.ARTICLE_MAX:
            return None

        def _find(conn: sa.Connection) -> tuple[Any, ...] | None:
            table = schema.catalog
            stmt = (
                sa.select(table.c.article, table.c.name, table.c.unit)
                .where(table.c.article_key == key)
                .order_by(table.c.article)
                .limit(1)
            )
            row = conn.execute(stmt).first()
            return None if row is None else tuple(row)

        row = await self.read(_find)
        if row is None:
            return None
        return CatalogItem(article=row[0], name=row[1], unit=row[2])

    async def articles(self) -> list[str]:
        """All catalog articles, sorted (for the NLU's fuzzy matching)."""

        def _articles(conn: sa.Connection) -> list[str]:
            stmt = sa.select(schema.catalog.c.article).order_by(schema.catalog.c.article)
            return [str(a) for a in conn.execute(stmt).scalars()]

        return await self.read(_articles)

    async def replace_catalog(self, items: Sequence[CatalogItem]) -> int:
        """Replace the whole catalog in ONE transaction; on any error nothing changes."""
        count = await self.write(lambda conn: schema.replace_catalog_rows(conn, items))
        logger.info("catalog replaced", extra={"catalog_rows": count})
        return count

    # --- orders ----------------------------------------------------------------------

    async def save_order(self, order: OrderRecord) -> int:
        """Store a finished order, its items and its e-mail in the outbox, atomically.

        The one-shot way of the first version; calls now use ``OrderStore`` (drafts, journal).
        """
        if not isinstance(order, OrderRecord):
            raise TypeError("save_order expects an OrderRecord")

        def _save(conn: sa.Connection) -> int:
            now = schema.utc()
            order_id = order_writes.insert_order(conn, order, now)
            order_writes.enqueue_email(conn, order_id, now)
            return order_id

        order_id = await self.write(_save)
        logger.info("order saved", extra={"order_id": order_id, "items": len(order.items)})
        return order_id

    async def load_order(self, order_id: int) -> OrderRecord | None:
        """Read a saved order back (items in the order they were taken)."""

        def _load(conn: sa.Connection) -> OrderRecord | None:
            orders, items = schema.bot_orders, schema.bot_order_items
            head = conn.execute(sa.select(orders).where(orders.c.id == order_id)).first()
            if head is None:
                return None
            lines = conn.execute(
                sa.select(items).where(items.c.order_id == order_id).order_by(items.c.position)
            ).all()
            return OrderRecord(
                caller=head.caller or "",
                called=head.called or "",
                call_time=schema.parse_time(head.call_time),
                status=head.status or "",
                items=[OrderItem(r.article, r.name, int(r.quantity)) for r in lines],
            )

        return await self.read(_load)

    async def order_state(self, order_id: int) -> tuple[str, str] | None:
        """``(state, status)`` of an order: ``draft`` / ``final`` and its status name."""

        def _state(conn: sa.Connection) -> tuple[str, str] | None:
            orders = schema.bot_orders
            row = conn.execute(
                sa.select(orders.c.state, orders.c.status).where(orders.c.id == order_id)
            ).first()
            return None if row is None else (str(row.state), str(row.status))

        return await self.read(_state)

    # --- outbox ----------------------------------------------------------------------

    async def outbox_claim_due(
        self,
        now: datetime,
        lease: timedelta,
        limit: int = 100,
        *,
        token: str = "",
        force_since: datetime | None = None,
    ) -> list[ClaimedMessage]:
        """Lease unsent messages due at ``now`` (or all unleased ones when ``force_since``).

        A leased message is not taken by another drainer until ``now + lease``; if this one
        dies meanwhile the message becomes available again when the lease runs out.
        """
        return await self.write(
            lambda conn: outbox_queue.claim(
                conn,
                now=now,
                lease_until=now + lease,
                limit=limit,
                token=token,
                force_since=force_since,
            )
        )

    async def outbox_mark_sent(self, message_id: int, sent_at: datetime) -> None:
        await self.write(lambda conn: outbox_queue.mark_sent(conn, message_id, sent_at))

    async def outbox_mark_failed(
        self,
        message_id: int,
        attempts: int,
        next_attempt_at: datetime,
        error: str,
        token: str | None = None,
    ) -> None:
        await self.write(
            lambda conn: outbox_queue.mark_failed(
                conn, message_id, attempts, next_attempt_at, error, token
            )
        )

    async def outbox_pending(self) -> int:
        """How many messages are not sent yet."""
        return await self.read(outbox_queue.pending)

    async def outbox_entries(self) -> list[OutboxEntry]:
        """Every outbox row, oldest first (for status pages and tests)."""
        return await self.read(outbox_queue.entries)
