"""Saving orders and e-mailing them through a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from connectors.shop.database import ShopDatabase
from connectors.shop.mail import SmtpSettings, render_order_email
from connectors.shop.outbox import Outbox
from connectors.shop.records import OrderItem, OrderRecord, OrderStatus
from tests.connectors.shop.conftest import count_rows
from tests.fakes.smtp_server import SmtpSink, free_port

MSK = timezone(timedelta(hours=3))
CALLER = "+79607775577"
CALLED = "74951234567"


def _order(status: str = OrderStatus.ACCEPTED) -> OrderRecord:
    return OrderRecord(
        caller=CALLER,
        called=CALLED,
        call_time=datetime(2024, 5, 1, 14, 3, 22, tzinfo=MSK),
        status=status,
        items=[
            OrderItem("123", "Ведро пластиковое 10 л", 2),
            OrderItem("007", "Губки для посуды, 10 шт. в упаковке", 5),
        ],
    )


def _count(db: ShopDatabase, table: str) -> int:
    return count_rows(db.engine, table)


MESSAGE_ID = re.compile(r"<order-(\d+)-(\d+)\.([0-9a-f]{10})@([^>]+)>")


async def test_save_order_writes_order_items_and_outbox(db: ShopDatabase) -> None:
    order_id = await db.save_order(_order())
    assert order_id == 1
    assert _count(db, "bot_orders") == 1
    assert _count(db, "bot_order_items") == 2
    entries = await db.outbox_entries()
    assert [(e.order_id, e.attempts, e.sent_at) for e in entries] == [(1, 0, None)]
    assert await db.load_order(order_id) == _order()
    assert await db.save_order(_order(OrderStatus.TRANSFERRED)) == 2
    assert await db.outbox_pending() == 2


async def test_save_order_is_atomic(db: ShopDatabase) -> None:
    """If the e-mail cannot be queued, the order is not saved either."""
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE outbox"))
    with pytest.raises(sa.exc.DBAPIError):  # SQLite: OperationalError, PostgreSQL: Programming
        await db.save_order(_order())
    assert _count(db, "bot_orders") == 0
    assert _count(db, "bot_order_items") == 0


def test_order_values_are_checked() -> None:
    with pytest.raises(ValueError):
        OrderItem("123", "Ведро", 0)
    with pytest.raises(ValueError):
        OrderItem("", "Ведро", 1)
    with pytest.raises(ValueError):
        OrderRecord(CALLER, CALLED, "вчера", OrderStatus.ACCEPTED)  # type: ignore[arg-type]


def test_rendered_email_lists_everything() -> None:
    message = render_order_email(42, _order(), "bot@shop.test", "orders@shop.test")
    body = message.get_content()
    assert message["Message-ID"] == "<order-42@shop.test>"
    assert message["To"] == "orders@shop.test"
    assert "Заказ № 42" in message["Subject"]
    for text in (
        "Артикул: 123",
        "Количество (шт.): 2",
        "Артикул: 007",
        "Количество (шт.): 5",
        f"Номер звонящего: {CALLER}",
        f"Номер, на который пришел звонок: {CALLED}",
        "Время звонка: 01.05.2024 14:03:22 (UTC+03:00)",
        "Статус заказа: принят успешно",
    ):
        assert text in body
    again = render_order_email(42, _order(), "bot@shop.test", "orders@shop.test")
    assert again.as_bytes() == message.as_bytes()


def test_transferred_order_without_items_renders() -> None:
    order = OrderRecord(CALLER, CALLED, datetime(2024, 5, 1, 9, 0), OrderStatus.TRANSFERRED)
    body = render_order_email(7, order, "bot@localhost", "orders@localhost").get_content()
    assert "Статус заказа: переведен на оператора" in body
    assert "Время звонка: 01.05.2024 09:00:00" in body


async def test_outbox_delivers_to_real_smtp_server(db: ShopDatabase) -> None:
    with SmtpSink() as sink:
        outbox = Outbox(db, SmtpSettings(port=sink.port, sender="bot@shop.test"))
        order_id = await db.save_order(_order())
        assert await outbox.pending() == 1
        assert await outbox.deliver_due() == 1
        assert await outbox.pending() == 0
        assert await outbox.deliver_due() == 0
        messages = sink.messages
    assert len(messages) == 1
    received = messages[0]
    match = MESSAGE_ID.fullmatch(received["Message-ID"])
    assert match is not None, received["Message-ID"]
    assert (match[1], match[2], match[4]) == (str(order_id), "1", "shop.test")
    body = received.get_content()
    assert "Артикул: 123" in body and "Количество (шт.): 2" in body
    assert CALLER in body and CALLED in body
    assert "Статус заказа: принят успешно" in body
    assert sink.envelopes == [("bot@shop.test", ["orders@localhost"])]
    [entry] = await db.outbox_entries()
    assert entry.sent_at is not None and entry.attempts == 0
    assert received["Message-ID"] == f"<{entry.message_key}@shop.test>"


async def test_order_saved_while_smtp_is_down_is_delivered_exactly_once(
    db: ShopDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()  # nothing listens here yet
    outbox = Outbox(db, SmtpSettings(port=port, timeout=2.0))
    await db.save_order(_order())

    assert await outbox.deliver_due() == 0
    assert await outbox.deliver_due() == 0  # not due again yet: the backoff holds it
    assert await outbox.pending() == 1
    [entry] = await db.outbox_entries()
    assert entry.attempts == 1
    assert entry.sent_at is None
    assert entry.last_error
    assert "9607775577" not in entry.last_error

    with SmtpSink(port=port) as sink:
        later = datetime.now(UTC) + timedelta(hours=1)
        assert await outbox.deliver_due(now=later) == 1
        assert await outbox.deliver_due(now=later + timedelta(hours=1)) == 0
        assert await outbox.deliver_due() == 0
        messages = sink.messages
    assert len(messages) == 1
    assert "Артикул: 123" in messages[0].get_content()
    assert await outbox.pending() == 0
    for record in caplog.records:  # personal data only ever in structured fields
        assert "9607775577" not in record.getMessage()


async def test_backoff_grows_and_is_capped(db: ShopDatabase) -> None:
    outbox = Outbox(db, SmtpSettings(port=free_port()), base_delay=1.0, max_delay=5.0)
    await db.save_order(_order())
    now = datetime.now(UTC)
    delays = []
    for attempt in range(1, 6):
        assert await outbox.deliver_due(now=now) == 0
        [entry] = await db.outbox_entries()
        assert entry.attempts == attempt
        delays.append((entry.next_attempt_at - now).total_seconds())
        # just before it is due nothing happens
        assert await outbox.deliver_due(now=entry.next_attempt_at - timedelta(seconds=0.5)) == 0
        assert (await db.outbox_entries())[0].attempts == attempt
        now = entry.next_attempt_at
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert await outbox.pending() == 1  # never dropped


async def test_concurrent_workers_send_once(db: ShopDatabase) -> None:
    with SmtpSink() as sink:
        settings = SmtpSettings(port=sink.port)
        first, second = Outbox(db, settings), Outbox(db, settings)
        for _ in range(3):
            await db.save_order(_order())
        results = await asyncio.gather(
            first.deliver_due(), second.deliver_due(), first.deliver_due()
        )
        assert sum(results) == 3
        assert len(sink.messages) == 3
    matches = [MESSAGE_ID.fullmatch(m["Message-ID"]) for m in sink.messages]
    assert sorted(int(m[1]) for m in matches if m is not None) == [1, 2, 3]


async def test_run_loop_delivers_and_stops(db: ShopDatabase) -> None:
    with SmtpSink() as sink:
        outbox = Outbox(db, SmtpSettings(port=sink.port))
        stop = asyncio.Event()
        task = asyncio.create_task(outbox.run(stop, poll_interval=0.05))
        await db.save_order(_order())
        for _ in range(100):
            if await outbox.pending() == 0:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=2)
        assert len(sink.messages) == 1


async def test_backlog_larger_than_one_batch_is_sent_in_one_pass(db: ShopDatabase) -> None:
    with SmtpSink() as sink:
        outbox = Outbox(db, SmtpSettings(port=sink.port), batch_size=2)
        for _ in range(5):
            await db.save_order(_order())
        assert await outbox.deliver_due() == 5
        assert len(sink.messages) == 5
    assert await outbox.pending() == 0
