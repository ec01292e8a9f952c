"""The call-back scheduler: missed calls ➜ jobs in the database ➜ calls placed by the dialer.

:meth:`CallbackScheduler.on_missed` is a :class:`~bot.missed.intake.MissedCallIntake`
listener. A missed call that falls under a rule (:mod:`bot.missed.callback_rules`: its
source, its wait) and has a caller number becomes a job (:mod:`bot.missed.callback_jobs`)
due ``delay_s`` later, moved into the rule's working intervals (``callbacks.timezone``).
The jobs live in the database, not in memory: a restarted worker, or another worker, finds
them; a job held by a worker that died is taken over when its lease runs out
(``callbacks.lease_s``; a worker renews the lease of its calls in progress).

Running a due job (one attempt):

0. missed calls whose listener call failed (the database was down a moment) are found again
   by :meth:`CallbackScheduler.catch_up` (at start, then about once a minute);
1. the rule is read again (the console may have changed it); a disabled or deleted rule, or
   a moment outside its intervals, puts the job back (to the next interval);
2. the job's missed calls are read again: if the client called back and was answered
   (status «Клиент позвонил сам») and nothing is left open, the job is skipped;
3. the missed calls become «Звонят сейчас» (``calling``, one attempt each), the dialer places
   the call (:class:`Dialer`), and the outcome sets the status:

   ========================  ==========================  ==================================
   outcome                   status                      job
   ========================  ==========================  ==================================
   ``connected``             «Успешно перезвонили»       done
   ``voicemail``             «Успешно перезвонили»       done (the message is stored)
   ``busy``, ``no_answer``,  «Неуспешный вызов»          again after ``retry_delay_s``, until
   ``failed``                                            ``callbacks.attempts``; then failed
   ``employee_no_answer``    «Не перезвонили»            the same
   ========================  ==========================  ==================================

One job per caller at a time (the table's unique ``open_key``) and a claim per job mean a
client is never called twice at once, by one worker or several.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.missed import statuses
from bot.missed.callback_jobs import DONE, FAILED, SKIPPED, CallbackJob, CallbackJobs
from bot.missed.callback_rules import CallbackRule, allowed, next_allowed, rule_for
from bot.missed.callback_settings import CallbackSettings
from bot.missed.store import MissedCall, MissedCallStore
from connectors.shop.schema import utc

log = logging.getLogger(__name__)
CONNECTED = "connected"
VOICEMAIL = "voicemail"
BUSY = "busy"
NO_ANSWER = "no_answer"
CALL_FAILED = "failed"
EMPLOYEE_NO_ANSWER = "employee_no_answer"
OUTCOMES = frozenset({CONNECTED, VOICEMAIL, BUSY, NO_ANSWER, CALL_FAILED, EMPLOYEE_NO_ANSWER})
REACHED = frozenset({CONNECTED, VOICEMAIL})
CATCH_UP_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """One call-back attempt for the dialer."""

    job_id: int
    attempt: int
    caller: str  # the client's last 10 digits
    number: str  # what to dial: ``callbacks.dial_prefix`` + the 10 digits
    called: str  # the number the client had dialled (the newest missed call)
    rule: CallbackRule
    missed_ids: tuple[int, ...]


@dataclass(slots=True)
class CallbackResult:
    outcome: str  # one of OUTCOMES
    detail: dict[str, Any] = field(default_factory=dict)  # SIP code, target, voice message…

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown call-back outcome {self.outcome!r}")


class Dialer(Protocol):
    async def call_back(self, request: CallbackRequest) -> CallbackResult: ...


def default_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


class CallbackScheduler:
    def __init__(
        self,
        settings: CallbackSettings,
        jobs: CallbackJobs,
        missed: MissedCallStore,
        dialer: Dialer,
        rules: Callable[[], list[CallbackRule]],
        *,
        clock: Callable[[], datetime] = utc,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.missed = missed
        self.dialer = dialer
        self.rules = rules
        self.clock = clock
        self.worker = settings.worker or default_worker()
        self.zone = settings.zone
        self.running: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- the intake's listener -----------------------------------------------------------------

    async def on_missed(self, call: MissedCall) -> None:
        """A new missed call: a job if a rule takes it (or it joins the caller's open job)."""
        if not call.caller:
            return  # hidden or unknown number: nobody to call
        try:
            current = self.rules()
        except ValueError:
            log.exception("call-back rules unreadable: missed call not scheduled")
            return
        rule = rule_for(current, call.source_kind, call.source, call.called, call.wait_s)
        if rule is None:
            return
        earliest = max(call.missed_at + timedelta(seconds=rule.delay_s), self.clock())
        due = next_allowed(earliest, rule.intervals, self.zone)
        job, new = await self.jobs.enqueue(
            call.id, call.caller, rule.name, due, self.settings.attempts
        )
        log.info(
            "call-back scheduled" if new else "missed call joins the open call-back",
            extra={"job": job.id, "missed_id": call.id, "rule": rule.name, "due": due.isoformat()},
        )
        self._wake.set()

    # -- the loop ------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="callbacks")

    async def stop(self, grace: float = 30.0) -> None:
        """No new call-backs; calls in progress get ``grace`` seconds, then are cancelled
        (their jobs are taken up again when the lease runs out)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.running:
            _, pending = await asyncio.wait(list(self.running.values()), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def catch_up(self) -> int:
        """Schedule the missed calls of the last ``callbacks.catch_up_minutes`` that no job
        names (the intake's listener failed for them); how many were looked at again."""
        if not self.settings.catch_up_minutes:
            return 0
        now = self.clock()
        since = now - timedelta(minutes=self.settings.catch_up_minutes)
        recent = await self.missed.list(
            period_from=since, statuses=sorted(statuses.OPEN), limit=1000
        )
        known = await self.jobs.known_missed_ids(since - timedelta(days=1))
        missing = [c for c in recent if c.id not in known and c.caller]
        for call in sorted(missing, key=lambda c: c.missed_at):
            await self.on_missed(call)
        return len(missing)

    async def _loop(self) -> None:
        next_catch_up = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                if loop.time() >= next_catch_up:
                    next_catch_up = loop.time() + CATCH_UP_EVERY_S
                    await self.catch_up()
                await self.run_due()
            except Exception:
                log.exception("call-back pass failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def run_due(self) -> list[asyncio.Task[None]]:
        """Claim the due jobs this worker has room for and start them."""
        room = self.settings.concurrency - len(self.running)
        if room <= 0 or self._stopping:
            return []
        token = secrets.token_hex(8)
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.lease_s)
        started = []
        for job in await self.jobs.claim(now, lease, token, self.worker, room):
            task = asyncio.get_running_loop().create_task(self._run(job, token))
            self.running[job.id] = task
            task.add_done_callback(self._forget(job.id))
            started.append(task)
        return started

    def _forget(self, job_id: int) -> Callable[[asyncio.Task[None]], None]:
        def done(_: asyncio.Task[None]) -> None:
            self.running.pop(job_id, None)

        return done

    async def run_once(self) -> None:
        """One pass and wait for its call-backs (tests, ``bot callbacks run``)."""
        tasks = await self.run_due()
        await asyncio.gather(*tasks)

    # -- one attempt -------------------------------------------------------------------------

    async def _run(self, job: CallbackJob, token: str) -> None:
        keeper = asyncio.get_running_loop().create_task(self._keep_lease(job, token))
        try:
            await self._attempt(job, token)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call-back failed", extra={"job": job.id})
            with contextlib.suppress(Exception):
                failed = CallbackResult(CALL_FAILED, {"error": "internal"})
                await self._after(job, token, failed, job.missed_ids)
        finally:
            keeper.cancel()

    async def _keep_lease(self, job: CallbackJob, token: str) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            lease = self.clock() + timedelta(seconds=self.settings.lease_s)
            with contextlib.suppress(Exception):
                if not await self.jobs.extend(job, token, lease):
                    return

    def _rule(self, name: str) -> CallbackRule | None:
        try:
            current = self.rules()
        except ValueError:
            return None
        return next((r for r in current if r.name == name and r.enabled), None)

    async def _attempt(self, job: CallbackJob, token: str) -> None:
        now = self.clock()
        rule = self._rule(job.rule)
        if rule is None:
            await self.jobs.finish(job, token, SKIPPED, "rule_removed", {})
            await self._set(await self._ours(job), statuses.NOT_CALLED_BACK, "rule_removed")
            return
        if not allowed(now, rule.intervals, self.zone):  # rules or the clock moved on
            due = next_allowed(now, rule.intervals, self.zone)
            await self.jobs.retry(job, token, due, "outside_hours", {})
            return
        calls = await self._ours(job)
        if not calls:
            await self.jobs.finish(job, token, SKIPPED, statuses.CLIENT_CALLED, {})
            log.info("call-back skipped: the client called", extra={"job": job.id})
            return
        claimed = await self.jobs.begin_attempt(job, token, {"worker": self.worker})
        if claimed is None:
            return  # another worker took the job over
        await self._set(calls, statuses.CALLING, "", {"attempt": claimed.attempts})
        request = CallbackRequest(
            job_id=job.id,
            attempt=claimed.attempts,
            caller=job.caller,
            number=self.settings.dial_prefix + job.caller,
            called=calls[-1].called,
            rule=rule,
            missed_ids=tuple(c.id for c in calls),
        )
        log.info("calling back", extra={"job": job.id, "attempt": claimed.attempts})
        result = await self.dialer.call_back(request)
        await self._after(claimed, token, result, request.missed_ids)

    async def _ours(self, job: CallbackJob) -> list[MissedCall]:
        """The job's missed calls still waiting for this call-back (``calling`` too: a
        worker that died mid-call left them so), the caller's newer open ones included."""
        ids = set(job.missed_ids) | {c.id for c in await self.missed.open_for_caller(job.caller)}
        out = []
        for missed_id in sorted(ids):
            call = await self.missed.get(missed_id)
            if call is not None and (call.is_open or call.status == statuses.CALLING):
                out.append(call)
        return out

    async def _after(
        self, job: CallbackJob, token: str, result: CallbackResult, missed_ids: tuple[int, ...]
    ) -> None:
        detail = {"outcome": result.outcome, **result.detail}
        current = await self.jobs.get(job.id)
        # the calls of this attempt, and those the client missed meanwhile (they joined the job)
        ids = sorted({*missed_ids, *(current.missed_ids if current is not None else ())})
        calls = [
            c
            for c in [await self.missed.get(i) for i in ids]
            if c is not None and (c.status == statuses.CALLING or c.is_open)
        ]
        if result.outcome in REACHED:
            if await self.jobs.finish(job, token, DONE, result.outcome, result.detail) is None:
                return  # taken over meanwhile: the new owner decides
            await self._set(calls, statuses.CALLED_BACK, result.outcome, detail)
            log.info("called back", extra={"job": job.id, "outcome": result.outcome})
            return
        status = (
            statuses.NOT_CALLED_BACK if result.outcome == EMPLOYEE_NO_ANSWER else statuses.FAILED
        )
        attempts = current.attempts if current is not None else job.attempts
        if attempts >= job.max_attempts:
            if await self.jobs.finish(job, token, FAILED, result.outcome, result.detail) is None:
                return
        else:
            rule = self._rule(job.rule)
            later = self.clock() + timedelta(seconds=self.settings.retry_delay_s)
            due = next_allowed(later, rule.intervals if rule else (), self.zone)
            if await self.jobs.retry(job, token, due, result.outcome, result.detail) is None:
                return
            detail["next_at"] = due.isoformat()
        await self._set(calls, status, result.outcome, detail)
        log.info(
            "call-back unsuccessful",
            extra={"job": job.id, "outcome": result.outcome, "attempts": attempts},
        )

    async def _set(
        self,
        calls: list[MissedCall],
        status: str,
        outcome: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        for call in calls:
            extra = {"event": "callback", **({"outcome": outcome} if outcome else {})}
            await self.missed.set_status(call.id, status, {**extra, **(detail or {})})
