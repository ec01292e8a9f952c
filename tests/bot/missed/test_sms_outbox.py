"""The SMS decision and outbox of Case 3 on SQLite and a real PostgreSQL: every reason, the
24 h rule exactly at its boundary, one decision per missed call and per caller under two
workers, delivery by two workers without a double send, retries with backoff, uncertain and
refused messages never sent again, a crash while sending, the catch-up, and the intake's
listener end to end."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.missed import sms_queue as q
from bot.missed.intake import MissedCallIntake, MissedReport
from bot.missed.sms_outbox import SmsOutbox
from bot.missed.sms_settings import SmsSettings
from bot.missed.store import MissedCallStore
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import sms_messages, utc_text
from connectors.shop.settings import ShopSettings
from connectors.sms import (
    LogGateway,
    SmsGateway,
    SmsReceipt,
    SmsRejected,
    SmsTemporaryError,
    SmsUncertain,
)
from tests.connectors.shop.conftest import backend, empty_url, pg_url, postgres  # noqa: F401

MSK = timezone(timedelta(hours=3))
CALLER = "9161234567"
RULES = """version: 1
rules:
  - name: Основной
    called: ["+7 900 900-90-90"]
    text: "Здравствуйте! Мы пропустили ваш звонок и перезвоним."
  - name: Доставка
    queues: ["delivery"]
    text: "Служба доставки перезвонит вам."
"""


class CountingGateway(SmsGateway):
    """Accepts everything after ``delay`` seconds and counts each message it was given."""

    name = "counting"

    def __init__(self, delay: float = 0.0, errors: list[Exception] | None = None) -> None:
        super().__init__(timeout=10.0)
        self.delay = delay
        self.errors = errors or []
        self.calls: list[tuple[str, str]] = []

    async def _send(self, to: str, text: str, sender: str) -> SmsReceipt:
        self.calls.append((to, text))
        await asyncio.sleep(self.delay)
        if self.errors:
            raise self.errors.pop(0)
        return SmsReceipt(self.name, message_id=f"id{len(self.calls)}")


def settings(tmp_path: Path, **extra: Any) -> SmsSettings:
    rules = tmp_path / "sms_rules.yml"
    if not rules.exists():
        rules.write_text(RULES, "utf-8")
    values: dict[str, Any] = {"rules_file": rules, "base_delay": 1.0, "sender": "Shop"}
    values.update(extra)
    return SmsSettings(**values)


@pytest.fixture
async def db(empty_url: str) -> AsyncIterator[ShopDatabase]:  # noqa: F811
    database = await ShopDatabase.open(ShopSettings(url=empty_url))
    try:
        yield database
    finally:
        await database.close()


async def decide(outbox: SmsOutbox, missed_id: int | None, **values: Any) -> q.SmsRecord:
    fields: dict[str, Any] = {
        "caller": CALLER,
        "called": "+79009009090",
        "source_kind": "queue",
        "source": "sales",
        "missed_at": datetime.now(UTC),
    }
    fields.update(values)
    return await outbox.decide(missed_call_id=missed_id, **fields)


async def test_each_reason_is_stored(db: ShopDatabase, tmp_path: Path) -> None:
    outbox = SmsOutbox(db, settings(tmp_path), CountingGateway())
    sent = await decide(outbox, 1)
    assert (sent.decision, sent.reason, sent.state) == ("send", "rule", "pending")
    assert sent.rule == "Основной"
    assert sent.to_number == "7" + CALLER and sent.text.startswith("Здравствуйте!")
    queue = await decide(outbox, 2, caller="9160000001", called="", source="Delivery")
    assert (queue.reason, queue.rule) == ("rule", "Доставка")
    assert queue.text == "Служба доставки перезвонит вам."
    hidden = await decide(outbox, 3, caller="")
    assert (hidden.decision, hidden.reason, hidden.state) == ("skip", "no_number", "skipped")
    other = await decide(outbox, 4, caller="9160000002", called="+74950000000", source="x")
    assert (other.decision, other.reason) == ("skip", "no_rule")
    again = await decide(outbox, 5, missed_at=datetime.now(UTC) + timedelta(minutes=5))
    assert (again.decision, again.reason) == ("skip", "recent_sms")  # the first is pending
    assert (await decide(outbox, 1)).id == sent.id  # the same missed call: the same decision
    assert await outbox.counts() == {"pending": 2, "skipped": 3}


async def test_the_24_hour_rule_at_its_boundary(db: ShopDatabase, tmp_path: Path) -> None:
    gateway = CountingGateway()
    outbox = SmsOutbox(db, settings(tmp_path), gateway)
    first = await decide(outbox, 1, missed_at=datetime.now(MSK))
    assert await outbox.deliver_due() == 1
    record = await outbox.get(first.id)
    assert record is not None and record.state == "sent" and record.sent_at is not None
    sent_at = record.sent_at
    almost = await decide(outbox, 2, missed_at=sent_at + timedelta(hours=23, minutes=59))
    assert (almost.decision, almost.reason) == ("skip", "recent_sms")
    just = await decide(outbox, 3, missed_at=sent_at + timedelta(microseconds=86_399_999_999))
    assert just.reason == "recent_sms"  # one microsecond short of 24 h
    day = await decide(outbox, 4, missed_at=(sent_at + timedelta(hours=24)).astimezone(MSK))
    assert (day.decision, day.reason) == ("send", "rule")  # exactly 24 h: sent (>=)


async def test_the_window_is_configurable_and_a_given_up_sms_does_not_count(
    db: ShopDatabase, tmp_path: Path
) -> None:
    outbox = SmsOutbox(db, settings(tmp_path, once_per_hours=1.0), CountingGateway())
    t0 = datetime.now(UTC)
    first = await decide(outbox, 1, missed_at=t0)
    assert (await decide(outbox, 2, missed_at=t0 + timedelta(minutes=59))).reason == "recent_sms"
    await db.write(
        lambda conn: conn.execute(
            sms_messages.update().where(sms_messages.c.id == first.id).values(state="failed")
        )
    )
    assert (await decide(outbox, 3, missed_at=t0 + timedelta(minutes=59))).reason == "rule"


async def test_two_workers_deciding_for_one_caller_queue_one_sms(
    empty_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    dbs = [await ShopDatabase.open(ShopSettings(url=empty_url)) for _ in range(2)]
    try:
        outboxes = [SmsOutbox(d, settings(tmp_path), CountingGateway()) for d in dbs]
        now = datetime.now(UTC)
        records = await asyncio.gather(
            *(decide(outboxes[i % 2], i, missed_at=now) for i in range(1, 11))
        )
        assert sorted(r.reason for r in records) == ["recent_sms"] * 9 + ["rule"]
        # the same missed call decided by both workers at once: one row
        same = await asyncio.gather(*(decide(o, 99, caller="9169999999") for o in outboxes))
        assert same[0].id == same[1].id
    finally:
        for d in dbs:
            await d.close()


async def test_a_decision_locked_out_for_longer_than_one_wait_is_tried_again(
    db: ShopDatabase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another decision for the caller holds the lock until this one has waited out one
    attempt's 0.25 s (PostgreSQL lock_timeout, SQLite busy timeout) and logged it: this one
    is tried again and decided once the lock is free."""
    outbox = SmsOutbox(db, settings(tmp_path), CountingGateway())
    held = asyncio.Event()
    retried = threading.Event()  # the lock is held until the decision has waited for it
    loop = asyncio.get_running_loop()

    def hold(conn: sa.Connection) -> None:
        q.lock_caller(conn, CALLER)
        conn.execute(sa.select(sa.func.count()).select_from(sms_messages))
        loop.call_soon_threadsafe(held.set)
        retried.wait(10)
        time.sleep(0.1)

    class Retried(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waits for a lock" in record.getMessage():
                retried.set()

    holder = asyncio.create_task(db.write(hold))
    await held.wait()
    caplog.set_level(logging.INFO, "bot.missed.sms_outbox")
    watcher = Retried()
    logging.getLogger("bot.missed.sms_outbox").addHandler(watcher)
    try:
        record = await decide(outbox, 7)
    finally:
        logging.getLogger("bot.missed.sms_outbox").removeHandler(watcher)
        retried.set()
    await holder
    assert record.reason == "rule" and record.missed_call_id == 7
    assert any("waits for a lock" in r.getMessage() for r in caplog.records)


async def test_two_workers_deliver_every_sms_exactly_once(
    empty_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    dbs = [await ShopDatabase.open(ShopSettings(url=empty_url)) for _ in range(2)]
    try:
        gateways = [CountingGateway(delay=0.05), CountingGateway(delay=0.05)]
        outboxes = [
            SmsOutbox(d, settings(tmp_path), g, batch_size=3)
            for d, g in zip(dbs, gateways, strict=True)
        ]
        for i in range(24):
            await decide(outboxes[0], i + 1, caller=f"91600000{i:02d}")
        counts = await asyncio.gather(*(o.deliver_due() for o in outboxes))
        assert sum(counts) == 24
        numbers = [to for g in gateways for to, _ in g.calls]
        assert len(numbers) == 24 and len(set(numbers)) == 24
        assert all(g.calls for g in gateways)  # both took a share
        assert await outboxes[1].counts() == {"sent": 24}
        assert await asyncio.gather(*(o.deliver_due() for o in outboxes)) == [0, 0]
    finally:
        for d in dbs:
            await d.close()


async def test_temporary_failures_back_off_then_give_up(db: ShopDatabase, tmp_path: Path) -> None:
    gateway = CountingGateway(errors=[SmsTemporaryError("down")] * 3)
    outbox = SmsOutbox(db, settings(tmp_path, max_attempts=3), gateway)
    record = await decide(outbox, 1)
    t0 = datetime.now(UTC)
    assert await outbox.deliver_due(t0) == 0
    row = await outbox.get(record.id)
    assert row is not None and (row.state, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == t0 + timedelta(seconds=1)
    assert await outbox.deliver_due(t0 + timedelta(seconds=0.5)) == 0  # not due yet
    assert len(gateway.calls) == 1
    assert await outbox.deliver_due(t0 + timedelta(seconds=1)) == 0
    row = await outbox.get(record.id)
    assert row is not None and row.next_attempt_at == t0 + timedelta(seconds=3)  # 1 s + 2 s
    assert await outbox.deliver_due(t0 + timedelta(seconds=3)) == 0
    row = await outbox.get(record.id)
    assert row is not None and (row.state, row.attempts) == ("failed", 3)
    assert row.last_error == "SmsTemporaryError: down"
    assert await outbox.deliver_due(t0 + timedelta(hours=1)) == 0 and len(gateway.calls) == 3


async def test_refused_and_uncertain_messages_are_never_sent_again(
    db: ShopDatabase, tmp_path: Path
) -> None:
    gateway = CountingGateway(errors=[SmsRejected("bad number"), SmsUncertain("no answer")])
    outbox = SmsOutbox(db, settings(tmp_path), gateway)
    refused = await decide(outbox, 1, caller="9160000001")
    uncertain = await decide(outbox, 2, caller="9160000002")
    assert await outbox.deliver_due() == 0
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await outbox.deliver_due(later) == 0
    assert len(gateway.calls) == 2
    states = {r.id: r.state for r in await outbox.messages()}
    assert states == {refused.id: "failed", uncertain.id: "uncertain"}
    # an uncertain SMS counts: the caller gets no second one within 24 h
    assert (await decide(outbox, 3, caller="9160000002")).reason == "recent_sms"


async def test_a_worker_that_died_while_sending_leaves_the_sms_uncertain(
    db: ShopDatabase, tmp_path: Path
) -> None:
    gateway = CountingGateway()
    outbox = SmsOutbox(db, settings(tmp_path, lease_s=60.0), gateway)
    record = await decide(outbox, 1)
    now = datetime.now(UTC)
    claimed = await db.write(
        lambda conn: q.claim(
            conn, now=now, lease_until=now + timedelta(seconds=60), limit=5, token="dead"
        )
    )
    assert [c.id for c in claimed] == [record.id]  # the dead worker's claim
    assert await outbox.deliver_due(now + timedelta(seconds=30)) == 0
    assert await outbox.deliver_due(now + timedelta(seconds=61)) == 0
    row = await outbox.get(record.id)
    assert row is not None and row.state == "uncertain" and gateway.calls == []


async def test_too_old_messages_are_given_up(db: ShopDatabase, tmp_path: Path) -> None:
    gateway = CountingGateway()
    outbox = SmsOutbox(db, settings(tmp_path, max_age_hours=2.0), gateway)
    record = await decide(outbox, 1)
    assert await outbox.deliver_due(datetime.now(UTC) + timedelta(hours=3)) == 0
    row = await outbox.get(record.id)
    assert row is not None and row.state == "failed" and "too old" in (row.last_error or "")
    assert gateway.calls == []


async def test_a_broken_rules_file_keeps_the_rules_read_before(
    db: ShopDatabase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = settings(tmp_path)
    outbox = SmsOutbox(db, s, CountingGateway())
    assert [r.name for r in outbox.rules().rules] == ["Основной", "Доставка"]
    s.rules_file.write_text("rules: [\n", "utf-8")
    assert [r.name for r in outbox.rules().rules] == ["Основной", "Доставка"]
    s.rules_file.write_text('rules:\n  - name: Новое\n    default: true\n    text: "Привет"\n')
    assert [r.name for r in outbox.rules().rules] == ["Новое"]
    s.rules_file.unlink()
    with caplog.at_level(logging.WARNING, logger="bot.missed.sms_rules"):
        assert outbox.rules().rules == ()  # no file: no SMS, and the log says so
    assert "no SMS rules file" in caplog.text


async def test_the_intake_listener_and_the_catch_up(db: ShopDatabase, tmp_path: Path) -> None:
    store = MissedCallStore(db)
    intake = MissedCallIntake(store, zone=MSK)
    gateway = LogGateway()
    outbox = SmsOutbox(db, settings(tmp_path), gateway)
    intake.subscribe(outbox.on_missed)
    call = await intake.missed(
        MissedReport(
            intake="http", external_id="c1", caller="+7 (916) 123-45-67",
            called="8 900 900-90-90", source_kind="queue", source="sales", wait_s=31,
        )
    )  # fmt: skip
    await intake.drain()
    assert call is not None
    decided = await outbox.for_missed_call(call.id)
    assert decided is not None and (decided.reason, decided.caller) == ("rule", CALLER)
    assert await outbox.deliver_due() == 1
    assert gateway.sent == [("7" + CALLER, decided.text, "Shop")]
    # a call stored while no listener ran (the database hiccuped): the catch-up decides it
    lost = await store.add(
        missed_at=datetime.now(UTC), caller="9160000003", called="+79009009090",
        source_kind="queue", source="sales", wait_s=5.0, intake="http", external_id="c2",
    )  # fmt: skip
    assert lost is not None and await outbox.for_missed_call(lost.id) is None
    assert await outbox.catch_up() == 1
    assert await outbox.catch_up() == 0
    caught = await outbox.for_missed_call(lost.id)
    assert caught is not None and caught.reason == "rule"


async def test_run_sends_and_stops(db: ShopDatabase, tmp_path: Path) -> None:
    gateway = CountingGateway()
    outbox = SmsOutbox(db, settings(tmp_path, poll_interval=0.05), gateway)
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop))
    await decide(outbox, 1)
    for _ in range(100):
        if gateway.calls:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(gateway.calls) == 1


def test_the_migration_matches_the_schema(empty_url: str) -> None:  # noqa: F811
    from connectors.shop import migrate

    migrate.upgrade(empty_url, "0006")
    engine = sa.create_engine(empty_url)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"] for c in inspector.get_columns("sms_messages")}
        assert columns == {c.name for c in sms_messages.columns}
        indexes = {i["name"]: i for i in inspector.get_indexes("sms_messages")}
        assert indexes["ux_sms_messages_missed_call"]["unique"]
        assert indexes["ix_sms_messages_caller"]["column_names"] == ["caller", "decided_at"]
        migrate.downgrade_engine(engine, "0005")
        assert "sms_messages" not in sa.inspect(engine).get_table_names()
        assert "missed_calls" in sa.inspect(engine).get_table_names()
        migrate.upgrade_engine(engine)
        assert "sms_messages" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert utc_text(datetime(2026, 1, 1, tzinfo=UTC)).startswith("2026-01-01T00:00:00")


async def test_no_number_or_text_in_the_log_lines(
    db: ShopDatabase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = CountingGateway(errors=[SmsTemporaryError("down for 79161234567")])
    outbox = SmsOutbox(db, settings(tmp_path), gateway)
    with caplog.at_level(logging.DEBUG):
        record = await decide(outbox, 1)
        await outbox.deliver_due()
        failed = await outbox.get(record.id)
        assert failed is not None and failed.last_error == "SmsTemporaryError: down for ***"
        await outbox.deliver_due(datetime.now(UTC) + timedelta(seconds=5))
    sent = await outbox.get(record.id)
    assert sent is not None and sent.state == "sent"
    for entry in caplog.records:
        shown = entry.getMessage() + " " + " ".join(str(v) for v in vars(entry).values())
        assert CALLER not in shown and "Здравствуйте" not in shown, entry.getMessage()
