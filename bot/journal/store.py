"""The call store: every call's events into the database, never in the way of the call.

:meth:`CallStore.open_call` gives one call's subscriber (:class:`CallJournal`), made with the
call's :class:`~dialogs.context.CallContext` (caller, called). Subscribers only turn events
into rows and put them on one bounded queue (``journal.queue_size``); one writer task takes
batches off it (``journal.batch_size`` rows, at most ``journal.flush_s`` apart) and writes
each batch in one transaction of the shop database's write pool. A call therefore never waits
for the database: when the database is slow or down, a failed batch is tried again three
times, then dropped, and a full queue drops new rows; both are counted
(:attr:`CallStore.dropped`, ``bot_journal_dropped_total``) and logged without their content.

Rows: ``bot_calls`` (one per call, updated as it goes: caller name, answer, order, transfer,
end and result), ``bot_call_events`` (what was said and done, in order, each with its JSON),
``bot_call_turns`` (the caller turns' timings). ``journal.texts: false`` keeps no words.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from bot.events import (
    BotSaid,
    CallBegan,
    CallEnded,
    CallerNameSet,
    CallerSaid,
    CallEvent,
    DraftSaved,
    OrderFailed,
    OrderSaved,
    StateChanged,
    Transferred,
    TurnTimed,
)
from bot.journal.settings import JournalSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import bot_call_events, bot_call_turns, bot_calls, utc, utc_text
from dialogs.context import CallContext

log = logging.getLogger(__name__)
# the bot did not understand an article: these replies (and this transfer reason) carry what
# the caller had just said, for the dashboard's «артикулы, которые не поняли»
MISSED_ARTICLE_KEYS = frozenset({"utter_article_not_found", "utter_article_keypad"})
MISSED_ARTICLE_REASON = "article_not_recognized"
ERROR_REASONS = frozenset({"error", "engine_error", "recognition_timeout"})
RETRIES = (0.5, 1.0, 2.0)
WARN_EVERY_S = 60.0

Row = tuple[str, dict[str, Any]]  # (kind, values): "call" insert, "update", "event", "turn"


def call_result(
    *, transferred: str | None, ordered: bool, end_reason: str, failed: bool = False
) -> str:
    """How a call ended, for the journal's filter: order | transfer | hangup | error."""
    if transferred is not None:
        return "error" if transferred in ERROR_REASONS else "transfer"
    if ordered:
        return "order"
    if failed or end_reason in ("error", "protocol_error") or end_reason.endswith("_failed"):
        return "error"
    return "hangup"


@dataclass(slots=True)
class CallJournal:
    """One call's subscriber: its events as rows on the store's queue."""

    store: CallStore
    key: str
    context: CallContext
    seq: int = 0
    turns: int = 0
    heard: str = ""  # the caller's last words (for a misheard article)
    answered: bool = False
    ordered: bool = False
    failed: bool = False
    transferred: str | None = None
    ended: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __call__(self, event: CallEvent) -> None:
        try:
            self._record(event)
        except Exception:  # never the call's problem
            log.exception("journal: an event was not recorded", extra={"type": event.type})

    def _record(self, event: CallEvent) -> None:
        store, texts = self.store, self.store.settings.texts
        if isinstance(event, StateChanged):
            if event.state == "speaking" and not self.answered:
                self.answered = True
                at = self.context.started_at + timedelta(seconds=event.t)
                store.put("update", {"id": self.key, "answered_at": utc_text(at)})
            return
        if isinstance(event, CallBegan):
            store.put("call", self._call_row(event))
        elif isinstance(event, TurnTimed):
            timing = event.timing
            self.turns += 1
            row = timing.to_json()
            row.update(call=self.key, seq=self.turns, text=row["text"] if texts else "")
            store.put("turn", row)
            return
        values: dict[str, Any] = {}
        row = self._event_row(event)
        if isinstance(event, CallerSaid):
            self.heard = event.text
        elif isinstance(event, BotSaid) and event.key in MISSED_ARTICLE_KEYS:
            row["heard"] = self.heard if texts else ""
        elif isinstance(event, CallerNameSet):
            values["caller_name"] = event.name[:200] if texts else ""
        elif isinstance(event, OrderSaved):  # and its drafts
            self.ordered = self.ordered or not isinstance(event, DraftSaved)
            values.update(order_id=event.order_id, order_status=event.status[:64])
        elif isinstance(event, OrderFailed):
            self.failed = self.failed or not event.draft
        elif isinstance(event, Transferred):
            self.transferred = event.reason
            values.update(handoff_reason=event.reason[:64], handoff_target=event.target[:80])
            if event.reason == MISSED_ARTICLE_REASON and texts:
                row["heard"] = self.heard
        elif isinstance(event, CallEnded):
            self.ended = True
            ended = self.context.started_at + timedelta(seconds=event.seconds)
            values.update(
                ended_at=utc_text(ended),
                duration_s=round(event.seconds, 3),
                end_reason=event.reason[:64],
                turns=self.turns,
                result=call_result(
                    transferred=self.transferred,
                    ordered=self.ordered,
                    end_reason=event.reason,
                    failed=self.failed,
                ),
            )
        store.put("event", row)
        if values:
            store.put("update", {"id": self.key, **values})

    def _call_row(self, event: CallBegan) -> dict[str, Any]:
        context = self.context
        return {
            "id": self.key,
            "call_id": context.call_id[:200],
            "worker_id": self.store.worker_id or None,
            "connector": event.connector[:32],
            "route": event.route[:64],
            "scenario": event.scenario[:32],
            "caller": (context.caller or "")[:64],
            "called": context.called[:64],
            "started_at": utc_text(context.started_at),
            "result": "active",
            **self.extra,
        }

    def _event_row(self, event: CallEvent) -> dict[str, Any]:
        self.seq += 1
        data = event.to_json()
        texts = self.store.settings.texts
        if not texts:
            for name in ("text", "name", "caller"):
                if name in data:
                    data[name] = ""
        return {
            "call": self.key,
            "seq": self.seq,
            "t": event.t,
            "type": event.type,
            "text": str(data.get("text", "")) if texts else "",
            "key": str(data.get("key", ""))[:64],
            "intent": str(data.get("intent", ""))[:64],
            "confidence": data.get("confidence"),
            "source": str(data.get("source", ""))[:16],
            "heard": "",
            "data": json.dumps(data, ensure_ascii=False, default=str),
        }

    def set_recording(self, path: str) -> None:
        """Before ``call_started``: the recording's path goes into the call's row."""
        self.extra["recording"] = path

    def recording_done(self, size: int, seconds: float) -> None:
        self.store.put(
            "update", {"id": self.key, "recording_bytes": size, "recording_s": round(seconds, 2)}
        )


class CallStore:
    def __init__(
        self,
        db: ShopDatabase,
        settings: JournalSettings,
        *,
        worker_id: str = "",
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.worker_id = worker_id
        self.on_drop = on_drop
        self.queue: asyncio.Queue[Row] = asyncio.Queue(settings.queue_size)
        self.dropped = 0
        self.written = 0
        self._task: asyncio.Task[None] | None = None
        self._warned = 0.0
        self._missing: set[str] = set()  # calls whose row was never written (rows dropped)

    def open_call(self, context: CallContext) -> CallJournal:
        return CallJournal(self, secrets.token_hex(16), context)

    # -- the queue -------------------------------------------------------------------------

    def put(self, kind: str, values: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((kind, values))
        except asyncio.QueueFull:
            self._drop(1, "queue full")

    def _drop(self, count: int, why: str) -> None:
        self.dropped += count
        if self.on_drop is not None:
            self.on_drop(count)
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY_S:
            self._warned = now
            log.warning("journal rows dropped", extra={"why": why, "dropped": self.dropped})

    # -- the writer ------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="journal-writer")

    async def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then stop the writer."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.queue.join()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def flush(self, timeout: float = 10.0) -> None:
        """Until every row queued so far is written or dropped (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            await self.queue.join()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.settings.flush_s
            while len(batch) < self.settings.batch_size:
                try:
                    batch.append(self.queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                try:  # a cancelled get() leaves its item in the queue
                    async with asyncio.timeout_at(deadline):
                        batch.append(await self.queue.get())
                except TimeoutError:
                    break
            try:
                await self._write_batch(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def _write_batch(self, batch: list[Row]) -> None:
        kept = [(k, v) for k, v in batch if self._call_of(k, v) not in self._missing]
        if len(kept) < len(batch):  # rows of a call whose own row was dropped
            self._drop(len(batch) - len(kept), "call row missing")
        batch = kept
        if not batch:
            return
        for delay in (*RETRIES, None):
            try:
                await self.db.write(lambda conn: _write(conn, batch))
                self.written += len(batch)
                return
            except Exception as exc:
                if delay is None:
                    for kind, values in batch:
                        if kind == "call":
                            self._missing.add(values["id"])
                    self._drop(len(batch), type(exc).__name__)
                    return
                await asyncio.sleep(delay)

    @staticmethod
    def _call_of(kind: str, values: dict[str, Any]) -> str:
        return str(values["id"] if kind in ("call", "update") else values["call"])


def _write(conn: sa.Connection, batch: list[Row]) -> None:
    """One transaction: inserts grouped by table, updates in order after their inserts."""
    pending: dict[str, list[dict[str, Any]]] = {"call": [], "event": [], "turn": []}
    tables = {"call": bot_calls, "event": bot_call_events, "turn": bot_call_turns}

    def insert_pending() -> None:
        for kind in ("call", "event", "turn"):
            if pending[kind]:
                conn.execute(tables[kind].insert(), pending[kind])
                pending[kind] = []

    for kind, values in batch:
        if kind == "update":
            insert_pending()
            key = values["id"]
            rest = {k: v for k, v in values.items() if k != "id"}
            conn.execute(bot_calls.update().where(bot_calls.c.id == key).values(**rest))
        else:
            pending[kind].append(values)
    insert_pending()


def now_text() -> str:
    return utc_text(utc())
