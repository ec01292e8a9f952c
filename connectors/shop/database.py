"""Access to the shop database: customer look-ups, the catalog, orders and the outbox.

Every method is ``async`` and runs its blocking SQLAlchemy work in a worker thread
(``asyncio.to_thread``), so a slow database never stalls the event loop that carries the
calls. Phone keys are validated (exactly 10 digits) and always bound as parameters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.shop import schema
from connectors.shop.phone import validate_phone10
from connectors.shop.records import CatalogItem, OrderItem, OrderRecord, OrdersSummary, OutboxEntry
from connectors.shop.settings import ShopSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """An outbox row reserved for one delivery attempt."""

    id: int
    kind: str
    order_id: int | None
    attempts: int


def _make_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: errors must not carry callers' phone numbers into the logs
        engine = sa.create_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(parsed, pool_pre_ping=True, hide_parameters=True)


def _clean_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class ShopDatabase:
    """The shop's SQL database plus the bot's own tables in it.

    Create it with ``await ShopDatabase.open(settings)`` and ``await db.close()`` it at the end.
    """

    def __init__(self, engine: sa.Engine, settings: ShopSettings) -> None:
        self._engine = engine
        self._settings = settings
        self._done = settings.done_status.strip().casefold()

    @classmethod
    async def open(cls, settings: ShopSettings) -> ShopDatabase:
        """Connect and create the bot's tables if they are missing."""

        def _open() -> sa.Engine:
            engine = _make_engine(settings.url)
            try:
                schema.create_bot_tables(engine)
            except Exception:
                engine.dispose()
                raise
            return engine

        engine = await asyncio.to_thread(_open)
        return cls(engine, settings)

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    @property
    def settings(self) -> ShopSettings:
        return self._settings

    async def close(self) -> None:
        await asyncio.to_thread(self._engine.dispose)

    # --- customer look-ups (Кейс 2) -------------------------------------------------

    def _query(self, sql: str, phone10: str) -> list[tuple[Any, ...]]:
        with self._engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), {"phone": phone10})]

    async def orders_summary(self, phone10: str) -> OrdersSummary:
        """Person (newest non-empty), number of orders and of «done» orders for the phone."""
        validate_phone10(phone10)
        rows = await asyncio.to_thread(self._query, self._settings.queries.orders_by_phone, phone10)
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
        rows = await asyncio.to_thread(self._query, self._settings.queries.user_name, phone10)
        for row in rows:
            name = _clean_text(row[0])
            if name is not None:
                return name
        return None

    async def last_order_status(self, phone10: str) -> str | None:
        """Status name of the newest order of the phone; None when it has no orders."""
        validate_phone10(phone10)
        rows = await asyncio.to_thread(
            self._query, self._settings.queries.last_order_status, phone10
        )
        return _clean_text(rows[0][0]) if rows else None

    def is_done_status(self, status_name: str | None) -> bool:
        """True when ``status_name`` is the configured «done» status (case-insensitive)."""
        return status_name is not None and status_name.strip().casefold() == self._done

    # --- catalog ---------------------------------------------------------------------

    async def find_article(self, article: str) -> CatalogItem | None:
        """The catalog item with exactly this article (surrounding spaces ignored)."""
        key = article.strip() if isinstance(article, str) else ""
        if not key or len(key) > schema.ARTICLE_MAX:
            return None

        def _find() -> tuple[Any, ...] | None:
            table = schema.catalog
            stmt = sa.select(table.c.article, table.c.name, table.c.unit).where(
                table.c.article == key
            )
            with self._engine.connect() as conn:
                row = conn.execute(stmt).first()
            return None if row is None else tuple(row)

        row = await asyncio.to_thread(_find)
        if row is None:
            return None
        return CatalogItem(article=row[0], name=row[1], unit=row[2])

    async def articles(self) -> list[str]:
        """All catalog articles, sorted (for the NLU's fuzzy matching)."""

        def _articles() -> list[str]:
            stmt = sa.select(schema.catalog.c.article).order_by(schema.catalog.c.article)
            with self._engine.connect() as conn:
                return [str(a) for a in conn.execute(stmt).scalars()]

        return await asyncio.to_thread(_articles)

    async def replace_catalog(self, items: Sequence[CatalogItem]) -> int:
        """Replace the whole catalog in ONE transaction; on any error nothing changes."""

        def _replace() -> int:
            with self._engine.begin() as conn:
                return schema.replace_catalog_rows(conn, items)

        count = await asyncio.to_thread(_replace)
        logger.info("catalog replaced", extra={"catalog_rows": count})
        return count

    # --- orders ----------------------------------------------------------------------

    async def save_order(self, order: OrderRecord) -> int:
        """Store the order, its items and its e-mail in the outbox, atomically; return its id."""
        if not isinstance(order, OrderRecord):
            raise TypeError("save_order expects an OrderRecord")

        def _save() -> int:
            now = schema.utc_text(schema.utc())
            with self._engine.begin() as conn:
                result = conn.execute(
                    schema.bot_orders.insert().values(
                        caller=order.caller,
                        called=order.called,
                        call_time=order.call_time.isoformat(),
                        status=str(order.status),
                        created_at=now,
                    )
                )
                key = result.inserted_primary_key
                if key is None or key[0] is None:
                    raise RuntimeError("the database did not return the new order id")
                order_id = int(key[0])
                if order.items:
                    conn.execute(
                        schema.bot_order_items.insert(),
                        [
                            {
                                "order_id": order_id,
                                "position": position,
                                "article": item.article,
                                "name": item.name,
                                "quantity": item.quantity,
                            }
                            for position, item in enumerate(order.items, start=1)
                        ],
                    )
                conn.execute(
                    schema.outbox.insert().values(
                        kind=schema.OUTBOX_ORDER_EMAIL,
                        order_id=order_id,
                        created_at=now,
                        attempts=0,
                        next_attempt_at=now,
                    )
                )
                return order_id

        order_id = await asyncio.to_thread(_save)
        logger.info("order saved", extra={"order_id": order_id, "items": len(order.items)})
        return order_id

    async def load_order(self, order_id: int) -> OrderRecord | None:
        """Read a saved order back (items in the order they were taken)."""

        def _load() -> OrderRecord | None:
            orders, items = schema.bot_orders, schema.bot_order_items
            with self._engine.connect() as conn:
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

        return await asyncio.to_thread(_load)

    # --- outbox ----------------------------------------------------------------------

    async def outbox_claim_due(
        self, now: datetime, lease: timedelta, limit: int = 100
    ) -> list[ClaimedMessage]:
        """Reserve unsent messages due at ``now`` for one attempt.

        A reserved message is pushed ``lease`` into the future, so another worker (or another
        process) does not pick it up while this one is sending it; if this worker dies the
        message becomes due again when the lease runs out.
        """
        now_text = schema.utc_text(now)
        until_text = schema.utc_text(now + lease)

        def _claim() -> list[ClaimedMessage]:
            box = schema.outbox
            claimed: list[ClaimedMessage] = []
            with self._engine.begin() as conn:
                rows = conn.execute(
                    sa.select(
                        box.c.id, box.c.kind, box.c.order_id, box.c.attempts, box.c.next_attempt_at
                    )
                    .where(box.c.sent_at.is_(None), box.c.next_attempt_at <= now_text)
                    .order_by(box.c.next_attempt_at, box.c.id)
                    .limit(limit)
                ).all()
                for row in rows:
                    updated = conn.execute(
                        box.update()
                        .where(
                            box.c.id == row.id,
                            box.c.sent_at.is_(None),
                            box.c.next_attempt_at == row.next_attempt_at,
                        )
                        .values(next_attempt_at=until_text)
                    )
                    if updated.rowcount == 1:
                        claimed.append(ClaimedMessage(row.id, row.kind, row.order_id, row.attempts))
            return claimed

        return await asyncio.to_thread(_claim)

    async def outbox_mark_sent(self, message_id: int, sent_at: datetime) -> None:
        def _mark() -> None:
            box = schema.outbox
            with self._engine.begin() as conn:
                conn.execute(
                    box.update()
                    .where(box.c.id == message_id)
                    .values(sent_at=schema.utc_text(sent_at), last_error=None)
                )

        await asyncio.to_thread(_mark)

    async def outbox_mark_failed(
        self, message_id: int, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        def _mark() -> None:
            box = schema.outbox
            with self._engine.begin() as conn:
                conn.execute(
                    box.update()
                    .where(box.c.id == message_id, box.c.sent_at.is_(None))
                    .values(
                        attempts=attempts,
                        next_attempt_at=schema.utc_text(next_attempt_at),
                        last_error=error[:500],
                    )
                )

        await asyncio.to_thread(_mark)

    async def outbox_pending(self) -> int:
        """How many messages are not sent yet."""

        def _count() -> int:
            box = schema.outbox
            stmt = sa.select(sa.func.count()).select_from(box).where(box.c.sent_at.is_(None))
            with self._engine.connect() as conn:
                return int(conn.execute(stmt).scalar_one())

        return await asyncio.to_thread(_count)

    async def outbox_entries(self) -> list[OutboxEntry]:
        """Every outbox row, oldest first (for status pages and tests)."""

        def _entries() -> list[OutboxEntry]:
            box = schema.outbox
            with self._engine.connect() as conn:
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
                )
                for r in rows
            ]

        return await asyncio.to_thread(_entries)
