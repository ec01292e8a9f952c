"""The AMI client against the fake Asterisk manager over a real TCP socket: login, events,
action/response correlation, Originate (Async) and its OriginateResponse, a refused login, a
dropped connection and the reconnect, an over-long line, a server that stops answering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.pbx.ami import (
    AmiClient,
    AmiError,
    AmiSettings,
    MessageReader,
    encode,
)
from tests.fakes.ami_server import FakeAmi, OriginatePlan


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    fake = await FakeAmi.start()
    try:
        yield fake
    finally:
        await fake.stop()


def settings(fake: FakeAmi, **changes: Any) -> AmiSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "port": fake.port,
        "username": "bot",
        "secret": "s3cret",
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "login_timeout_s": 2.0,
        "action_timeout_s": 2.0,
    }
    values.update(changes)
    return AmiSettings(**values)


@pytest.fixture
async def client(ami: FakeAmi) -> AsyncIterator[AmiClient]:
    amic = AmiClient(settings(ami))
    await amic.start()
    try:
        yield amic
    finally:
        await amic.stop()


async def test_login_and_events_in_order(ami: FakeAmi, client: AmiClient) -> None:
    seen: list[dict[str, str]] = []

    async def on_event(event: dict[str, str]) -> None:
        await asyncio.sleep(0)
        seen.append(event)

    client.subscribe(on_event)
    client.subscribe(lambda event: None)  # plain listeners work too
    await client.wait_connected(3)
    assert client.banner.startswith("Asterisk Call Manager/")
    login = ami.actions_named("Login")[0]
    assert login["Username"] == "bot" and login["Events"] == "call,agent"
    for n in range(3):
        await ami.emit({"Event": "QueueCallerJoin", "Queue": "sales", "Position": str(n + 1)})
    await asyncio.sleep(0.1)
    await client.drain()
    names = [(e["Event"], e.get("Position")) for e in seen]
    assert names == [
        ("FullyBooted", None),
        ("QueueCallerJoin", "1"),
        ("QueueCallerJoin", "2"),
        ("QueueCallerJoin", "3"),
    ]


async def test_a_failing_listener_does_not_stop_the_others(ami: FakeAmi, client: AmiClient) -> None:
    seen: list[str] = []

    def broken(event: dict[str, str]) -> None:
        raise RuntimeError("boom")

    client.subscribe(broken)
    client.subscribe(lambda event: seen.append(event["Event"]))
    await client.wait_connected(3)
    await ami.emit({"Event": "Hangup", "Uniqueid": "1.1"})
    await asyncio.sleep(0.1)
    await client.drain()
    assert "Hangup" in seen and client.connected


async def test_actions_get_their_own_responses(ami: FakeAmi, client: AmiClient) -> None:
    await client.wait_connected(3)
    pings = await asyncio.gather(*(client.action("Ping") for _ in range(5)))
    assert all(p["Ping"] == "Pong" for p in pings)
    sent_ids = [a["ActionID"] for a in ami.actions_named("Ping")]
    assert sorted(p["ActionID"] for p in pings) == sorted(sent_ids)
    assert len(set(sent_ids)) == 5
    with pytest.raises(AmiError, match="Invalid/unknown command"):
        await client.action("CoreShowChannels")
    answer = await client.action("CoreShowChannels", check=False)
    assert answer["Response"] == "Error"


async def test_originate_waits_for_the_originate_response(ami: FakeAmi, client: AmiClient) -> None:
    await client.wait_connected(3)
    ami.plans["PJSIP/104"] = OriginatePlan(response="Failure", reason="5")
    ami.plans["PJSIP/105"] = OriginatePlan(response="Failure", reason="3", delay_s=0.2)
    ami.plans["PJSIP/106"] = OriginatePlan(queued=False)
    ami.plans["PJSIP/107"] = OriginatePlan(delay_s=5.0)
    answered, busy, no_answer, refused, late = await asyncio.gather(
        client.originate(
            "PJSIP/103",
            context="callback",
            exten="79161234567",
            caller_id='"Магазин" <74951234567>',
            timeout_s=25,
            variables={"MISSED_ID": "7", "GREETING": "callback"},
        ),
        client.originate("PJSIP/104", application="Playback", data="hello-world"),
        client.originate("PJSIP/105", context="callback", exten="1"),
        client.originate("PJSIP/106", context="callback", exten="1"),
        client.originate("PJSIP/107", context="callback", exten="1", wait_s=0.3),
    )
    assert answered.success and answered.reason == "answered" and answered.reason_code == "4"
    assert answered.uniqueid == "1733040000.42" and answered.channel == "PJSIP/103"
    assert (busy.success, busy.reason, busy.uniqueid) == (False, "busy", "")
    assert (no_answer.success, no_answer.reason) == (False, "no_answer")
    assert (refused.success, refused.reason) == (False, "error")
    assert (late.success, late.reason) == (False, "timeout")
    sent = {a["Channel"]: a for a in ami.actions_named("Originate")}
    first = sent["PJSIP/103"]
    assert first["Async"] == "true" and first["Timeout"] == "25000"
    assert (first["Context"], first["Exten"], first["Priority"]) == ("callback", "79161234567", "1")
    assert first["Variable"] == "MISSED_ID=7\nGREETING=callback", "one Variable line each"
    assert first["CallerID"] == '"Магазин" <74951234567>'
    assert sent["PJSIP/104"]["Application"] == "Playback" and "Context" not in sent["PJSIP/104"]


async def test_a_refused_login_is_retried_and_never_connects(ami: FakeAmi) -> None:
    client = AmiClient(settings(ami, secret="wrong"))
    await client.start()
    try:
        async with asyncio.timeout(3):
            while ami.failed_logins < 2:
                await asyncio.sleep(0.02)
        assert not client.connected and client.last_error == "auth"
        with pytest.raises(AmiError, match="not connected"):
            await client.action("Ping")
    finally:
        await client.stop()
    assert ami.logins == 0


async def test_a_dropped_connection_reconnects_and_fails_waiting_actions(
    ami: FakeAmi, client: AmiClient
) -> None:
    seen: list[str] = []
    client.subscribe(lambda event: seen.append(event.get("Uniqueid", event["Event"])))
    await client.wait_connected(3)
    ami.plans["PJSIP/103"] = OriginatePlan(delay_s=10)
    waiting = asyncio.create_task(client.originate("PJSIP/103", context="c", exten="1"))
    await asyncio.sleep(0.1)
    ami.drop()
    with pytest.raises(AmiError, match="connection lost"):
        await waiting
    await ami.wait_login(2)
    await client.wait_connected(3)
    assert client.logins == 2 and client.failures >= 1
    await ami.emit({"Event": "Hangup", "Uniqueid": "after.reconnect"})
    await asyncio.sleep(0.1)
    await client.drain()
    assert "after.reconnect" in seen


async def test_an_over_long_line_drops_the_connection(ami: FakeAmi) -> None:
    client = AmiClient(settings(ami, max_line_bytes=512))
    seen: list[str] = []
    client.subscribe(lambda event: seen.append(event["Event"]))
    await client.start()
    try:
        await client.wait_connected(3)
        await ami.send_raw(b"Event: Hangup\r\nUniqueid: " + b"9" * 5000 + b"\r\n\r\n")
        await ami.wait_login(2)
        await client.wait_connected(3)
        assert client.failures >= 1
        await ami.emit({"Event": "QueueCallerLeave", "Queue": "sales"})
        await asyncio.sleep(0.1)
        await client.drain()
        assert "Hangup" not in seen and "QueueCallerLeave" in seen
    finally:
        await client.stop()


async def test_a_silent_server_is_noticed_by_ping(ami: FakeAmi) -> None:
    ami.answer_pings = False
    client = AmiClient(settings(ami, ping_interval_s=0.2, action_timeout_s=0.3))
    await client.start()
    try:
        await ami.wait_login(2, timeout=5)
        assert client.last_error == "timeout"
    finally:
        await client.stop()


async def test_a_server_that_is_no_asterisk_is_refused() -> None:
    async def not_ami(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        await asyncio.sleep(1)
        writer.close()

    server = await asyncio.start_server(not_ami, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AmiClient(
        AmiSettings(
            enabled=True,
            port=port,
            username="u",
            secret="s",
            reconnect_min_s=0.05,
            reconnect_max_s=0.1,
        )
    )
    await client.start()
    try:
        async with asyncio.timeout(3):
            while client.last_error != "protocol":
                await asyncio.sleep(0.02)
        assert not client.connected
    finally:
        await client.stop()
        server.close()


async def test_wire_format_limits() -> None:
    assert encode({"Action": "Ping", "Variable": ["a=1", "b=2"]}) == (
        b"Action: Ping\r\nVariable: a=1\r\nVariable: b=2\r\n\r\n"
    )
    with pytest.raises(ValueError, match="line break"):
        encode({"Action": "Originate", "Channel": "PJSIP/1\r\nAction: Logoff"})
    reader = asyncio.StreamReader(limit=1024)
    reader.feed_data(b"\r\nEvent: A\r\nX: 1\r\nX: 2\r\nplain text\r\n\r\n")
    reader.feed_data(b"Event: B\r\n" + b"".join(f"K{n}: v\r\n".encode() for n in range(40)))
    reader.feed_eof()
    messages = MessageReader(reader, max_line=1024, max_message=4096, max_fields=16)
    assert await messages.message() == {"Event": "A", "X": "1\n2", "Output": "plain text"}
    with pytest.raises(AmiError, match="more than 16 fields"):
        await messages.message()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="username and secret"):
        AmiSettings(enabled=True)
    with pytest.raises(ValueError, match="reconnect"):
        AmiSettings(reconnect_min_s=5, reconnect_max_s=1)
    assert "s3cret" not in repr(AmiSettings(username="u", secret="s3cret"))
