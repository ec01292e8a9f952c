"""Demo shop creation and the Кейс 2 look-ups for every demo caller."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.shop.database import ShopDatabase
from connectors.shop.demo import create_demo_shop
from connectors.shop.phone import phone10, validate_phone10
from connectors.shop.records import OrdersSummary
from connectors.shop.settings import ShopQueries, ShopSettings
from tests.connectors.shop.conftest import DEMO_CATALOG, DEMO_SOURCE, count_rows

# caller as the PBX reports it -> (summary, users.Name, last order status)
EXPECTED: dict[str, tuple[OrdersSummary, str | None, str | None]] = {
    "+79607775577": (OrdersSummary("Иван", 3, 2), "Иван Петрович", "отправлен"),
    "79161234567": (OrdersSummary("Петрова Анна Сергеевна", 2, 1), None, "в обработке"),
    "79031112233": (OrdersSummary(None, 0, 0), "Сергей", None),
    "79035556677": (OrdersSummary(None, 0, 0), "мария ивановна", None),
    "79998887766": (OrdersSummary("Олег", 2, 2), None, "выполнен"),
    "79260000000": (OrdersSummary("ООО Ромашка", 1, 0), None, "новый"),
    "79001234567": (OrdersSummary(None, 0, 0), None, None),
}


def _counts(url: str) -> dict[str, int]:
    tables = ("shop_orders", "shop_orders_status", "users", "catalog")
    return {table: count_rows(url, table) for table in tables}


def test_demo_shop_has_seed_tables_and_catalog(demo_url: str) -> None:
    assert _counts(demo_url) == {
        "shop_orders": 8,
        "shop_orders_status": 5,
        "users": 3,
        "catalog": 30,
    }


def test_demo_shop_is_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "shop.sqlite"
    url = create_demo_shop(target, source=DEMO_SOURCE, catalog=DEMO_CATALOG)
    first = _counts(url)
    assert create_demo_shop(target, source=DEMO_SOURCE, catalog=DEMO_CATALOG) == url
    assert _counts(url) == first


def test_demo_shop_on_postgresql_is_idempotent(pg_url: str) -> None:
    assert create_demo_shop(pg_url, source=DEMO_SOURCE, catalog=DEMO_CATALOG) == pg_url
    first = _counts(pg_url)
    create_demo_shop(pg_url, source=DEMO_SOURCE, catalog=DEMO_CATALOG)
    assert (
        _counts(pg_url)
        == first
        == {
            "shop_orders": 8,
            "shop_orders_status": 5,
            "users": 3,
            "catalog": 30,
        }
    )


@pytest.mark.parametrize("caller", sorted(EXPECTED))
async def test_lookups_for_each_demo_caller(db: ShopDatabase, caller: str) -> None:
    summary, user_name, last_status = EXPECTED[caller]
    key = phone10(caller)
    assert key is not None
    assert await db.orders_summary(key) == summary
    assert await db.user_name(key) == user_name
    assert await db.last_order_status(key) == last_status


async def test_done_status_is_compared_casefolded(demo_url: str) -> None:
    database = await ShopDatabase.open(ShopSettings(url=demo_url, done_status="ВЫПОЛНЕН"))
    try:
        assert await database.orders_summary("9607775577") == OrdersSummary("Иван", 3, 2)
        assert database.is_done_status(" Выполнен ")
        assert not database.is_done_status("отправлен")
        assert not database.is_done_status(None)
    finally:
        await database.close()


INJECTIONS = [
    "0' OR '1'='1",
    "9607775577' OR '1'='1",
    "1'; DROP TABLE shop_orders; --",
    "960777557'",
    "９６０７７７５５７７",  # full-width digits are digits to str.isdigit, not to us
    "9607775577\n",
    "+79607775577",
    "",
]


@pytest.mark.parametrize("bad", INJECTIONS)
async def test_phone_that_is_not_ten_digits_is_refused(
    db: ShopDatabase, demo_url: str, bad: str
) -> None:
    before = _counts(demo_url)
    for lookup in (db.orders_summary, db.user_name, db.last_order_status):
        with pytest.raises(ValueError) as info:
            await lookup(bad)
        if bad:
            assert bad not in str(info.value)  # the refused value is not echoed
    assert _counts(demo_url) == before


def test_a_ten_digit_key_with_a_quote_cannot_be_built() -> None:
    assert phone10("960'777'5577") == "9607775577"
    for raw in ["0' OR '1'='1", "9607775577' --", "'; DROP TABLE users; -- 79031112233"]:
        key = phone10(raw)
        assert key is None or (key.isascii() and key.isdigit() and len(key) == 10)
        assert key is None or "'" not in key
    with pytest.raises(ValueError):
        validate_phone10("960777557'")
    assert validate_phone10("9607775577") == "9607775577"


USER_NAME_BY_PHONE = {
    "sqlite": "SELECT u.Name FROM users u WHERE substr(u.Phone, -10) = :phone LIMIT 1",
    "postgresql": 'SELECT u."Name" FROM users u WHERE RIGHT(u."Phone", 10) = :phone LIMIT 1',
}


async def test_phone_is_bound_not_pasted(demo_url: str, backend: str) -> None:
    """A query that would break if the phone were pasted into it still works."""
    queries = ShopQueries(user_name=USER_NAME_BY_PHONE[backend])
    database = await ShopDatabase.open(ShopSettings(url=demo_url, queries=queries))
    try:
        assert await database.user_name("9031112233") == "Сергей"
    finally:
        await database.close()


def test_queries_without_bound_parameter_are_rejected() -> None:
    with pytest.raises(ValueError, match=":phone"):
        ShopQueries(user_name="SELECT Name FROM users WHERE Phone = '{phone}'")
    with pytest.raises(ValueError):
        ShopSettings(url="not a url")


SLOW_LAST_STATUS = {
    "sqlite": (
        "SELECT slow(s.Name) FROM shop_orders o JOIN shop_orders_status s "
        "ON o.Status = s.ID WHERE substr(o.Phone, -10) = :phone ORDER BY o.ID DESC LIMIT 1"
    ),
    "postgresql": (
        'SELECT s."Name" FROM shop_orders o JOIN shop_orders_status s ON o."Status" = s."ID", '
        'pg_sleep(0.4) WHERE RIGHT(o."Phone", 10) = :phone ORDER BY o."ID" DESC LIMIT 1'
    ),
}


async def test_lookups_do_not_block_the_event_loop(demo_url: str, backend: str) -> None:
    """A slow database answer runs in a worker thread while the loop keeps ticking."""
    queries = ShopQueries(last_order_status=SLOW_LAST_STATUS[backend])
    database = await ShopDatabase.open(ShopSettings(url=demo_url, queries=queries))

    def slow(value: Any) -> Any:
        time.sleep(0.4)
        return value

    if backend == "sqlite":

        @sa.event.listens_for(database.engines.read, "connect")
        def _register(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.create_function("slow", 1, slow)

        database.engines.read.dispose()  # new connections get the function
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        assert await database.last_order_status("9607775577") == "отправлен"
    finally:
        task.cancel()
        await database.close()
    assert ticks >= 5


async def test_catalog_lookups(db: ShopDatabase) -> None:
    item = await db.find_article("007")
    assert item is not None and item.name.startswith("Губки") and item.unit == "шт"
    assert (await db.find_article(" 123 ")) is not None
    assert await db.find_article("7") is None
    assert await db.find_article("") is None
    articles = await db.articles()
    assert len(articles) == 30
    assert {"123", "1245", "007", "7715", "4512", "555", "10", "2024", "31337"} <= set(articles)
