"""What ``bot serve`` runs of the journal: the call store's writer, the recordings' encoder
thread, and the scheduled clean-up; :meth:`Journal.attach` wires one voice call to both.

    journal = Journal(settings, shop.db, worker_id=…, registry=metrics.registry)
    journal.start()
    call = journal.attach(session)     # before session.run()
    ...
    await call.finish()                # after it: the recording's last page, its size
    await journal.stop()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter

from bot.call_context import context_for
from bot.events import CallBegan, CallEvent, Subscriber
from bot.journal.recorder import CallRecorder, Recordings
from bot.journal.retention import (
    close_interrupted,
    days_ago,
    delete_calls_before,
    delete_recordings_before,
)
from bot.journal.settings import JournalSettings, RecordingSettings
from bot.journal.store import CallJournal, CallStore
from connectors.pbx.telphin import TelphinReply, TelphinRequest
from connectors.pbx.transport import CallInfo
from connectors.shop.database import ShopDatabase
from connectors.shop.workers import WorkerIdentity
from dialogs.context import CallContext

if TYPE_CHECKING:
    from bot.session import CallSession

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AttachedCall:
    journal: CallJournal | None
    recorder: CallRecorder | None

    async def finish(self) -> None:
        if self.recorder is None:
            return
        try:
            info = await self.recorder.close()
        except Exception:
            log.exception("closing a call recording failed")
            return
        if info is not None and self.journal is not None:
            self.journal.recording_done(info.bytes, info.seconds)


class Journal:
    def __init__(
        self,
        journal: JournalSettings,
        recordings: RecordingSettings,
        db: ShopDatabase,
        *,
        worker: WorkerIdentity | None = None,
        worker_timeout: float = 60.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = journal
        self.worker = worker
        self.worker_timeout = worker_timeout
        self.recording_settings = recordings
        self.db = db
        on_drop = None
        if registry is not None:
            dropped = Counter(
                "bot_journal_dropped",
                "Call journal rows not written (database down or too slow)",
                registry=registry,
            )
            on_drop = dropped.inc
        self.store = (
            CallStore(db, journal, worker_id=worker.id if worker else "", on_drop=on_drop)
            if journal.enabled
            else None
        )
        self.recordings = Recordings(recordings) if recordings.active else None
        self._cleanup: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.store is not None:
            self.store.start()
        if self.store is not None:
            self._cleanup = asyncio.create_task(self._clean_up_every(), name="journal-cleanup")

    async def stop(self) -> None:
        if self._cleanup is not None:
            self._cleanup.cancel()
            await asyncio.gather(self._cleanup, return_exceptions=True)
        if self.store is not None:
            await self.store.stop()
        if self.recordings is not None:
            await asyncio.to_thread(self.recordings.close)

    def attach(self, session: CallSession) -> AttachedCall:
        """Subscribe the store to the call and tap its audio for the recording."""
        journal = self.store.open_call(session.context) if self.store is not None else None
        recorder = None
        if self.recordings is not None:
            context = session.context
            recorder = self.recordings.start(
                context.call_id, session.transport.rate, context.started_at
            )
            session.tap_audio(recorder.caller, recorder.bot)
            if journal is not None:
                journal.set_recording(recorder.relative)
        if journal is not None:
            session.subscribe(journal)
        return AttachedCall(journal, recorder)

    def telphin(
        self, decide: Callable[[TelphinRequest], Awaitable[TelphinReply]]
    ) -> tuple[Callable[[TelphinRequest], Awaitable[TelphinReply]], Subscriber]:
        """Telphin Call Interactive requests into the journal (no audio): ``decide`` wrapped
        to know each request's caller and called number, and the subscriber for
        ``TelphinCase2.subscribers`` that finds them by call id."""
        contexts: dict[str, CallContext] = {}
        journals: dict[str, CallJournal] = {}

        async def decide_recorded(request: TelphinRequest) -> TelphinReply:
            called = request.called_did or request.called_extension
            info = CallInfo(request.call_id, request.caller, called, "telphin")
            contexts[request.call_id] = context_for(info)
            try:
                return await decide(request)
            finally:
                contexts.pop(request.call_id, None)
                journals.pop(request.call_id, None)

        def subscriber(event: CallEvent) -> None:
            if self.store is None:
                return
            if isinstance(event, CallBegan) and event.call_id in contexts:
                journals[event.call_id] = self.store.open_call(contexts[event.call_id])
            journal = journals.get(event.call_id)
            if journal is not None:
                journal(event)

        return decide_recorded, subscriber

    async def clean_up(self) -> None:
        """Calls of a crashed worker end as interrupted; recordings older than
        ``recordings.keep_days`` and calls older than ``journal.keep_days`` go."""
        if self.worker is not None and self.store is not None:
            closed = await close_interrupted(self.db, self.worker, self.worker_timeout)
            if closed:
                log.warning("calls of a crashed process closed", extra={"calls": closed})
        keep = self.recording_settings.keep_days
        if keep and self.recordings is not None:
            gone = await delete_recordings_before(self.db, self.recordings.root, days_ago(keep))
            if gone.files:
                log.info("old recordings deleted", extra={"files": gone.files, "bytes": gone.bytes})
        if self.settings.keep_days and self.store is not None:
            calls = await delete_calls_before(self.db, days_ago(self.settings.keep_days))
            if calls:
                log.info("old journal calls deleted", extra={"calls": calls})

    async def _clean_up_every(self) -> None:
        while True:
            try:
                await self.clean_up()
            except Exception as exc:
                log.warning("journal clean-up failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(self.settings.cleanup_interval_s)
