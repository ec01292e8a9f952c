"""Several processes drain one outbox: every message once, a killed drainer is taken over."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from connectors.shop import schema
from connectors.shop.database import ShopDatabase
from connectors.shop.mail import SmtpSettings
from connectors.shop.outbox import Outbox
from connectors.shop.records import OrderItem, OrderRecord, OrderStatus
from connectors.shop.schema import parse_time
from tests.connectors.shop.conftest import REPO
from tests.fakes.smtp_server import SmtpSink, free_port

ORDER = OrderRecord(
    caller="+79607775577",
    called="74951234567",
    call_time=datetime(2024, 5, 1, 14, 3, 22, tzinfo=timezone(timedelta(hours=3))),
    status=OrderStatus.ACCEPTED,
    items=[OrderItem("123", "Ведро пластиковое 10 л", 2)],
)


def _drainer(url: str, port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.connectors.shop.worker_process",
            "drain",
            url,
            str(port),
            *extra,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


async def _save(db: ShopDatabase, count: int) -> None:
    for _ in range(count):
        await db.save_order(ORDER)


async def test_two_drainer_processes_send_every_message_exactly_once(
    db: ShopDatabase, tmp_path: Path
) -> None:
    await _save(db, 120)
    go = tmp_path / "go"
    with SmtpSink(delay=0.01) as sink:
        workers = [_drainer(db.settings.url, sink.port, "--go", str(go)) for _ in range(2)]
        async with asyncio.timeout(60):  # both processes up and waiting (each says so)
            while len(list(tmp_path.glob("go.ready-*"))) < 2:
                await asyncio.sleep(0.05)
        began = time.perf_counter()
        go.touch()
        outputs = [await asyncio.to_thread(w.communicate, None, 120) for w in workers]
        took = time.perf_counter() - began
        messages = sink.messages
    sent = [json.loads(out)["sent"] for out, _ in outputs]
    ids = Counter(m["Message-ID"] for m in messages)
    print(f"\n[{db.backend}] 2 drainers, 120 e-mails: {sent} in {took:.2f}s")
    assert [w.returncode for w in workers] == [0, 0]
    assert len(ids) == 120 and set(ids.values()) == {1}  # each one exactly once
    assert sum(sent) == 120
    assert min(sent) > 0  # both really worked
    assert await db.outbox_pending() == 0


def _first_lease(conn: sa.Connection) -> str | None:
    unsent = schema.outbox.c.sent_at.is_(None)
    return conn.execute(sa.select(sa.func.min(schema.outbox.c.leased_until)).where(unsent)).scalar()


async def _killed_mid_delivery(db: ShopDatabase, *, keeps: bool) -> tuple[SmtpSink, float]:
    """Drainer A leases 3 messages and is killed while the SMTP server holds the first one;
    drainer B (this process) may take them only after A's lease. Returns the sink and how
    long B waited past the kill (asserted here: B's first take is not before A's lease ends,
    a figure the machine's speed cannot move, unlike the time from the kill)."""
    await _save(db, 3)
    lease = 1.5
    sink = SmtpSink(hold=5.0, hold_count=1, hold_keeps=keeps).start()
    a = _drainer(db.settings.url, sink.port, "--lease", str(lease))
    try:
        assert await asyncio.to_thread(sink.held.wait, 30)
    finally:
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=10)
    killed_at = time.perf_counter()
    leased = await db.read(_first_lease)
    assert leased is not None, "A leased them"
    b = Outbox(db, SmtpSettings(port=sink.port), lease=lease)
    now = datetime.now(UTC)
    if now < parse_time(leased):
        assert await b.deliver_due(now) == 0  # all three are still leased by A
    while await b.deliver_due(now := datetime.now(UTC)) == 0:
        assert time.perf_counter() - killed_at < 10
        await asyncio.sleep(0.1)
    assert now >= parse_time(leased), "not before A's lease ran out"
    waited = time.perf_counter() - killed_at
    while await db.outbox_pending():
        await b.deliver_due()
        await asyncio.sleep(0.05)
    return sink, waited


async def test_a_drainer_killed_mid_delivery_is_taken_over_after_its_lease(
    db: ShopDatabase,
) -> None:
    sink, waited = await _killed_mid_delivery(db, keeps=False)
    try:
        ids = Counter(m["Message-ID"] for m in sink.messages)
        [held] = sink.held_messages
    finally:
        sink.stop()
    print(f"\n[{db.backend}] killed drainer's messages taken over after {waited:.2f}s")
    assert waited < 5.0  # soon after the lease ran out (the lower bound: in _killed_mid_delivery)
    assert len(ids) == 3 and set(ids.values()) == {1}
    assert held["Message-ID"] in ids  # the interrupted one was delivered by B
    assert await db.outbox_pending() == 0


async def test_a_copy_after_a_lost_reply_carries_the_same_message_id(db: ShopDatabase) -> None:
    """The server stored the message but the sender died before the reply: the resend is a
    duplicate, recognisable by its Message-ID (at-least-once delivery)."""
    sink, _ = await _killed_mid_delivery(db, keeps=True)
    try:
        ids = Counter(m["Message-ID"] for m in sink.messages)
        [held] = sink.held_messages
    finally:
        sink.stop()
    assert ids[held["Message-ID"]] == 2
    assert len(ids) == 3 and sorted(ids.values()) == [1, 1, 2]


async def test_force_sends_now_whatever_the_backoff(db: ShopDatabase) -> None:
    port = free_port()
    outbox = Outbox(db, SmtpSettings(port=port, timeout=2.0), base_delay=300.0, max_delay=600.0)
    await _save(db, 2)
    assert await outbox.deliver_due() == 0  # SMTP down: both wait 5 minutes now
    assert await outbox.deliver_due(force=True) == 0  # still down: each tried once, no loop
    assert [e.attempts for e in await db.outbox_entries()] == [2, 2]
    # another drainer holds one of them right now: force leaves it alone
    later = datetime.now(UTC) + timedelta(hours=1)
    [held] = await db.outbox_claim_due(later, timedelta(hours=1), limit=1, token="other")
    with SmtpSink(port=port) as sink:
        assert await outbox.deliver_due() == 0  # backoff
        assert await outbox.deliver_due(force=True) == 1
        assert len(sink.messages) == 1
    entries = {e.id: e for e in await db.outbox_entries()}
    assert entries[held.id].sent_at is None
    assert [e.sent_at is not None for e in entries.values()].count(True) == 1
