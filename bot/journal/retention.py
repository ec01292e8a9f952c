"""How much disk the recordings take, and deleting recordings and calls older than a date.

Used by the «Записи разговоров» page (an admin deletes recordings older than a date, as the
seed's CRM does) and by the scheduled clean-up (``recordings.keep_days``,
``journal.keep_days``). A recording is deleted with its file and its row forgets it; a file
no call row names (its row never reached the database) goes by its modification time. File
work runs in a thread, database work in the shop database's pools.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.journal.recorder import SUFFIX
from connectors.shop.database import ShopDatabase
from connectors.shop.order_writes import _worker_rows
from connectors.shop.schema import (
    bot_call_events,
    bot_call_turns,
    bot_calls,
    parse_time,
    utc,
    utc_text,
)
from connectors.shop.workers import WorkerIdentity, is_dead

log = logging.getLogger(__name__)
CHUNK = 500


@dataclass(frozen=True, slots=True)
class DiskUse:
    files: int
    bytes: int
    oldest: datetime | None  # modification time of the oldest recording


@dataclass(frozen=True, slots=True)
class Deleted:
    files: int
    bytes: int
    calls: int = 0


def disk_use(root: Path) -> DiskUse:
    files = size = 0
    oldest: float | None = None
    if root.is_dir():
        for folder, _dirs, names in os.walk(root):
            for name in names:
                if not name.endswith(SUFFIX):
                    continue
                try:
                    stat = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                files += 1
                size += stat.st_size
                oldest = stat.st_mtime if oldest is None else min(oldest, stat.st_mtime)
    moment = datetime.fromtimestamp(oldest).astimezone() if oldest is not None else None
    return DiskUse(files, size, moment)


def _remove(path: Path) -> int:
    try:
        size = path.stat().st_size
        path.unlink()
        return size
    except FileNotFoundError:
        return 0


def _prune_empty(root: Path) -> None:
    if not root.is_dir():
        return
    for folder, _dirs, _names in sorted(os.walk(root), key=lambda w: -len(w[0])):
        if Path(folder) != root:
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only when empty


async def delete_recordings_before(db: ShopDatabase, root: Path, before: datetime) -> Deleted:
    """Delete every recording of a call started before ``before`` (and stray files older)."""
    cutoff = utc_text(utc(before))
    t = bot_calls.c

    def _named(conn: sa.Connection) -> list[tuple[str, str]]:
        stmt = sa.select(t.id, t.recording).where(t.recording.is_not(None), t.started_at < cutoff)
        return [(str(r[0]), str(r[1])) for r in conn.execute(stmt)]

    named = await db.read(_named)
    resolved_root = root.resolve()

    def _files() -> tuple[int, int]:
        files = size = 0
        for _key, relative in named:
            path = (root / relative).resolve()
            if resolved_root in path.parents and path.exists():
                size += _remove(path)
                files += 1
        known = {(root / rel).resolve() for _k, rel in named}
        limit = before.timestamp()
        if root.is_dir():
            for path in root.rglob(f"*{SUFFIX}"):
                try:
                    if path.resolve() not in known and path.stat().st_mtime < limit:
                        size += _remove(path)
                        files += 1
                except OSError:
                    continue
        _prune_empty(root)
        return files, size

    files, size = await asyncio.to_thread(_files)
    keys = [k for k, _rel in named]
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]

        def _forget(conn: sa.Connection, chunk: list[str] = chunk) -> None:
            conn.execute(
                bot_calls.update()
                .where(t.id.in_(chunk))
                .values(recording=None, recording_bytes=None, recording_s=None)
            )

        await db.write(_forget)
    return Deleted(files, size)


async def delete_calls_before(db: ShopDatabase, before: datetime) -> int:
    """Delete the journal's calls (events, turns) started before ``before``; their count."""
    cutoff = utc_text(utc(before))

    def _delete(conn: sa.Connection) -> int:
        old = sa.select(bot_calls.c.id).where(bot_calls.c.started_at < cutoff).limit(CHUNK)
        keys = [str(k) for k in conn.execute(old).scalars()]
        if keys:
            conn.execute(bot_call_events.delete().where(bot_call_events.c.call.in_(keys)))
            conn.execute(bot_call_turns.delete().where(bot_call_turns.c.call.in_(keys)))
            conn.execute(bot_calls.delete().where(bot_calls.c.id.in_(keys)))
        return len(keys)

    total = 0
    while True:
        count = await db.write(_delete)
        total += count
        if count < CHUNK:
            return total


async def close_interrupted(db: ShopDatabase, me: WorkerIdentity, timeout: float) -> int:
    """Calls still «active» whose worker is dead (crashed, stopped, silent for ``timeout``
    seconds: :func:`connectors.shop.workers.is_dead`) end as ``error`` / ``interrupted`` at
    their last event; their count."""
    t, e = bot_calls.c, bot_call_events.c

    def _close(conn: sa.Connection) -> int:
        active = conn.execute(
            sa.select(t.id, t.worker_id, t.started_at).where(t.result == "active")
        ).all()
        owners = {str(r.worker_id) for r in active if r.worker_id}
        rows = _worker_rows(conn, owners) if owners else {}
        now = utc()
        closed = 0
        for key, worker, started in active:
            if worker is None or worker == me.id:
                continue
            if not is_dead(rows.get(str(worker)), me, now, timeout):
                continue
            last = conn.execute(sa.select(sa.func.max(e.t)).where(e.call == key)).scalar()
            seconds = float(last or 0.0)
            conn.execute(
                bot_calls.update()
                .where(t.id == key, t.result == "active")
                .values(
                    result="error",
                    end_reason="interrupted",
                    duration_s=round(seconds, 3),
                    ended_at=utc_text(parse_time(str(started)) + timedelta(seconds=seconds)),
                )
            )
            closed += 1
        return closed

    return await db.write(_close)


def days_ago(days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now().astimezone()) - timedelta(days=days)
