"""Asterisk queue calls followed over AMI against the fake manager on a real TCP socket:
an abandon (HoldTime), a caller the queue let go, an answered caller (AgentConnect closes
their open missed calls), other queues ignored, and a bad login, a dropped connection (the
events after the reconnect still count) and an over-long line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.missed import statuses
from bot.missed.intake import MissedCallIntake
from bot.missed.intake_ami import AmiFollower
from connectors.pbx.ami import AmiClient, AmiSettings
from tests.bot.missed.intake_fixtures import intake, store  # noqa: F401
from tests.fakes.ami_server import FakeAmi


def caller_fields(uniqueid: str, number: str = "+79161234567", **extra: str) -> dict[str, str]:
    fields = {
        "Channel": f"PJSIP/trunk-{uniqueid}",
        "ChannelState": "6",
        "ChannelStateDesc": "Up",
        "CallerIDNum": number,
        "CallerIDName": "<unknown>",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "ru",
        "AccountCode": "",
        "Context": "from-trunk",
        "Exten": "74951234567",
        "Priority": "3",
        "Uniqueid": uniqueid,
        "Linkedid": uniqueid,
        "Queue": "sales",
    }
    fields.update(extra)
    return fields


@pytest.fixture
async def world(intake: MissedCallIntake) -> AsyncIterator[dict[str, Any]]:  # noqa: F811
    fake = await FakeAmi.start()
    settings = AmiSettings(
        enabled=True,
        port=fake.port,
        username="bot",
        secret="s3cret",
        queues=["sales"],
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
        max_line_bytes=1024,
    )
    client = AmiClient(settings)
    follower = AmiFollower(intake, client, queues=settings.queues, max_calls=100)
    await client.start()
    await client.wait_connected(3)
    try:
        yield {"fake": fake, "client": client, "follower": follower, "intake": intake}
    finally:
        await client.stop()
        await fake.stop()


async def settle(world: dict[str, Any]) -> None:
    await asyncio.sleep(0.1)
    await world["client"].drain()
    await world["intake"].drain()


async def test_abandon_leave_and_answer(world: dict[str, Any]) -> None:
    fake: FakeAmi = world["fake"]
    missed = world["intake"].store
    # 1. joins, hangs up after 42 s in the queue
    await fake.emit(
        {"Event": "QueueCallerJoin", **caller_fields("1733040000.1"), "Position": "1", "Count": "1"}
    )
    await fake.emit(
        {
            "Event": "QueueCallerAbandon",
            **caller_fields("1733040000.1"),
            "Position": "1",
            "OriginalPosition": "1",
            "HoldTime": "42",
        }
    )
    await fake.emit(
        {
            "Event": "QueueCallerLeave",
            **caller_fields("1733040000.1"),
            "Count": "0",
            "Position": "1",
        }
    )
    await fake.emit(
        {
            "Event": "Hangup",
            **caller_fields("1733040000.1"),
            "Cause": "16",
            "Cause-txt": "Normal Clearing",
        }
    )
    # 2. the queue times out (QUEUESTATUS=TIMEOUT), the caller hangs up later
    await fake.emit({"Event": "QueueCallerJoin", **caller_fields("1733040000.2", "89035550011")})
    await fake.emit({"Event": "QueueCallerLeave", **caller_fields("1733040000.2", "89035550011")})
    await fake.emit(
        {
            "Event": "Hangup",
            **caller_fields("1733040000.2", "89035550011"),
            "Cause-txt": "Normal Clearing",
        }
    )
    # 3. another queue: not followed
    await fake.emit(
        {
            "Event": "QueueCallerAbandon",
            **caller_fields("1733040000.3", Queue="support"),
            "HoldTime": "5",
        }
    )
    await settle(world)
    rows = {c.external_id: c for c in await missed.list()}
    assert set(rows) == {"1733040000.1", "1733040000.2"}
    abandon = rows["1733040000.1"]
    assert (abandon.intake, abandon.source_kind, abandon.source) == ("ami", "queue", "sales")
    assert (abandon.caller, abandon.called, abandon.wait_s) == ("9161234567", "4951234567", 42.0)
    assert abandon.details["how"] == "abandon"
    left = rows["1733040000.2"]
    assert left.caller == "9035550011" and left.details["how"] == "left"
    # 4. the first caller calls again and a member answers: «Клиент позвонил сам»
    await fake.emit({"Event": "QueueCallerJoin", **caller_fields("1733040100.5")})
    await fake.emit(
        {
            "Event": "AgentConnect",
            **caller_fields("1733040100.5"),
            "DestChannel": "PJSIP/103-0001",
            "DestUniqueid": "1733040100.6",
            "MemberName": "Мария",
            "Interface": "PJSIP/103",
            "HoldTime": "3",
            "RingTime": "2",
        }
    )
    await fake.emit({"Event": "QueueCallerLeave", **caller_fields("1733040100.5")})
    await fake.emit({"Event": "Hangup", **caller_fields("1733040100.5")})
    await settle(world)
    assert await missed.count() == 2, "an answered call is no missed call"
    marked = await missed.get(abandon.id)
    assert marked is not None and marked.status == statuses.CLIENT_CALLED
    assert marked.history[-1]["member"] == "Мария" and marked.history[-1]["queue"] == "sales"
    still = await missed.get(left.id)
    assert still is not None and still.status == statuses.NOT_CALLED_BACK
    assert world["follower"].followed == 0


async def test_a_replayed_abandon_is_stored_once_and_unix_holdtime(world: dict[str, Any]) -> None:
    fake: FakeAmi = world["fake"]
    event = {
        "Event": "QueueCallerAbandon",
        **caller_fields("1733040000.9"),
        "HoldTime": "17",
        "Timestamp": "1764572400.000000",
    }
    await fake.emit(event)
    await fake.emit(event)
    # Asterisk's generated docs call HoldTime a Unix time: such a value is the wait's start
    await fake.emit({**event, "Uniqueid": "1733040000.10", "HoldTime": "1764572390"})
    await settle(world)
    rows = {c.external_id: c for c in await world["intake"].store.list()}
    assert set(rows) == {"1733040000.9", "1733040000.10"}
    assert rows["1733040000.9"].wait_s == 17.0
    assert rows["1733040000.10"].wait_s == 10.0
    assert rows["1733040000.9"].missed_at.timestamp() == 1764572400.0, "the event's Timestamp"


async def test_events_after_a_dropped_connection_and_a_long_line_still_count(
    world: dict[str, Any],
) -> None:
    fake: FakeAmi = world["fake"]
    fake.drop()
    await fake.wait_login(2)
    await world["client"].wait_connected(3)
    await fake.emit({"Event": "QueueCallerAbandon", **caller_fields("after.drop"), "HoldTime": "8"})
    await fake.send_raw(
        b"Event: QueueCallerAbandon\r\nQueue: sales\r\nX: " + b"y" * 4000 + b"\r\n\r\n"
    )
    await fake.wait_login(3)
    await world["client"].wait_connected(3)
    await fake.emit({"Event": "QueueCallerAbandon", **caller_fields("after.long"), "HoldTime": "9"})
    await settle(world)
    ids = sorted(c.external_id for c in await world["intake"].store.list())
    assert ids == ["after.drop", "after.long"]


async def test_a_bad_login_stores_nothing(intake: MissedCallIntake) -> None:  # noqa: F811
    fake = await FakeAmi.start()
    client = AmiClient(
        AmiSettings(
            enabled=True,
            port=fake.port,
            username="bot",
            secret="nope",
            reconnect_min_s=0.05,
            reconnect_max_s=0.1,
        )
    )
    AmiFollower(intake, client)
    await client.start()
    try:
        async with asyncio.timeout(3):
            while fake.failed_logins < 2:
                await asyncio.sleep(0.02)
        await fake.emit({"Event": "QueueCallerAbandon", **caller_fields("x"), "HoldTime": "1"})
        await asyncio.sleep(0.1)
        assert client.last_error == "auth" and not client.connected
        assert await intake.store.count() == 0
    finally:
        await client.stop()
        await fake.stop()
