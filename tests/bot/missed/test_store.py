"""The missed-call store on SQLite and a real PostgreSQL: migration 0005 up and down, adding
(idempotent by intake + PBX id), filters, status changes with their history, «Клиент позвонил
сам» for open calls only, and the wait figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from bot.missed import statuses
from bot.missed.store import MissedCall, MissedCallStore
from connectors.shop import migrate
from connectors.shop.database import ShopDatabase
from connectors.shop.settings import ShopSettings
from tests.connectors.shop.conftest import backend, empty_url, pg_url, postgres  # noqa: F401
from tests.connectors.shop.test_shop_migrations import _differences

MSK = timezone(timedelta(hours=3))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=MSK)


@pytest.fixture
async def store(empty_url: str) -> AsyncIterator[MissedCallStore]:  # noqa: F811
    db = await ShopDatabase.open(ShopSettings(url=empty_url))
    try:
        yield MissedCallStore(db)
    finally:
        await db.close()


async def add(store: MissedCallStore, external_id: str, **values: Any) -> MissedCall | None:
    fields: dict[str, Any] = {
        "missed_at": T0,
        "caller": "9161234567",
        "called": "74951234567",
        "source_kind": "queue",
        "source": "sales",
        "wait_s": 42.5,
        "intake": "http",
        "external_id": external_id,
    }
    fields.update(values)
    return await store.add(**fields)


def test_migration_0005_up_down_and_up_again(empty_url: str) -> None:  # noqa: F811
    assert migrate.upgrade(empty_url, "0005") == "0005"
    engine = sa.create_engine(empty_url)
    try:
        inspector = sa.inspect(engine)
        assert "missed_calls" in inspector.get_table_names()
        indexes = {i["name"]: i for i in inspector.get_indexes("missed_calls")}
        assert indexes["ux_missed_calls_intake_external"]["unique"]
        assert indexes["ix_missed_calls_caller"]["column_names"] == ["caller", "missed_at"]
        assert indexes["ix_missed_calls_status"]["column_names"] == ["status", "missed_at"]
        if migrate.head_revision() == "0005":
            assert _differences(engine) == []
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO missed_calls (missed_at, source_kind, intake, external_id,"
                    " status_at) VALUES ('2026', 'queue', 'http', 'x1', '2026')"
                )
            )
            row = conn.execute(sa.text("SELECT status, attempts, details FROM missed_calls"))
            assert tuple(row.one()) == ("not_called_back", 0, "{}")
        migrate.downgrade_engine(engine, "0004")
        assert "missed_calls" not in sa.inspect(engine).get_table_names()
        assert migrate.upgrade_engine(engine, "0005") == "0005"
        assert "missed_calls" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


async def test_add_is_idempotent_by_intake_and_pbx_id(store: MissedCallStore) -> None:
    first = await add(store, "1733040000.17", details={"queue_status": "TIMEOUT"})
    assert first is not None and first.id > 0
    assert first.status == statuses.NOT_CALLED_BACK and first.label == "Не перезвонили"
    assert first.missed_at == T0 and first.missed_at.tzinfo is not None
    assert (first.caller, first.source_kind, first.source, first.wait_s) == (
        "9161234567",
        "queue",
        "sales",
        42.5,
    )
    assert first.details["queue_status"] == "TIMEOUT"
    assert [h["status"] for h in first.history] == [statuses.NOT_CALLED_BACK]
    assert await add(store, "1733040000.17") is None, "the same PBX call twice"
    other_intake = await add(store, "1733040000.17", intake="ami")
    assert other_intake is not None and other_intake.id != first.id
    assert await store.count() == 2
    assert await store.get(first.id) == first
    assert await store.get(10_000) is None


async def test_bad_values_are_refused_and_long_ones_cut(store: MissedCallStore) -> None:
    with pytest.raises(ValueError, match="source_kind"):
        await add(store, "a", source_kind="trunk")
    with pytest.raises(ValueError, match="intake"):
        await add(store, "a", intake="fax")
    with pytest.raises(ValueError, match="external_id"):
        await add(store, "  ")
    with pytest.raises(ValueError, match="aware"):
        await add(store, "a", missed_at=datetime(2026, 12, 1, 10, 0))
    long = await add(store, "x" * 500, source="q" * 300, called="7" * 100, wait_s=float("nan"))
    assert long is not None
    assert (len(long.external_id), len(long.source), len(long.called)) == (200, 80, 64)
    assert long.wait_s == 0.0
    assert await add(store, "x" * 200) is None, "the cut id is the key"


async def test_filters_order_and_paging(store: MissedCallStore) -> None:
    rows = [
        ("c1", T0, "9161234567", "queue", "sales"),
        ("c2", T0 + timedelta(hours=1), "9035550011", "extension", "103"),
        ("c3", T0 + timedelta(days=1), "", "number", "74951234567"),
        ("c4", T0 - timedelta(days=1), "9161234567", "queue", "support"),
    ]
    for external_id, at, caller, kind, source in rows:
        assert await add(store, external_id, missed_at=at, caller=caller,
                         source_kind=kind, source=source) is not None  # fmt: skip
    newest_first = [c.external_id for c in await store.list()]
    assert newest_first == ["c3", "c2", "c1", "c4"]
    day = await store.list(T0, T0 + timedelta(days=1))
    assert [c.external_id for c in day] == ["c2", "c1"], "from inclusive, to exclusive"
    in_utc = await store.list(T0.astimezone(UTC), (T0 + timedelta(minutes=1)).astimezone(UTC))
    assert [c.external_id for c in in_utc] == ["c1"]
    assert [c.external_id for c in await store.list(number_fragment="555-00")] == ["c2"]
    called = await store.list(number_fragment="(495) 123")
    assert [c.external_id for c in called] == ["c3", "c2", "c1", "c4"], "called numbers too"
    assert [c.external_id for c in await store.list(number_fragment="%_")] == newest_first
    assert [c.external_id for c in await store.list(source="103")] == ["c2"]
    assert [c.external_id for c in await store.list(source_kind="queue")] == ["c1", "c4"]
    assert [c.external_id for c in await store.list(limit=2, offset=1)] == ["c2", "c1"]
    assert await store.count(source_kind="queue", number_fragment="4567") == 2
    assert await store.count(statuses=[statuses.CALLED_BACK]) == 0
    assert await store.count(statuses=statuses.OPEN) == 4
    with pytest.raises(ValueError, match="aware"):
        await store.list(datetime(2026, 12, 1))


async def test_status_changes_keep_their_history(store: MissedCallStore) -> None:
    call = await add(store, "c1")
    assert call is not None
    calling = await store.set_status(call.id, statuses.CALLING, {"via": "sip", "target": "103"})
    assert calling is not None and calling.attempts == 1 and not calling.is_open
    failed = await store.set_status(call.id, statuses.FAILED, {"outcome": "busy", "code": 486})
    assert failed is not None and failed.is_open and failed.label == "Неуспешный вызов"
    await store.set_status(call.id, statuses.CALLING)
    done = await store.set_status(call.id, statuses.CALLED_BACK, {"employee": "103"})
    assert done is not None and done.attempts == 2
    assert [h["status"] for h in done.history] == [
        "not_called_back",
        "calling",
        "failed",
        "calling",
        "called_back",
    ]
    assert done.history[2]["outcome"] == "busy" and done.history[4]["employee"] == "103"
    assert done.status_at >= call.status_at
    assert await store.set_status(9999, statuses.FAILED) is None
    with pytest.raises(ValueError, match="status"):
        await store.set_status(call.id, "lost")


async def test_client_called_marks_only_open_earlier_calls(store: MissedCallStore) -> None:
    open_one = await add(store, "c1")
    failed = await add(store, "c2", missed_at=T0 + timedelta(minutes=5))
    in_progress = await add(store, "c3", missed_at=T0 + timedelta(minutes=6))
    later = await add(store, "c4", missed_at=T0 + timedelta(hours=2))
    other = await add(store, "c5", caller="9035550011")
    unknown = await add(store, "c6", caller="")
    assert open_one and failed and in_progress and later and other and unknown
    await store.set_status(failed.id, statuses.FAILED, {"outcome": "no_answer"})
    await store.set_status(in_progress.id, statuses.CALLING)
    assert [c.external_id for c in await store.open_for_caller("9161234567")] == [
        "c1",
        "c2",
        "c4",
    ]
    answered = T0 + timedelta(hours=1)
    changed = await store.mark_client_called("9161234567", answered, {"employee": "104"})
    assert changed == 2
    for row_id, expected in (
        (open_one.id, statuses.CLIENT_CALLED),
        (failed.id, statuses.CLIENT_CALLED),
        (in_progress.id, statuses.CALLING),
        (later.id, statuses.NOT_CALLED_BACK),
        (other.id, statuses.NOT_CALLED_BACK),
    ):
        row = await store.get(row_id)
        assert row is not None and row.status == expected, row_id
    marked = await store.get(open_one.id)
    assert marked is not None and marked.label == "Клиент позвонил сам"
    assert marked.history[-1]["employee"] == "104" and marked.history[-1]["answered_at"]
    assert await store.mark_client_called("9161234567", answered) == 0, "already marked"
    assert await store.mark_client_called("", answered) == 0
    assert await store.open_for_caller("") == []


async def test_wait_figures(store: MissedCallStore) -> None:
    empty = await store.wait_figures(T0 - timedelta(days=30))
    assert empty == {"count": 0, "avg_s": None, "max_s": None, "total_s": 0.0}
    for n, (hours, wait) in enumerate([(-48, 100.0), (0, 10.0), (1, 20.0), (2, 45.0)]):
        await add(store, f"w{n}", missed_at=T0 + timedelta(hours=hours), wait_s=wait)
    today = await store.wait_figures(T0)
    assert today == {"count": 3, "avg_s": 25.0, "max_s": 45.0, "total_s": 75.0}
    week = await store.wait_figures(T0 - timedelta(days=7))
    assert week["count"] == 4 and week["max_s"] == 100.0 and week["avg_s"] == 43.8
    window = await store.wait_figures(T0, T0 + timedelta(hours=1))
    assert window["count"] == 1 and window["avg_s"] == 10.0
