"""The call store: a call's events as rows (SQLite here; PostgreSQL in the migration tests),
a database that is down or slow never holds a call up, and a voice call with its recording."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from bot.events import (
    BotSaid,
    CallBegan,
    CallEnded,
    CallerNameSet,
    CallerSaid,
    EventBus,
    OrderSaved,
    StateChanged,
    Transferred,
    TurnTimed,
    TurnTiming,
)
from bot.journal import store as store_module
from bot.journal.service import Journal
from bot.journal.settings import JournalSettings, RecordingSettings
from bot.journal.store import CallStore, call_result
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import bot_call_events, bot_call_turns, bot_calls
from connectors.shop.settings import ShopSettings
from dialogs.context import CallContext
from tests.bot.journal.test_journal_ogg import decode
from tests.bot.test_session import ORDER, Factory
from tests.bot.test_session import make_call as make_call  # the fixture


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[ShopDatabase]:
    database = await ShopDatabase.open(ShopSettings(url=f"sqlite:///{tmp_path / 'shop.sqlite'}"))
    try:
        yield database
    finally:
        await database.close()


def context(call_id: str = "pbx-1") -> CallContext:
    return CallContext(call_id, "9607775577", "78123098635", datetime.now().astimezone(), "test")


def rows(db: ShopDatabase, table: sa.Table) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


# publish_call: 7 event rows, 1 turn, the call's row and 4 updates of it (answer, name,
# order, end)
ROWS_PER_CALL = 13


def publish_call(bus: EventBus, *, transfer: bool = False) -> None:
    bus.publish(CallBegan(connector="test", route="routes[0]", scenario="order"))
    bus.publish(StateChanged(state="thinking"))
    bus.publish(CallerNameSet(name="Иван 2(3)"))
    bus.publish(BotSaid(text="Здравствуйте, Иван!", key="utter_greet_name"))
    bus.publish(StateChanged(state="speaking"))
    bus.publish(CallerSaid(text="артикул сто сорок два", intent="give_article", confidence=0.8))
    bus.publish(BotSaid(text="Не понял", key="utter_article_not_found"))
    timing = TurnTiming(at=3.0, source="speech", text="артикул сто сорок два", gap_s=0.61)
    bus.publish(TurnTimed(timing=timing))
    if transfer:
        bus.publish(Transferred(target="103", reason="article_not_recognized"))
    else:
        bus.publish(
            OrderSaved(
                order_id=7, status="принят успешно", caller="9607775577", called="7812",
                call_time="2024-01-01T10:00:00", items=({"article": "123", "quantity": 2},),
            )
        )  # fmt: skip
    bus.publish(CallEnded(reason="bot_hangup", seconds=12.5))


async def test_a_call_becomes_one_row_with_its_events_and_turns(db: ShopDatabase) -> None:
    store = CallStore(db, JournalSettings(flush_s=0.05))
    store.start()
    bus = EventBus("pbx-1")
    journal = store.open_call(context())
    bus.subscribe(journal)
    publish_call(bus)
    await store.flush()
    [call] = rows(db, bot_calls)
    assert call["call_id"] == "pbx-1" and call["caller"] == "9607775577"
    assert call["connector"] == "test" and call["route"] == "routes[0]"
    assert call["caller_name"] == "Иван 2(3)" and call["answered_at"] is not None
    assert call["result"] == "order" and call["order_id"] == 7
    assert call["order_status"] == "принят успешно" and call["duration_s"] == 12.5
    assert call["end_reason"] == "bot_hangup" and call["turns"] == 1
    events = sorted(rows(db, bot_call_events), key=lambda e: e["seq"])
    assert [e["type"] for e in events] == [
        "call_started", "set_caller_name", "say", "caller_said", "say", "order", "call_ended",
    ]  # fmt: skip
    missed = events[4]
    assert missed["key"] == "utter_article_not_found"
    assert missed["heard"] == "артикул сто сорок два", "what the caller said before it"
    assert json.loads(events[5]["data"])["items"] == [{"article": "123", "quantity": 2}]
    assert events[3]["confidence"] == 0.8 and events[3]["intent"] == "give_article"
    [turn] = rows(db, bot_call_turns)
    assert turn["gap_s"] == 0.61 and turn["text"] == "артикул сто сорок два"
    await store.stop()


async def test_without_texts_no_words_are_kept(db: ShopDatabase) -> None:
    store = CallStore(db, JournalSettings(flush_s=0.05, texts=False))
    store.start()
    bus = EventBus("pbx-2")
    bus.subscribe(store.open_call(context("pbx-2")))
    publish_call(bus, transfer=True)
    await store.flush()
    [call] = rows(db, bot_calls)
    assert call["caller_name"] == "" and call["result"] == "transfer"
    assert call["handoff_target"] == "103" and call["handoff_reason"] == "article_not_recognized"
    dumped = json.dumps(rows(db, bot_call_events) + rows(db, bot_call_turns), ensure_ascii=False)
    for words in ("сто сорок", "Иван", "Не понял"):
        assert words not in dumped
    await store.stop()


class DownDatabase:
    """The database is down: every write fails after a while."""

    def __init__(self) -> None:
        self.attempts = 0

    async def write(self, work: Any) -> Any:
        self.attempts += 1
        await asyncio.sleep(0.01)
        raise ConnectionRefusedError("database down")


async def test_a_database_that_is_down_never_holds_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_module, "RETRIES", (0.01, 0.01, 0.01))
    down = DownDatabase()
    dropped: list[int] = []
    store = CallStore(down, JournalSettings(flush_s=0.01), on_drop=dropped.append)  # type: ignore[arg-type]
    store.start()
    for number in range(200):
        bus = EventBus(f"pbx-{number}")
        bus.subscribe(store.open_call(context(f"pbx-{number}")))
        publish_call(bus)
    # every row is in memory, queued or counted as dropped, before the writer has run once:
    # publishing does not wait for the database (this was a time bound, < 0.5 s, which a
    # busy machine can break without any wait)
    assert store.queue.qsize() + store.dropped == 200 * ROWS_PER_CALL
    await store.flush()
    assert store.dropped == 200 * ROWS_PER_CALL and sum(dropped) == store.dropped
    assert down.attempts >= 4, "each batch was tried again before it was dropped"
    await store.stop()


async def test_a_full_queue_drops_and_counts(db: ShopDatabase) -> None:
    store = CallStore(db, JournalSettings(queue_size=100))  # no writer: nothing is taken
    for number in range(20):
        bus = EventBus(f"pbx-{number}")
        bus.subscribe(store.open_call(context(f"pbx-{number}")))
        publish_call(bus)
    assert store.queue.qsize() == 100 and store.dropped == 20 * ROWS_PER_CALL - 100


@pytest.mark.parametrize(
    ("transferred", "ordered", "end", "expected"),
    [
        (None, True, "bot_hangup", "order"),
        ("article_not_recognized", True, "transfer:x", "transfer"),
        ("engine_error", False, "tts_failed", "error"),
        (None, False, "caller_hangup", "hangup"),
        (None, False, "protocol_error", "error"),
    ],
)
def test_call_results(transferred: str | None, ordered: bool, end: str, expected: str) -> None:
    assert call_result(transferred=transferred, ordered=ordered, end_reason=end) == expected


async def test_a_voice_call_with_its_recording(
    make_call: Factory, db: ShopDatabase, tmp_path: Path
) -> None:
    journal = Journal(
        JournalSettings(flush_s=0.05),
        RecordingSettings(dir=tmp_path / "rec", flush_s=0.5, max_queued_s=600),  # a fast line
        db,
    )
    journal.start()
    call = make_call()
    attached = journal.attach(call.session)  # before the session's task first runs
    for text in ORDER:
        await call.say(text)
    await call.end()
    await attached.finish()
    assert journal.store is not None
    await journal.store.flush()
    [row] = rows(db, bot_calls)
    assert row["result"] == "order" and row["caller"] == "9607775577"
    assert row["recording"].endswith(".opus") and row["recording_bytes"] > 1000
    said = [e["text"] for e in rows(db, bot_call_events) if e["type"] == "caller_said"]
    assert said == ORDER
    assert len(rows(db, bot_call_turns)) >= len(ORDER)
    data, duration = decode(tmp_path / "rec" / row["recording"])
    assert duration is not None and abs(duration - row["recording_s"]) < 0.1
    # the caller's coded voice is loud (left), the bot's tone quiet (300 of 32768, right)
    assert np.abs(data[0]).max() > 0.05
    assert 0.004 < np.abs(data[1]).max() < 0.03
    await journal.stop()


async def test_the_clean_up_deletes_old_recordings_and_calls(
    db: ShopDatabase, tmp_path: Path
) -> None:
    import os
    from datetime import timedelta

    from bot.journal.ogg_opus import OggOpusWriter

    root = tmp_path / "rec"
    journal = Journal(
        JournalSettings(flush_s=0.02, keep_days=30), RecordingSettings(dir=root, keep_days=7), db
    )
    assert journal.store is not None
    journal.store.start()
    now = datetime.now().astimezone()
    for name, age in (("new", 1), ("week", 10), ("old", 40)):
        started = now - timedelta(days=age)
        calls = journal.store.open_call(CallContext(name, "9607775577", "1", started, "test"))
        calls.set_recording(f"{name}.opus")
        writer = OggOpusWriter(root / f"{name}.opus", 8000)
        writer.write(np.zeros((8000, 2), dtype=np.int16))
        writer.close()
        bus = EventBus(name)
        bus.subscribe(calls)
        publish_call(bus)
    stray = root / "2020" / "stray.opus"  # a file no row names (its row never got written)
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"OggS")
    os.utime(stray, (0, 0))
    await journal.store.flush()
    await journal.clean_up()
    assert sorted(p.name for p in root.rglob("*.opus")) == ["new.opus"]
    assert not (root / "2020").exists(), "empty folders go too"
    kept = {r["call_id"]: r["recording"] for r in rows(db, bot_calls)}
    assert kept == {"new": "new.opus", "week": None}, "calls past journal.keep_days are gone"
    assert {e["call"] for e in rows(db, bot_call_events)} == {r["id"] for r in rows(db, bot_calls)}
    await journal.stop()


async def test_calls_of_a_crashed_worker_end_as_interrupted(db: ShopDatabase) -> None:
    from connectors.shop import order_writes
    from connectors.shop.schema import utc
    from connectors.shop.workers import WorkerIdentity

    me, alive, dead = (WorkerIdentity.current() for _ in range(3))
    dead = dataclasses.replace(dead, pid=2**22 + 7, pid_start="1")  # no such process
    alive = dataclasses.replace(alive, host="another-host")  # its heartbeat is fresh
    for worker in (me, alive, dead):
        await db.write(lambda conn, w=worker: order_writes.touch_worker(conn, w, utc()))
    journal = Journal(JournalSettings(flush_s=0.02), RecordingSettings(enabled=False), db,
                      worker=me)  # fmt: skip
    assert journal.store is not None
    journal.store.start()
    for worker in (me, alive, dead):
        journal.store.worker_id = worker.id
        bus = EventBus(worker.id)
        bus.subscribe(journal.store.open_call(context(worker.id)))
        bus.publish(CallBegan(connector="test"))
        bus.publish(BotSaid(text="Назовите артикул", key="utter_ask_article"))
    await journal.store.flush()
    await journal.clean_up()
    result = {r["call_id"]: (r["result"], r["end_reason"]) for r in rows(db, bot_calls)}
    assert result == {
        me.id: ("active", ""),
        alive.id: ("active", ""),
        dead.id: ("error", "interrupted"),
    }
    await journal.stop()


async def test_telphin_requests_are_calls_in_the_journal(db: ShopDatabase) -> None:
    from connectors.pbx.telphin import TelphinReply, TelphinRequest

    journal = Journal(JournalSettings(flush_s=0.02), RecordingSettings(enabled=False), db)
    assert journal.store is not None
    journal.store.start()
    subscribers: list[Any] = []

    async def decide(request: TelphinRequest) -> TelphinReply:  # as TelphinCase2.decide does
        bus = EventBus(request.call_id)
        for subscriber in subscribers:
            bus.subscribe(subscriber)
        bus.publish(CallBegan(connector="telphin", scenario="greeting"))
        bus.publish(CallerNameSet(name="Иван 2(3)"))
        bus.publish(BotSaid(text="Здравствуйте, Иван!", key="utter_greet_name"))
        bus.publish(CallEnded(reason="scheme_continues"))
        return TelphinReply(caller_name="Иван 2(3)")

    recorded, subscriber = journal.telphin(decide)
    subscribers.append(subscriber)
    request = TelphinRequest("tel-1", "+7 (960) 777-55-77", called_did="78123098635")
    assert (await recorded(request)).caller_name == "Иван 2(3)"
    await journal.store.flush()
    [row] = rows(db, bot_calls)
    assert (row["call_id"], row["caller"], row["called"]) == ("tel-1", "9607775577", "78123098635")
    assert row["connector"] == "telphin" and row["caller_name"] == "Иван 2(3)"
    assert row["result"] == "hangup" and row["scenario"] == "greeting"
    await journal.stop()
