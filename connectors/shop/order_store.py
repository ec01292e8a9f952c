"""Orders that survive a crash and a failing database: drafts, a journal, recovery.

The call's runner writes the whole order every time the confirmed items change::

    store = OrderStore(db, settings.shop.orders)
    await store.start()                       # at server start: journal replay + recovery
    order_id = await store.save_draft(call_id, record)   # status «в работе»
    ...
    order_id = await store.submit(call_id, record)       # final status + e-mail queued
    ...
    await store.close()

**Guarantee.** When ``save_draft`` or ``submit`` returns, the order is committed in the
database. When it raises :class:`OrderNotSaved`, the order was retried for about
``retry_total`` seconds and then appended (fsync'd) to the journal file, to be written by
:meth:`replay_journal` when the database is back; the runner then apologises and hands the
caller to an operator. Only if the journal cannot be written either (``journaled`` is
False: disk full, folder read-only) is the order held nowhere but in the error.

**Drafts of a crashed process** are finished by :meth:`recover` (at start, and periodically
in :meth:`run`) with the configured status («прерван») and e-mailed; which drafts belong to a
dead process is decided as in :mod:`connectors.shop.workers`. Every write carries the whole
order and a growing revision (:mod:`connectors.shop.order_writes`), so replays and retries
never duplicate an order or bring back an older version of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa

from connectors.shop import order_writes, schema
from connectors.shop.database import ShopDatabase
from connectors.shop.engine import DbExecutor
from connectors.shop.journal import OrderJournal
from connectors.shop.order_writes import OrderWrite
from connectors.shop.records import OrderRecord
from connectors.shop.settings import OrderStoreSettings
from connectors.shop.workers import WorkerIdentity

log = logging.getLogger(__name__)
REPLAY_GIVE_UP = 3
"""Journal entries failing in a row after which a replay stops (the database is down)."""


class OrderNotSaved(Exception):
    """The database did not take the order in time; it is in the journal (if ``journaled``)."""

    def __init__(self, call_id: str, *, journaled: bool, cause: str) -> None:
        where = "kept in the order journal" if journaled else "NOT journaled either"
        # no call id in the text: some PBXs put the caller's number in it
        super().__init__(f"order not saved in the database ({where}; {cause})")
        self.call_id = call_id
        self.journaled = journaled
        self.cause = cause
        self.message_ru = (
            "Заказ не удалось записать в базу данных; он сохранён в журнале и будет записан, "
            "когда база станет доступна."
            if journaled
            else "Заказ не удалось записать ни в базу данных, ни в журнал."
        )


def _error_name(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return type(orig).__name__ if orig is not None else type(exc).__name__


class OrderStore:
    """Drafts, final orders, the journal and recovery on top of :class:`ShopDatabase`."""

    def __init__(
        self,
        db: ShopDatabase,
        settings: OrderStoreSettings | None = None,
        *,
        identity: WorkerIdentity | None = None,
    ) -> None:
        self.db = db
        self.settings = settings or db.settings.orders
        self.identity = identity or WorkerIdentity.current()
        self.journal = OrderJournal(self.settings.journal)
        self._journal_io = DbExecutor("journal", 1)
        self._last_revision = 0
        self._replay_lock = asyncio.Lock()
        self._active = False  # wrote (or tried to write) as a worker: close() must sign off

    @property
    def worker_id(self) -> str:
        return self.identity.id

    def call_key(self, call_id: str) -> str:
        """The database key of a call: unique per process, even if PBX call ids repeat."""
        raw = f"{self.identity.id}/{call_id}"
        if len(raw) <= schema.CALL_KEY_MAX:
            return raw
        digest = hashlib.sha256(call_id.encode("utf-8", "replace")).hexdigest()
        return f"{self.identity.id}/sha256:{digest}"

    def _revision(self) -> int:
        # grows across every write of this process: wall-clock nanoseconds, strictly increasing
        self._last_revision = max(time.time_ns(), self._last_revision + 1)
        return self._last_revision

    # --- writes ------------------------------------------------------------------------

    async def save_draft(self, call_id: str, order: OrderRecord) -> int:
        """Write the call's whole order as a draft (``draft_status``); return its id.

        The same call always gets the same id. Raises :class:`OrderNotSaved`.
        """
        draft = replace(order, status=self.settings.draft_status)
        return await self._write(call_id, draft, final=False)

    async def submit(self, call_id: str, order: OrderRecord) -> int:
        """Finish the call's order (or create it) with ``order.status`` and queue its e-mail,
        in one transaction; return its id. Raises :class:`OrderNotSaved`."""
        return await self._write(call_id, order, final=True)

    async def _write(self, call_id: str, order: OrderRecord, *, final: bool) -> int:
        if not isinstance(order, OrderRecord):
            raise TypeError("OrderStore expects an OrderRecord")
        write = OrderWrite(self.call_key(call_id), self.worker_id, self._revision(), final, order)
        self._active = True
        deadline = time.monotonic() + self.settings.retry_total
        delay = self.settings.retry_delay
        attempts = 0
        while True:
            attempts += 1
            try:
                applied = await self.db.write(
                    lambda conn: order_writes.apply_write(conn, write, schema.utc(), self.identity)
                )
            except Exception as exc:  # any failure: the order must end up somewhere
                cause = _error_name(exc)
                if time.monotonic() + delay > deadline:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            log.info(
                "order finished" if final else "order draft saved",
                extra={
                    "order_id": applied.order_id,
                    "items": len(order.items),
                    "attempts": attempts,
                },
            )
            return applied.order_id
        journaled = await self._append_journal(write)
        log.error(
            "order not saved in the database",
            extra={"error": cause, "attempts": attempts, "journaled": journaled, "final": final},
        )
        raise OrderNotSaved(call_id, journaled=journaled, cause=cause)

    async def _append_journal(self, write: OrderWrite) -> bool:
        try:
            await self._journal_io.run(self.journal.append, write)
        except Exception as exc:
            log.critical(
                "order journal not writable: the order is held nowhere",
                extra={"error": type(exc).__name__},
            )
            return False
        return True

    # --- journal -----------------------------------------------------------------------

    async def journal_pending(self) -> int:
        """Orders waiting in the journal for the database."""
        return await self._journal_io.run(self.journal.pending)

    async def replay_journal(self) -> int:
        """Write the journal's orders into the database; return how many entries were
        applied or found already there. Safe to call at any time, from several processes."""
        async with self._replay_lock:
            files = await self._journal_io.run(self.journal.take)
            done = 0
            for path in files:
                done += await self._replay_file(path)
            return done

    async def _replay_file(self, path: Path) -> int:
        """Apply one replay file's entries. An entry that fails is kept for the next replay
        and the others go on; after ``REPLAY_GIVE_UP`` failures in a row the database is
        taken to be down and the rest is kept untried."""
        with self.journal.replaying(path) as replay:
            if replay is None:
                return 0
            count = 0
            left: list[OrderWrite] = []
            failures = 0
            error = ""
            for index, write in enumerate(replay.writes):
                if failures >= REPLAY_GIVE_UP:
                    left.extend(replay.writes[index:])
                    break
                try:
                    await self.db.write(self._replayer(write))
                except Exception as exc:
                    failures += 1
                    error = _error_name(exc)
                    left.append(write)
                    continue
                failures = 0
                count += 1
            if left:
                replay.keep(left)
                log.warning(
                    "order journal replay incomplete; will retry",
                    extra={"error": error, "replayed": count, "left": len(left)},
                )
        if not left:
            await self._journal_io.run(self.journal.done, path)
        if count:
            log.info("order journal replayed", extra={"entries": count})
        return count

    def _replayer(self, write: OrderWrite) -> Callable[[sa.Connection], order_writes.Applied]:
        # our own entries refresh our heartbeat; another worker's must not look alive
        touch = self.identity if write.worker_id == self.worker_id else None
        return lambda conn: order_writes.apply_write(conn, write, schema.utc(), touch)

    # --- workers and recovery ------------------------------------------------------------

    async def heartbeat(self) -> None:
        """Tell other workers this process is alive (also done by every draft write)."""
        self._active = True
        await self.db.write(
            lambda conn: order_writes.touch_worker(conn, self.identity, schema.utc())
        )

    async def recover(self, status: str | None = None) -> list[int]:
        """Finish the drafts of dead workers with ``status`` (default: the configured
        ``recovered_status``, «прерван») and queue their e-mails; return their ids."""
        final_status = status or self.settings.recovered_status
        ids = await self.db.write(
            lambda conn: order_writes.recover_drafts(
                conn, self.identity, schema.utc(), self.settings.worker_timeout, final_status
            )
        )
        if ids:
            log.warning("orphaned draft orders finished", extra={"orders": len(ids)})
        return ids

    async def start(self) -> list[int]:
        """At server start: register, replay the journal, recover orphaned drafts.

        Returns the recovered order ids. A database that is down is not fatal here: the
        periodic :meth:`run` tries again.
        """
        try:
            await self.heartbeat()
            await self.replay_journal()
            return await self.recover()
        except Exception as exc:
            log.error("order recovery at start failed", extra={"error": _error_name(exc)})
            return []

    async def maintain(self) -> None:
        """One round of the periodic work: heartbeat, journal replay, recovery."""
        for step in (self.heartbeat, self.replay_journal, self.recover):
            try:
                await step()
            except Exception as exc:
                log.warning(
                    "order store maintenance step failed",
                    extra={"step": step.__name__, "error": _error_name(exc)},
                )

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeat every ``heartbeat_interval`` s; replay and recover every
        ``maintenance_interval`` s; until ``stop`` is set."""
        last_maintenance = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.heartbeat_interval):
                    await stop.wait()
            if stop.is_set():
                break
            if time.monotonic() - last_maintenance >= self.settings.maintenance_interval:
                await self.maintain()
                last_maintenance = time.monotonic()
            else:
                with contextlib.suppress(Exception):
                    await self.heartbeat()

    async def close(self, finish_drafts: bool = True) -> list[int]:
        """At shutdown, after the calls ended: finish this process's leftover drafts with the
        recovered status (``finish_drafts``), mark the worker stopped; return those ids."""
        finished: list[int] = []
        if not self._active:  # a command-line tool that never took an order
            self._journal_io.shutdown()
            return finished
        try:
            if finish_drafts:
                finished = await self.db.write(
                    lambda conn: order_writes.finish_own_drafts(
                        conn, self.identity, schema.utc(), self.settings.recovered_status
                    )
                )
            await self.db.write(
                lambda conn: order_writes.mark_stopped(conn, self.identity, schema.utc())
            )
        except Exception as exc:
            log.error("order store shutdown failed", extra={"error": _error_name(exc)})
        finally:
            self._journal_io.shutdown()
        return finished
