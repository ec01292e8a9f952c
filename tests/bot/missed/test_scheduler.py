"""The call-back scheduler on SQLite and a real PostgreSQL: jobs in the database, a restart in
the middle of a call-back (a new scheduler on the same database finishes it, once), no client
called twice at once, «Клиент позвонил сам» skips the call-back, the attempts limit with the
statuses of the manual, and a call-back due outside the working hours waiting for them.

The dialer here is a scripted one (the SIP and AMI dialers have their own tests); everything
else is the real store and the real tables."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.missed import statuses
from bot.missed.callback_jobs import DONE, FAILED, PENDING, RUNNING, SKIPPED, CallbackJobs
from bot.missed.callback_rules import CallbackRule, Interval
from bot.missed.callback_settings import CallbackSettings
from bot.missed.scheduler import (
    BUSY,
    CONNECTED,
    EMPLOYEE_NO_ANSWER,
    CallbackRequest,
    CallbackResult,
    CallbackScheduler,
)
from bot.missed.store import MissedCall, MissedCallStore
from connectors.shop.database import ShopDatabase
from connectors.shop.settings import ShopSettings
from tests.connectors.shop.conftest import backend, empty_url, pg_url, postgres  # noqa: F401

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=MSK)  # a Tuesday
RULE = CallbackRule(name="Продажи", source_kind="queue", source="sales", delay_s=60, min_wait_s=5)


@dataclass
class ScriptedDialer:
    """Answers each call-back with the next outcome; ``hold`` keeps the call going."""

    outcomes: list[str] = field(default_factory=lambda: [CONNECTED])
    hold: asyncio.Event | None = None
    calls: list[CallbackRequest] = field(default_factory=list)
    dialling: asyncio.Event = field(default_factory=asyncio.Event)

    async def call_back(self, request: CallbackRequest) -> CallbackResult:
        self.calls.append(request)
        self.dialling.set()
        if self.hold is not None:
            await self.hold.wait()
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        return CallbackResult(outcome, {"sip_status": 200 if outcome == CONNECTED else 486})


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def world(empty_url: str) -> AsyncIterator[dict[str, Any]]:  # noqa: F811
    db = await ShopDatabase.open(ShopSettings(url=empty_url))
    try:
        yield {"db": db, "url": empty_url}
    finally:
        await db.close()


def scheduler(
    db: ShopDatabase,
    dialer: ScriptedDialer,
    clock: Callable[[], datetime],
    rules: list[CallbackRule] | None = None,
    **settings: Any,
) -> CallbackScheduler:
    config = CallbackSettings(enabled=True, lease_s=60, retry_delay_s=300, **settings)
    return CallbackScheduler(
        config,
        CallbackJobs(db),
        MissedCallStore(db),
        dialer,
        lambda: rules if rules is not None else [RULE],
        clock=clock,
    )


async def missed(db: ShopDatabase, external_id: str, **values: Any) -> MissedCall:
    fields: dict[str, Any] = {
        "missed_at": T0,
        "caller": "9161234567",
        "called": "74951234567",
        "source_kind": "queue",
        "source": "sales",
        "wait_s": 30.0,
        "intake": "http",
        "external_id": external_id,
    }
    fields.update(values)
    call = await MissedCallStore(db).add(**fields)
    assert call is not None
    return call


async def test_a_restart_in_the_middle_of_a_call_back_finishes_it_once(
    world: dict[str, Any],
) -> None:
    db = world["db"]
    clock = Clock(T0 + timedelta(seconds=61))
    first_dialer = ScriptedDialer(hold=asyncio.Event())  # the call is still going on
    first = scheduler(db, first_dialer, clock)
    call = await missed(db, "pbx-1")
    await first.on_missed(call)
    (task,) = await first.run_due()
    await asyncio.wait_for(first_dialer.dialling.wait(), 5)
    store = MissedCallStore(db)
    assert (await store.get(call.id)).status == statuses.CALLING  # type: ignore[union-attr]
    task.cancel()  # the worker dies mid-call: nothing more is written
    await asyncio.gather(task, return_exceptions=True)

    # a new process on the same database
    second_db = await ShopDatabase.open(ShopSettings(url=world["url"]))
    try:
        second_dialer = ScriptedDialer()
        second = scheduler(second_db, second_dialer, clock)
        await second.run_once()
        assert second_dialer.calls == []  # the first worker's lease still runs: not twice at once
        clock.now += timedelta(seconds=61)  # the lease has run out
        await second.run_once()
        await second.run_once()
        assert len(second_dialer.calls) == 1
        assert second_dialer.calls[0].number == "89161234567"
        assert second_dialer.calls[0].missed_ids == (call.id,)
        jobs = await CallbackJobs(second_db).for_missed(call.id)
        assert [(j.state, j.attempts, j.outcome) for j in jobs] == [(DONE, 2, CONNECTED)]
        after = await MissedCallStore(second_db).get(call.id)
        assert after is not None and after.status == statuses.CALLED_BACK
        assert after.attempts == 2
        assert [h["status"] for h in after.history][-3:] == ["calling", "calling", "called_back"]
    finally:
        await second_db.close()


async def test_the_same_client_is_never_called_twice_at_once(world: dict[str, Any]) -> None:
    db = world["db"]
    clock = Clock(T0 + timedelta(minutes=5))
    hold = asyncio.Event()
    dialers = [ScriptedDialer(hold=hold), ScriptedDialer(hold=hold)]
    workers = [scheduler(db, d, clock, worker=f"w{i}") for i, d in enumerate(dialers)]
    one = await missed(db, "pbx-1")
    two = await missed(db, "pbx-2", missed_at=T0 + timedelta(seconds=20))
    other = await missed(db, "pbx-3", caller="9037654321")
    for call in (one, two, other):
        await workers[0].on_missed(call)
    assert len(await CallbackJobs(db).open_jobs()) == 2  # one per client
    started = [t for w in workers for t in await w.run_due()]
    assert len(started) == 2
    hold.set()
    await asyncio.gather(*started)
    requests = [r for d in dialers for r in d.calls]
    assert sorted(r.caller for r in requests) == ["9037654321", "9161234567"]
    both = next(r for r in requests if r.caller == "9161234567")
    assert both.missed_ids == (one.id, two.id)
    for call in (one, two, other):
        stored = await MissedCallStore(db).get(call.id)
        assert stored is not None and stored.status == statuses.CALLED_BACK


async def test_a_client_who_called_and_was_answered_is_not_called_back(
    world: dict[str, Any],
) -> None:
    db = world["db"]
    dialer = ScriptedDialer()
    worker = scheduler(db, dialer, Clock(T0 + timedelta(minutes=2)))
    call = await missed(db, "pbx-1")
    await worker.on_missed(call)
    changed = await MissedCallStore(db).mark_client_called("9161234567", T0 + timedelta(seconds=30))
    assert changed == 1
    await worker.run_once()
    assert dialer.calls == []
    (job,) = await CallbackJobs(db).for_missed(call.id)
    assert job.state == SKIPPED and job.outcome == statuses.CLIENT_CALLED
    stored = await MissedCallStore(db).get(call.id)
    assert stored is not None and stored.status == statuses.CLIENT_CALLED
    assert await CallbackJobs(db).open_jobs() == []  # a new missed call may open a new job


async def test_attempts_are_limited_and_set_the_statuses(world: dict[str, Any]) -> None:
    db = world["db"]
    clock = Clock(T0 + timedelta(minutes=2))
    dialer = ScriptedDialer(outcomes=[BUSY, EMPLOYEE_NO_ANSWER, BUSY])
    worker = scheduler(db, dialer, clock, attempts=2)
    call = await missed(db, "pbx-1")
    await worker.on_missed(call)
    await worker.run_once()
    store = MissedCallStore(db)
    stored = await store.get(call.id)
    assert stored is not None and stored.status == statuses.FAILED  # «Неуспешный вызов»
    (job,) = await CallbackJobs(db).for_missed(call.id)
    assert job.state == PENDING and job.due_at == clock.now + timedelta(seconds=300)
    await worker.run_once()
    assert len(dialer.calls) == 1  # the retry waits for its delay
    clock.now += timedelta(seconds=301)
    await worker.run_once()
    stored = await store.get(call.id)
    assert stored is not None and stored.status == statuses.NOT_CALLED_BACK  # the employee
    (job,) = await CallbackJobs(db).for_missed(call.id)
    assert (job.state, job.attempts) == (FAILED, 2)
    assert [a["outcome"] for a in job.history] == [BUSY, EMPLOYEE_NO_ANSWER]
    clock.now += timedelta(days=1)
    await worker.run_once()
    assert len(dialer.calls) == 2
    assert stored.attempts == 2


async def test_outside_the_working_hours_the_call_back_waits(world: dict[str, Any]) -> None:
    db = world["db"]
    week = (
        Interval((0, 1, 2, 3), time(10), time(18)),
        Interval((4,), time(10), time(16, 30)),
    )
    rule = CallbackRule(name="Продажи", source_kind="queue", source="sales", delay_s=120,
                        intervals=week)  # fmt: skip
    friday = datetime(2026, 12, 4, 16, 29, tzinfo=MSK)
    clock = Clock(friday)
    dialer = ScriptedDialer()
    worker = scheduler(db, dialer, clock, rules=[rule])
    call = await missed(db, "pbx-1", missed_at=friday)
    await worker.on_missed(call)
    (job,) = await CallbackJobs(db).for_missed(call.id)
    monday = datetime(2026, 12, 7, 10, 0, tzinfo=MSK)
    assert job.due_at == monday
    clock.now = datetime(2026, 12, 5, 12, 0, tzinfo=MSK)
    await worker.run_once()
    assert dialer.calls == []
    clock.now = monday
    await worker.run_once()
    assert len(dialer.calls) == 1
    # a call that waited less than the rule's minimum, or of another queue, is not called back
    short = await missed(db, "pbx-2", caller="9990001122", wait_s=1.0)
    elsewhere = await missed(db, "pbx-3", caller="9990001133", source="support")
    hidden = await missed(db, "pbx-4", caller="")
    for item in (short, elsewhere, hidden):
        await scheduler(db, dialer, clock).on_missed(item)
    assert await CallbackJobs(db).open_jobs() == []


async def test_a_job_taken_over_cannot_be_overwritten_by_its_old_worker(
    world: dict[str, Any],
) -> None:
    db = world["db"]
    jobs = CallbackJobs(db)
    call = await missed(db, "pbx-1")
    _, new = await jobs.enqueue(call.id, call.caller, "Продажи", T0, 3)
    assert new
    (mine,) = await jobs.claim(T0, T0 + timedelta(seconds=10), "old", "w1", 5)
    assert mine.state == RUNNING
    (theirs,) = await jobs.claim(T0 + timedelta(seconds=11), T0 + timedelta(60), "new", "w2", 5)
    assert await jobs.finish(mine, "old", DONE, CONNECTED, {}) is None
    assert await jobs.finish(theirs, "new", DONE, CONNECTED, {}) is not None


async def test_the_catch_up_schedules_a_missed_call_whose_listener_failed(
    world: dict[str, Any],
) -> None:
    db = world["db"]
    clock = Clock(T0 + timedelta(minutes=2))
    dialer = ScriptedDialer()
    worker = scheduler(db, dialer, clock)
    lost = await missed(db, "pbx-1")  # stored, but on_missed never ran (database hiccup)
    seen = await missed(db, "pbx-2", caller="9037654321")
    await worker.on_missed(seen)
    old = await missed(db, "pbx-3", caller="9990001122", missed_at=T0 - timedelta(hours=3))
    assert await worker.catch_up() == 1  # only the lost one; the old one is past the window
    assert await worker.catch_up() == 0  # scheduled once
    await worker.run_once()
    assert sorted(r.missed_ids for r in dialer.calls) == [(lost.id,), (seen.id,)]
    assert await CallbackJobs(db).for_missed(old.id) == []


async def test_a_call_missed_while_the_client_is_being_called_back_is_settled_too(
    world: dict[str, Any],
) -> None:
    db = world["db"]
    hold = asyncio.Event()
    dialer = ScriptedDialer(hold=hold)
    worker = scheduler(db, dialer, Clock(T0 + timedelta(minutes=2)))
    first = await missed(db, "pbx-1")
    await worker.on_missed(first)
    (task,) = await worker.run_due()
    await asyncio.wait_for(dialer.dialling.wait(), 5)
    meanwhile = await missed(db, "pbx-2", missed_at=T0 + timedelta(minutes=2))
    await worker.on_missed(meanwhile)  # joins the job in progress: no second call
    hold.set()
    await task
    assert len(dialer.calls) == 1
    for call in (first, meanwhile):
        stored = await MissedCallStore(db).get(call.id)
        assert stored is not None and stored.status == statuses.CALLED_BACK
