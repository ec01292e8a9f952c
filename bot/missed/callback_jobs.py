"""The ``callback_jobs`` table (migration 0007): call-backs waiting, in progress and done.

A job is one client to call back (``caller``, last 10 digits) for one or more of their missed
calls (``details["missed_ids"]``). While a job is open its ``open_key`` is the caller, and a
unique index on ``open_key`` allows one open job per caller: a second missed call of the same
client joins the open job instead of making another, so the client is never called twice at
once, whichever worker holds the job.

A worker **claims** a due job with one conditional ``UPDATE`` (``state = pending`` and due,
or ``running`` with its lease run out: the worker that held it died) that sets
``state = running``, its ``claim_token`` and ``leased_until``; only one of several workers
racing for the same row sees ``rowcount = 1`` (on SQLite and PostgreSQL alike, without
relying on ``SKIP LOCKED``). Every later change names the token, so a worker whose lease was
taken over cannot overwrite the new owner's result. States: ``pending`` → ``running`` →
``done`` | ``failed`` | ``skipped`` (final: ``open_key`` is cleared), or back to ``pending``
for the next attempt.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.shop.database import ShopDatabase
from connectors.shop.schema import callback_jobs, parse_time, utc, utc_text

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
SKIPPED = "skipped"
FINAL = frozenset({DONE, FAILED, SKIPPED})
HISTORY_MAX = 50


@dataclass(frozen=True, slots=True)
class CallbackJob:
    id: int
    caller: str
    rule: str
    state: str
    due_at: datetime
    attempts: int
    max_attempts: int
    missed_ids: tuple[int, ...]
    claim_token: str | None = None
    leased_until: datetime | None = None
    worker: str = ""
    outcome: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def history(self) -> list[dict[str, Any]]:
        entries = self.details.get("attempts", [])
        return list(entries) if isinstance(entries, list) else []


def _job(row: Any) -> CallbackJob:
    try:
        details = json.loads(row.details or "{}")
    except ValueError:
        details = {}
    if not isinstance(details, dict):
        details = {}
    ids = tuple(int(i) for i in details.get("missed_ids", []) if isinstance(i, int))
    return CallbackJob(
        id=int(row.id),
        caller=row.caller,
        rule=row.rule or "",
        state=row.state,
        due_at=parse_time(row.due_at),
        attempts=int(row.attempts or 0),
        max_attempts=int(row.max_attempts or 1),
        missed_ids=ids or (int(row.missed_id),),
        claim_token=row.claim_token,
        leased_until=parse_time(row.leased_until) if row.leased_until else None,
        worker=row.worker or "",
        outcome=row.outcome or "",
        details=details,
    )


def _dumps(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, default=str, sort_keys=True)


class CallbackJobs:
    """Call-back jobs in the shop database (its read and write pools)."""

    def __init__(self, db: ShopDatabase) -> None:
        self.db = db

    async def enqueue(
        self, missed_id: int, caller: str, rule: str, due_at: datetime, max_attempts: int
    ) -> tuple[CallbackJob, bool]:
        """A job for this missed call: a new one (``True``), or the caller's open job, which
        the missed call joins (``False``)."""
        table = callback_jobs
        now = utc_text(utc())

        def _open(conn: sa.Connection) -> Any:
            return conn.execute(
                sa.select(table).where(table.c.open_key == caller).with_for_update()
            ).first()

        def _add(conn: sa.Connection) -> tuple[CallbackJob, bool]:
            row = _open(conn)
            if row is None:
                details = {"missed_ids": [missed_id], "attempts": []}
                inserted = conn.execute(
                    table.insert().values(
                        missed_id=missed_id,
                        caller=caller,
                        open_key=caller,
                        rule=rule[:80],
                        state=PENDING,
                        due_at=utc_text(due_at),
                        attempts=0,
                        max_attempts=max_attempts,
                        created_at=now,
                        updated_at=now,
                        details=_dumps(details),
                    )
                ).inserted_primary_key
                assert inserted is not None
                new = conn.execute(sa.select(table).where(table.c.id == inserted[0])).one()
                return _job(new), True
            job = _job(row)
            if missed_id not in job.missed_ids:
                details = {**job.details, "missed_ids": [*job.missed_ids, missed_id]}
                conn.execute(
                    table.update()
                    .where(table.c.id == job.id)
                    .values(details=_dumps(details), updated_at=now)
                )
                job = _job(conn.execute(sa.select(table).where(table.c.id == job.id)).one())
            return job, False

        try:
            return await self.db.write(_add)
        except sa.exc.IntegrityError:  # another worker opened the caller's job meanwhile
            return await self.db.write(_add)

    async def get(self, job_id: int) -> CallbackJob | None:
        table = callback_jobs

        def _get(conn: sa.Connection) -> CallbackJob | None:
            row = conn.execute(sa.select(table).where(table.c.id == job_id)).first()
            return None if row is None else _job(row)

        return await self.db.read(_get)

    async def for_missed(self, missed_id: int) -> list[CallbackJob]:
        """Jobs that named this missed call (its details in the journal)."""
        table = callback_jobs

        def _list(conn: sa.Connection) -> list[CallbackJob]:
            rows = conn.execute(sa.select(table).order_by(table.c.id)).all()
            return [j for j in map(_job, rows) if missed_id in j.missed_ids]

        return await self.db.read(_list)

    async def claim(
        self, now: datetime, lease_until: datetime, token: str, worker: str, limit: int
    ) -> list[CallbackJob]:
        """Take up to ``limit`` due jobs (or jobs of a dead worker) for this worker."""
        table = callback_jobs
        now_text = utc_text(now)
        due = sa.or_(
            sa.and_(table.c.state == PENDING, table.c.due_at <= now_text),
            sa.and_(table.c.state == RUNNING, table.c.leased_until <= now_text),
        )

        def _claim(conn: sa.Connection) -> list[CallbackJob]:
            rows = conn.execute(
                sa.select(table.c.id).where(due).order_by(table.c.due_at, table.c.id).limit(limit)
            ).all()
            taken = []
            for row in rows:
                result = conn.execute(
                    table.update()
                    .where(table.c.id == row.id, due)
                    .values(
                        state=RUNNING,
                        claim_token=token,
                        leased_until=utc_text(lease_until),
                        worker=worker[:64],
                        updated_at=now_text,
                    )
                )
                if result.rowcount == 1:
                    taken.append(row.id)
            if not taken:
                return []
            fresh = conn.execute(sa.select(table).where(table.c.id.in_(taken))).all()
            return sorted(map(_job, fresh), key=lambda j: (j.due_at, j.id))

        return await self.db.write(_claim)

    async def extend(self, job: CallbackJob, token: str, lease_until: datetime) -> bool:
        """Keep the lease of a call in progress; ``False`` if the job is no longer ours."""
        fresh = await self._update(
            job, token, lambda _: {"leased_until": utc_text(lease_until)}, keep_state=True
        )
        return fresh is not None

    async def begin_attempt(
        self, job: CallbackJob, token: str, detail: dict[str, Any]
    ) -> CallbackJob | None:
        """Count one attempt (the call is being placed now); ``None``: no longer ours."""

        def values(current: CallbackJob) -> dict[str, Any]:
            entry = {"at": utc_text(utc()), "attempt": current.attempts + 1, **detail}
            history = [*current.history, entry][-HISTORY_MAX:]
            return {
                "attempts": current.attempts + 1,
                "details": _dumps({**current.details, "attempts": history}),
            }

        return await self._update(job, token, values, keep_state=True)

    async def finish(
        self, job: CallbackJob, token: str, state: str, outcome: str, detail: dict[str, Any]
    ) -> CallbackJob | None:
        """A final state (``done``, ``failed``, ``skipped``): the caller's job is closed."""
        assert state in FINAL

        def values(current: CallbackJob) -> dict[str, Any]:
            return {
                "state": state,
                "outcome": outcome[:32],
                "open_key": None,
                "leased_until": None,
                "details": _dumps(_with_result(current, outcome, detail)),
            }

        return await self._update(job, token, values)

    async def retry(
        self, job: CallbackJob, token: str, due_at: datetime, outcome: str, detail: dict[str, Any]
    ) -> CallbackJob | None:
        """Back to ``pending`` for the next attempt at ``due_at`` (or the same attempt later,
        outside the working hours)."""

        def values(current: CallbackJob) -> dict[str, Any]:
            return {
                "state": PENDING,
                "due_at": utc_text(due_at),
                "outcome": outcome[:32],
                "leased_until": None,
                "claim_token": None,
                "details": _dumps(_with_result(current, outcome, detail)),
            }

        return await self._update(job, token, values)

    async def _update(
        self,
        job: CallbackJob,
        token: str,
        values: Callable[[CallbackJob], dict[str, Any]],
        *,
        keep_state: bool = False,
    ) -> CallbackJob | None:
        """Change the job if it is still ours (same token); the row as it is now."""
        table = callback_jobs

        def _set(conn: sa.Connection) -> CallbackJob | None:
            where = [table.c.id == job.id, table.c.claim_token == token]
            if keep_state:
                where.append(table.c.state == RUNNING)
            row = conn.execute(sa.select(table).where(*where).with_for_update()).first()
            if row is None:
                return None
            result = conn.execute(
                table.update().where(*where).values(updated_at=utc_text(utc()), **values(_job(row)))
            )
            if result.rowcount != 1:
                return None
            return _job(conn.execute(sa.select(table).where(table.c.id == job.id)).one())

        return await self.db.write(_set)

    async def known_missed_ids(self, since: datetime) -> set[int]:
        """The missed calls named by jobs made since ``since`` (the catch-up's check)."""
        table = callback_jobs

        def _known(conn: sa.Connection) -> set[int]:
            rows = conn.execute(sa.select(table).where(table.c.created_at >= utc_text(since)))
            return {i for row in rows for i in _job(row).missed_ids}

        return await self.db.read(_known)

    async def open_jobs(self) -> Sequence[CallbackJob]:
        table = callback_jobs

        def _list(conn: sa.Connection) -> list[CallbackJob]:
            rows = conn.execute(
                sa.select(table).where(table.c.open_key.is_not(None)).order_by(table.c.due_at)
            ).all()
            return [_job(r) for r in rows]

        return await self.db.read(_list)


def _with_result(job: CallbackJob, outcome: str, detail: dict[str, Any]) -> dict[str, Any]:
    history = job.history
    if history:
        history[-1] = {**history[-1], "outcome": outcome, **detail}
    else:
        history = [{"at": utc_text(utc()), "attempt": 0, "outcome": outcome, **detail}]
    return {**job.details, "attempts": history[-HISTORY_MAX:], "missed_ids": list(job.missed_ids)}
