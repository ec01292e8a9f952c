"""The missed-call store: the ``missed_calls`` table of the shop database (migration 0005).

One row per call nobody answered, whatever told us about it (``intake``: ``http``, ``ami``,
``telphin``, ``bot``). ``(intake, external_id)`` is unique: the PBX's call id, so a PBX that
reports the same call twice (a retried HTTP request, an AMI reconnect that replays) stores it
once, and :meth:`MissedCallStore.add` answers ``None`` for the repeat.

The status is one of :mod:`bot.missed.statuses`; every change is appended to the row's
``details["history"]`` (time, status and whatever the caller of :meth:`set_status` adds:
who called back, the outcome, the SIP code...), which is what the journal shows per row.
Becoming ``calling`` counts one call-back attempt (``attempts``).

Times are aware datetimes; they are stored as fixed-width UTC text
(:func:`connectors.shop.schema.utc_text`), so text comparison in SQL is time comparison, and
read back as aware UTC datetimes: the pages convert them to the shop's time zone.
All methods run in the shop database's bounded pools (reads in the read pool, changes in
ONE write transaction each), never on the event loop.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from bot.missed import statuses
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import missed_calls, parse_time, utc, utc_text

SOURCE_KINDS: Final = frozenset({"number", "queue", "extension", "bot"})
INTAKES: Final = frozenset({"http", "ami", "telphin", "bot"})
CALLER_MAX: Final = 32
CALLED_MAX: Final = 64
SOURCE_MAX: Final = 80
EXTERNAL_ID_MAX: Final = 200
CALL_ID_MAX: Final = 200
LIST_LIMIT_MAX: Final = 10_000
HISTORY_MAX: Final = 200  # entries kept per row (the oldest go first)


@dataclass(frozen=True, slots=True)
class MissedCall:
    """One missed call as stored (times aware, UTC)."""

    id: int
    missed_at: datetime
    caller: str  # last 10 digits, "" when unknown or hidden
    called: str  # the number dialled, "" when unknown
    source_kind: str  # number | queue | extension | bot
    source: str  # the queue's name, the extension, the external number
    wait_s: float
    intake: str  # http | ami | telphin | bot
    external_id: str
    status: str  # a code of bot.missed.statuses
    status_at: datetime
    attempts: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None  # the bot's call id (bot handoffs)

    @property
    def label(self) -> str:
        """The status as a supervisor reads it («Не перезвонили»...)."""
        return statuses.label(self.status)

    @property
    def history(self) -> list[dict[str, Any]]:
        entries = self.details.get("history", [])
        return list(entries) if isinstance(entries, list) else []

    @property
    def is_open(self) -> bool:
        """A call-back may still be placed for it."""
        return self.status in statuses.OPEN


def _row_to_call(row: Any) -> MissedCall:
    try:
        details = json.loads(row.details or "{}")
    except ValueError:
        details = {"unreadable": str(row.details)[:500]}
    if not isinstance(details, dict):
        details = {"value": details}
    return MissedCall(
        id=int(row.id),
        missed_at=parse_time(row.missed_at),
        caller=row.caller or "",
        called=row.called or "",
        source_kind=row.source_kind,
        source=row.source or "",
        wait_s=float(row.wait_s or 0.0),
        intake=row.intake,
        external_id=row.external_id,
        status=row.status,
        status_at=parse_time(row.status_at),
        attempts=int(row.attempts or 0),
        details=details,
        call_id=row.call_id,
    )


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be time zone aware")
    return moment


def _dumps(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, default=str, sort_keys=True)


def _digits(fragment: str | None) -> str:
    return "".join(ch for ch in fragment or "" if ch.isdigit())


def _history_entry(at: datetime, status: str, detail: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = dict(detail or {})
    entry["at"] = utc_text(at)
    entry["status"] = status
    return entry


def _with_history(details: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    history = details.get("history")
    history = list(history) if isinstance(history, list) else []
    history.append(entry)
    return {**details, "history": history[-HISTORY_MAX:]}


@dataclass(frozen=True, slots=True)
class _Filter:
    period_from: datetime | None = None
    period_to: datetime | None = None
    number_fragment: str | None = None
    statuses: Collection[str] | None = None
    source: str | None = None
    source_kind: str | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        t = missed_calls.c
        clauses: list[sa.ColumnElement[bool]] = []
        if self.period_from is not None:
            clauses.append(t.missed_at >= utc_text(_aware(self.period_from, "period_from")))
        if self.period_to is not None:
            clauses.append(t.missed_at < utc_text(_aware(self.period_to, "period_to")))
        digits = _digits(self.number_fragment)
        if digits:  # digits only: nothing to escape in LIKE
            pattern = f"%{digits}%"
            clauses.append(sa.or_(t.caller.like(pattern), t.called.like(pattern)))
        if self.statuses is not None:
            clauses.append(t.status.in_(sorted(set(self.statuses))))
        if self.source:
            clauses.append(t.source == self.source)
        if self.source_kind:
            clauses.append(t.source_kind == self.source_kind)
        return clauses


class MissedCallStore:
    """Missed calls in the shop database (SQLite or PostgreSQL)."""

    def __init__(self, db: ShopDatabase) -> None:
        self.db = db

    async def add(
        self,
        *,
        missed_at: datetime,
        caller: str,
        called: str,
        source_kind: str,
        source: str,
        wait_s: float,
        intake: str,
        external_id: str,
        call_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> MissedCall | None:
        """Store a missed call; ``None`` when this ``(intake, external_id)`` is already stored.

        ``caller`` should already be normalised (:func:`nlu.phones.normalize_phone`); values
        longer than their column are cut. Raises ``ValueError`` for an unknown
        ``source_kind`` / ``intake``, an empty ``external_id`` or a naive ``missed_at``.
        """
        if source_kind not in SOURCE_KINDS:
            raise ValueError(f"unknown source_kind {source_kind!r}")
        if intake not in INTAKES:
            raise ValueError(f"unknown intake {intake!r}")
        external = (external_id or "").strip()[:EXTERNAL_ID_MAX]
        if not external:
            raise ValueError("external_id is empty")
        missed = utc(_aware(missed_at, "missed_at"))
        wait = float(wait_s)
        if not wait >= 0.0 or wait == float("inf"):
            wait = 0.0
        now = utc()
        first = _history_entry(now, statuses.NOT_CALLED_BACK, {"event": "missed"})
        values = {
            "missed_at": utc_text(missed),
            "caller": (caller or "")[:CALLER_MAX],
            "called": (called or "")[:CALLED_MAX],
            "source_kind": source_kind,
            "source": (source or "")[:SOURCE_MAX],
            "wait_s": round(wait, 3),
            "intake": intake,
            "external_id": external,
            "status": statuses.NOT_CALLED_BACK,
            "status_at": utc_text(now),
            "attempts": 0,
            "details": _dumps(_with_history(dict(details or {}), first)),
            "call_id": call_id[:CALL_ID_MAX] if call_id else None,
        }
        table = missed_calls

        def _add(conn: sa.Connection) -> MissedCall | None:
            seen = conn.execute(
                sa.select(table.c.id).where(
                    table.c.intake == intake, table.c.external_id == external
                )
            ).first()
            if seen is not None:
                return None
            inserted = conn.execute(table.insert().values(**values)).inserted_primary_key
            assert inserted is not None
            new_id = inserted[0]
            row = conn.execute(sa.select(table).where(table.c.id == new_id)).one()
            return _row_to_call(row)

        try:
            return await self.db.write(_add)
        except sa.exc.IntegrityError:  # the same call stored by another worker meanwhile
            return None

    async def get(self, missed_id: int) -> MissedCall | None:
        table = missed_calls

        def _get(conn: sa.Connection) -> MissedCall | None:
            row = conn.execute(sa.select(table).where(table.c.id == int(missed_id))).first()
            return None if row is None else _row_to_call(row)

        return await self.db.read(_get)

    async def list(
        self,
        period_from: datetime | None = None,
        period_to: datetime | None = None,
        number_fragment: str | None = None,
        statuses: Collection[str] | None = None,
        source: str | None = None,
        limit: int = 100,
        offset: int = 0,
        *,
        source_kind: str | None = None,
    ) -> list[MissedCall]:
        """Missed calls, newest first: ``period_from`` ≤ missed_at < ``period_to``, a caller or
        called number containing the digits of ``number_fragment``, one of ``statuses``, the
        exact ``source`` (queue, extension, number) and/or ``source_kind``."""
        where = _Filter(
            period_from, period_to, number_fragment, statuses, source, source_kind
        ).where()
        table = missed_calls
        limit = max(0, min(int(limit), LIST_LIMIT_MAX))
        offset = max(0, int(offset))

        def _list(conn: sa.Connection) -> list[MissedCall]:
            stmt = (
                sa.select(table)
                .where(*where)
                .order_by(table.c.missed_at.desc(), table.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_row_to_call(r) for r in conn.execute(stmt)]

        return await self.db.read(_list)

    async def count(
        self,
        period_from: datetime | None = None,
        period_to: datetime | None = None,
        number_fragment: str | None = None,
        statuses: Collection[str] | None = None,
        source: str | None = None,
        *,
        source_kind: str | None = None,
    ) -> int:
        """How many rows :meth:`list` would give without its limit."""
        where = _Filter(
            period_from, period_to, number_fragment, statuses, source, source_kind
        ).where()

        def _count(conn: sa.Connection) -> int:
            stmt = sa.select(sa.func.count()).select_from(missed_calls).where(*where)
            return int(conn.execute(stmt).scalar_one())

        return await self.db.read(_count)

    async def set_status(
        self, missed_id: int, status: str, detail: dict[str, Any] | None = None
    ) -> MissedCall | None:
        """Change the status (and append ``detail`` to the history); ``None`` if no such row.

        Becoming :data:`~bot.missed.statuses.CALLING` counts one attempt.
        """
        if status not in statuses.LABELS:
            raise ValueError(f"unknown status {status!r}")
        table = missed_calls

        def _set(conn: sa.Connection) -> MissedCall | None:
            row = conn.execute(sa.select(table).where(table.c.id == int(missed_id))).first()
            if row is None:
                return None
            now = utc()
            current = _row_to_call(row)
            details = _with_history(current.details, _history_entry(now, status, detail))
            attempts = current.attempts + (1 if status == statuses.CALLING else 0)
            conn.execute(
                table.update()
                .where(table.c.id == current.id)
                .values(
                    status=status,
                    status_at=utc_text(now),
                    attempts=attempts,
                    details=_dumps(details),
                )
            )
            return _row_to_call(
                conn.execute(sa.select(table).where(table.c.id == current.id)).one()
            )

        return await self.db.write(_set)

    async def mark_client_called(
        self, caller: str, answered_at: datetime, detail: dict[str, Any] | None = None
    ) -> int:
        """The caller called again and was answered: their open missed calls (missed before
        ``answered_at``) become «Клиент позвонил сам». Returns how many rows changed.

        A call-back in progress (``calling``) and final statuses are left alone; an unknown
        caller ("") matches nothing.
        """
        if not caller:
            return 0
        answered = utc(_aware(answered_at, "answered_at"))
        table = missed_calls
        extra = {"event": "answered", "answered_at": utc_text(answered), **(detail or {})}

        def _mark(conn: sa.Connection) -> int:
            rows = conn.execute(
                sa.select(table).where(
                    table.c.caller == caller[:CALLER_MAX],
                    table.c.status.in_(sorted(statuses.OPEN)),
                    table.c.missed_at <= utc_text(answered),
                )
            ).all()
            now = utc()
            changed = 0
            for row in rows:
                current = _row_to_call(row)
                entry = _history_entry(now, statuses.CLIENT_CALLED, extra)
                result = conn.execute(
                    table.update()
                    .where(table.c.id == current.id, table.c.status == current.status)
                    .values(
                        status=statuses.CLIENT_CALLED,
                        status_at=utc_text(now),
                        details=_dumps(_with_history(current.details, entry)),
                    )
                )
                changed += result.rowcount or 0
            return changed

        return await self.db.write(_mark)

    async def open_for_caller(self, caller: str) -> builtins.list[MissedCall]:
        """The caller's missed calls a call-back may still be placed for, oldest first."""
        if not caller:
            return []
        table = missed_calls

        def _open(conn: sa.Connection) -> list[MissedCall]:
            stmt = (
                sa.select(table)
                .where(
                    table.c.caller == caller[:CALLER_MAX],
                    table.c.status.in_(sorted(statuses.OPEN)),
                )
                .order_by(table.c.missed_at, table.c.id)
            )
            return [_row_to_call(r) for r in conn.execute(stmt)]

        return await self.db.read(_open)

    async def wait_figures(self, since: datetime, until: datetime | None = None) -> dict[str, Any]:
        """«Время ожидания ответа» of the calls missed since ``since`` (until ``until``):
        ``{"count": n, "avg_s": float | None, "max_s": float | None, "total_s": float}``."""
        where = _Filter(period_from=since, period_to=until).where()
        c = missed_calls.c

        def _figures(conn: sa.Connection) -> dict[str, Any]:
            stmt = sa.select(
                sa.func.count(), sa.func.avg(c.wait_s), sa.func.max(c.wait_s), sa.func.sum(c.wait_s)
            ).where(*where)
            count, avg, top, total = conn.execute(stmt).one()
            return {
                "count": int(count or 0),
                "avg_s": None if avg is None else round(float(avg), 1),
                "max_s": None if top is None else round(float(top), 1),
                "total_s": round(float(total or 0.0), 1),
            }

        return await self.db.read(_figures)
