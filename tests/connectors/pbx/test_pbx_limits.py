"""Connection limits, allow-list, AGI timeouts and BOT_RESULT=error, over real TCP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.pbx.asterisk import AsteriskConnector
from connectors.pbx.audiosocket import REFUSED_DUPLICATE, REFUSED_UNKNOWN
from connectors.pbx.limits import (
    REFUSED_ADDRESS,
    REFUSED_FULL,
    REFUSED_PER_IP,
    ConnectionGate,
    LogThrottle,
    normalise_ip,
)
from connectors.pbx.transport import CallHandler, CallTransport, DtmfIn
from tests.fakes.asterisk_client import AudioSocketClient, FastAgiClient, agi_env


@contextlib.asynccontextmanager
async def connector(handler: CallHandler, **options: Any) -> AsyncIterator[AsteriskConnector]:
    bot = AsteriskConnector(handler, audiosocket_port=0, agi_port=0, **options)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop(grace=0.5)


async def closed_at_once(port: int, timeout: float = 1.0) -> bool:
    """Connect and see the server close (or reset) without sending anything."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(timeout):
            return await reader.read(100) == b""
    except ConnectionError:
        return True
    finally:
        writer.close()


def test_gate_counts_per_address_and_in_all() -> None:
    gate = ConnectionGate("x", max_connections=3, max_per_ip=2)
    assert gate.admit("10.0.0.1") is None
    assert gate.admit("::ffff:10.0.0.1") is None  # the same host
    assert gate.admit("10.0.0.1") == REFUSED_PER_IP
    assert gate.admit("10.0.0.2") is None
    assert gate.admit("10.0.0.3") == REFUSED_FULL
    gate.release("10.0.0.1")
    assert gate.admit("10.0.0.3") is None
    assert gate.active == 3 and gate.connections_from("10.0.0.1") == 1
    gate.release("10.9.9.9")  # never admitted: nothing changes
    assert gate.active == 3
    assert gate.refused == {REFUSED_PER_IP: 1, REFUSED_FULL: 1}


def test_gate_allow_list_and_bad_entries() -> None:
    gate = ConnectionGate("x", max_connections=9, max_per_ip=9, allow_ips=["192.0.2.0/24"])
    assert gate.admit("192.0.2.7") is None
    assert gate.admit("198.51.100.1") == REFUSED_ADDRESS
    assert gate.admit(None) == REFUSED_ADDRESS
    assert normalise_ip("fe80::1%eth0") == "fe80::1"
    with pytest.raises(ValueError, match="not an address"):
        ConnectionGate("x", max_connections=1, max_per_ip=1, allow_ips=["nonsense"])


def test_throttle_says_how_many_it_left_out(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LogThrottle(logging.getLogger("test.throttle"), interval=0.2)
    caplog.set_level(logging.WARNING, logger="test.throttle")
    for _ in range(100):
        throttle.log(logging.WARNING, "k", "refused")
    time.sleep(0.25)
    throttle.log(logging.WARNING, "k", "refused")
    assert len(caplog.records) == 2
    assert getattr(caplog.records[1], "suppressed", None) == 99


async def test_fastagi_and_audiosocket_gates_close_at_once() -> None:
    agi_gate = ConnectionGate("fastagi", max_connections=2, max_per_ip=2)
    audio_gate = ConnectionGate(
        "audiosocket", max_connections=9, max_per_ip=9, allow_ips=["10.0.0.0/8"]
    )

    async def hang_up(transport: CallTransport) -> None:
        await transport.hangup()

    async with connector(hang_up, agi_gate=agi_gate, audiosocket_gate=audio_gate) as bot:
        idle = [await asyncio.open_connection("127.0.0.1", bot.fastagi.port) for _ in range(2)]
        await asyncio.sleep(0.05)
        started = time.monotonic()
        assert await closed_at_once(bot.fastagi.port)
        assert time.monotonic() - started < 0.5
        assert agi_gate.refused == {REFUSED_FULL: 1}
        for _, writer in idle:
            writer.close()
        async with asyncio.timeout(2):  # the server's side closes in a few loop turns
            while agi_gate.active:
                await asyncio.sleep(0.01)
        # the allow-list applies to AudioSocket: 127.0.0.1 is not in 10.0.0.0/8
        async with AudioSocketClient("127.0.0.1", bot.audiosocket.port) as client:
            await client.wait_closed(1.0)
            assert client.frames == []
        assert audio_gate.refused == {REFUSED_ADDRESS: 1}


async def test_a_failure_handoff_reports_bot_result_error() -> None:
    async def handler(transport: CallTransport) -> None:
        await transport.set_caller_name("Иван 2(3)")
        await transport.hand_over("operator", "error")  # e.g. the order could not be saved

    async with connector(handler, require_agi=True) as bot:
        asterisk = FastAgiClient("127.0.0.1", bot.fastagi.port, agi_env())
        await asterisk.run(5.0)
    assert asterisk.commands[1:] == [
        'SET VARIABLE CALLERID(name) "Иван 2(3)"',
        'SET VARIABLE BOT_TRANSFER "operator"',
        'SET VARIABLE BOT_REASON "error"',
        'SET VARIABLE BOT_RESULT "error"',
    ]


@pytest.mark.parametrize(
    ("reason", "result"),
    [
        ("engine_error", "error"),
        ("recognition_timeout", "error"),
        ("caller_request", "transfer"),
        ("shutdown", "transfer"),
    ],
)
async def test_reason_decides_the_result(reason: str, result: str) -> None:
    async def handler(transport: CallTransport) -> None:
        async for event in transport.events():
            if isinstance(event, DtmfIn):
                await transport.hand_over("101", reason)

    async def caller(client: AudioSocketClient) -> None:
        await client.send_dtmf("0")
        await client.wait_closed(3.0)

    async with connector(handler) as bot:
        asterisk = FastAgiClient("127.0.0.1", bot.fastagi.port, agi_env(), audio=caller)
        await asterisk.run(5.0)
    assert asterisk.variables == {"BOT_TRANSFER": "101", "BOT_REASON": reason, "BOT_RESULT": result}


async def test_a_crashing_handler_is_an_error_not_a_hangup() -> None:
    async def handler(transport: CallTransport) -> None:
        raise RuntimeError("bug")

    async with connector(handler) as bot:
        asterisk = FastAgiClient("127.0.0.1", bot.fastagi.port, agi_env())
        await asterisk.run(5.0)
    assert asterisk.variables == {"BOT_REASON": "bot_failure", "BOT_RESULT": "error"}


async def test_unannounced_uuid_never_reaches_the_bot_with_require_agi() -> None:
    calls: list[str] = []

    async def handler(transport: CallTransport) -> None:
        calls.append(transport.info.call_id)
        await transport.hangup()

    async with connector(handler, require_agi=True) as bot:
        strangers = [AudioSocketClient("127.0.0.1", bot.audiosocket.port) for _ in range(25)]
        for client in strangers:
            await client.connect()
        for client in strangers:
            await client.wait_closed(2.0)
        asterisk = FastAgiClient("127.0.0.1", bot.fastagi.port, agi_env())
        await asterisk.run(5.0)
        assert bot.audiosocket.refused == {REFUSED_UNKNOWN: 25}
    assert len(calls) == 1  # only the announced call
    assert asterisk.variables == {"BOT_RESULT": "hangup"}


async def test_a_second_leg_with_the_same_uuid_is_refused() -> None:
    calls: list[str] = []
    second_refused = asyncio.Event()

    async def handler(transport: CallTransport) -> None:
        calls.append(transport.info.call_id)
        await second_refused.wait()
        await transport.hangup()

    async with connector(handler, require_agi=True) as bot:

        async def caller(client: AudioSocketClient) -> None:
            copy = AudioSocketClient("127.0.0.1", bot.audiosocket.port, client.uuid)
            await copy.connect()
            await copy.wait_closed(2.0)
            assert copy.frames == []
            second_refused.set()
            await client.wait_closed(2.0)

        asterisk = FastAgiClient("127.0.0.1", bot.fastagi.port, agi_env(), audio=caller)
        await asterisk.run(5.0)
        assert bot.audiosocket.refused == {REFUSED_DUPLICATE: 1}
    assert len(calls) == 1
    assert asterisk.variables == {"BOT_RESULT": "hangup"}


async def test_no_audio_leg_after_exec_ends_the_agi_session() -> None:
    async def never(transport: CallTransport) -> None:
        raise AssertionError("no call expected")

    async with connector(never, link_timeout=0.3) as bot:
        reader, writer = await asyncio.open_connection("127.0.0.1", bot.fastagi.port)
        writer.write("".join(f"{k}: {v}\n" for k, v in agi_env().items()).encode() + b"\n")
        await writer.drain()
        started = time.monotonic()
        exec_line = await asyncio.wait_for(reader.readline(), 2.0)
        assert exec_line.startswith(b"EXEC AudioSocket ")
        assert await asyncio.wait_for(reader.read(), 2.0) == b""  # closed, no variables
        assert 0.25 < time.monotonic() - started < 1.5
        writer.close()
        assert len(bot.calls) == 0


async def test_agi_session_timeout_closes_a_session_whose_exec_never_returns() -> None:
    async def silent(transport: CallTransport) -> None:
        async for _ in transport.events():
            pass

    async with connector(silent, agi_session_timeout=0.5) as bot:
        reader, writer = await asyncio.open_connection("127.0.0.1", bot.fastagi.port)
        writer.write("".join(f"{k}: {v}\n" for k, v in agi_env().items()).encode() + b"\n")
        await writer.drain()
        exec_line = (await asyncio.wait_for(reader.readline(), 2.0)).decode()
        call_uuid = uuid.UUID(exec_line.split()[2].split(",")[0])
        leg = AudioSocketClient("127.0.0.1", bot.audiosocket.port, call_uuid)
        await leg.connect()
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 3.0) == b""  # no EXEC reply: closed
        assert time.monotonic() - started < 1.5
        writer.close()
        await leg.close()


async def test_stop_cancels_a_stuck_call_without_an_error_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from connectors.pbx.audiosocket import AudioSocketServer

    async def stuck(transport: CallTransport) -> None:
        await asyncio.Event().wait()  # ignores the hang-up: only cancellation ends it

    server = AudioSocketServer(stuck, "127.0.0.1", 0)
    await server.start()
    client = AudioSocketClient("127.0.0.1", server.port)
    await client.connect()
    await asyncio.sleep(0.1)
    caplog.set_level(logging.ERROR)
    started = time.monotonic()
    await server.stop(grace=0.1)
    await asyncio.sleep(0.05)  # the loop runs the connection task's done callbacks
    assert time.monotonic() - started < 2.0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    await client.close()
