"""The real server under slow and hostile clients: connection limits, deadlines, bombs.

1,100 slow-header HTTP connections (more than the old 1024 file handles) must leave
``/healthz`` and a normal Asterisk call working; nested JSON, long names and slow bodies get
a 4xx or a clean close, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.file_budget import raise_soft_limit
from bot.server import BotServer
from tests.e2e.test_e2e_server import (
    SECRET,
    agi_port,
    audiosocket_order,
    make_settings,
    orders,
    ws_url,
)
from tests.fakes.asterisk_client import AudioSocketClient, FastAgiClient, agi_env
from tests.fakes.telphin_client import call_params

pytestmark = pytest.mark.e2e
SLOW_CONNECTIONS = 1100
HEADER_TIMEOUT = 3.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[BotServer]:
    soft, hard, _ = raise_soft_limit()  # this process holds both ends of 1,100 sockets
    assert soft >= 4 * SLOW_CONNECTIONS, f"RLIMIT_NOFILE {soft} (hard {hard}) is too low"
    settings = make_settings(tmp_path)
    settings.server.http.header_timeout = HEADER_TIMEOUT
    settings.server.http.body_timeout = 1.0
    bot = BotServer(settings)
    bot.public_sounds = tmp_path / "sounds"
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


async def slow_header_clients(
    port: int, count: int, sources: list[str]
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """``count`` connections that send half a request head and then nothing."""

    async def one(index: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        source = sources[index % len(sources)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\nX-Slow: ")
        return reader, writer

    clients = []
    for start in range(0, count, 100):  # in waves, as an attacker's kernel would let them in
        clients += await asyncio.gather(*(one(i) for i in range(start, min(count, start + 100))))
    return clients


async def healthz(base: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(base + "/healthz", timeout=aiohttp.ClientTimeout(total=2)) as response,
    ):
        return response.status


async def closed(reader: asyncio.StreamReader) -> bytes | None:
    """What the server sent before closing, or None while it is still open."""
    try:
        async with asyncio.timeout(0.05):
            return await reader.read()  # to the end of the stream
    except TimeoutError:
        return None
    except ConnectionError:
        return b"reset"


async def test_1100_slow_header_connections_leave_healthz_and_calls_working(
    server: BotServer,
) -> None:
    port = int(server.addresses["http"].rsplit(":", 1)[1])
    base = server.addresses["http"]
    started = time.monotonic()
    clients = await slow_header_clients(port, SLOW_CONNECTIONS, ["127.0.0.2"])
    await asyncio.sleep(0.3)
    assert server.http_site is not None
    gate = server.http_site.gate
    print(
        f"\n{SLOW_CONNECTIONS} slow connections opened in {time.monotonic() - started:.1f} s; "
        f"held {gate.active}, refused {dict(gate.refused)}"
    )
    assert gate.active == 50  # max_connections_per_ip
    assert sum(gate.refused.values()) == SLOW_CONNECTIONS - 50

    assert await healthz(base) == 200  # another address: not held up at all
    agi = FastAgiClient("127.0.0.1", agi_port(server), agi_env(callerid="+79607775577"))
    agi.audio = audiosocket_order
    await agi.run(timeout=60)
    assert agi.variables["BOT_RESULT"] == "hangup"
    assert await orders(server) == [("принят успешно", [("123", 2)])]

    answers = [await closed(reader) for reader, _ in clients]
    refused = [a for a in answers if a is not None and a.startswith(b"HTTP/1.1 503")]
    timed_out = [a for a in answers if a is not None and a.startswith(b"HTTP/1.1 408")]
    assert len(refused) == SLOW_CONNECTIONS - 50
    assert len(timed_out) == 50, "the held ones are cut at the header deadline"
    assert server.http_site.guard_stats.header_timeouts == 50
    assert gate.active == 0
    for _, writer in clients:
        writer.close()


async def test_slow_connections_from_many_addresses_hit_the_total_limit_only_briefly(
    server: BotServer,
) -> None:
    port = int(server.addresses["http"].rsplit(":", 1)[1])
    sources = [f"127.0.1.{i}" for i in range(1, 23)]  # 22 × 50 = 1,100, under the per-IP limit
    clients = await slow_header_clients(port, SLOW_CONNECTIONS, sources)
    await asyncio.sleep(0.3)
    assert server.http_site is not None
    assert server.http_site.gate.active == 500  # max_connections
    started = time.monotonic()
    assert await healthz(server.addresses["http"]) == 503  # an answer at once, not a hang
    assert time.monotonic() - started < 1.0
    agi = FastAgiClient("127.0.0.1", agi_port(server), agi_env(callerid="+79001112233"))
    agi.audio = audiosocket_order
    await agi.run(timeout=60)  # the Asterisk endpoints have their own limits
    assert agi.variables["BOT_RESULT"] == "hangup"
    assert await orders(server) == [("принят успешно", [("123", 2)])]
    deadline = time.monotonic() + HEADER_TIMEOUT + 3
    while await healthz(server.addresses["http"]) != 200:
        assert time.monotonic() < deadline, "slots are freed at the header deadline"
        await asyncio.sleep(0.2)
    for _, writer in clients:
        writer.close()


async def test_slow_body_gets_408(server: BotServer) -> None:
    port = int(server.addresses["http"].rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST /telphin/{SECRET} HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\nCallID=1".encode()
    )
    started = time.monotonic()
    head = await asyncio.wait_for(reader.readline(), 5)
    assert head.startswith(b"HTTP/1.1 408"), head
    assert time.monotonic() - started < 3
    writer.close()


async def test_nested_json_and_long_names_give_4xx_or_a_clean_close(
    server: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bomb = "[" * 30000 + "]" * 30000
    base = server.addresses["http"]
    async with aiohttp.ClientSession() as http:
        headers = {"Content-Type": "application/json"}
        async with http.post(f"{base}/telphin/{SECRET}", data=bomb, headers=headers) as response:
            assert response.status == 400
        body = '{"CallID": ' + "[" * 20000 + "]" * 20000 + "}"
        async with http.post(f"{base}/telphin/{SECRET}", data=body, headers=headers) as response:
            assert response.status == 400
        async with http.get(f"{base}/tts/{'a' * 300}.wav") as response:
            assert response.status == 404
        async with http.get(f"{base}/telphin/{SECRET}/{'b' * 300}") as response:
            assert response.status == 404
        for kind in ("twilio", "audio_fork", "browser"):
            protocols = ("audio.drachtio.org",) if kind == "audio_fork" else ()
            async with http.ws_connect(ws_url(server, kind), protocols=protocols) as ws:
                await ws.send_str(bomb[:60000])
                message = await ws.receive(timeout=5)
                assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert ws.close_code == 1007, kind
        assert await healthz(base) == 200
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert tracebacks == []


async def test_allow_list_applies_to_fastagi_and_audiosocket(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.server.allow_ips = ["10.0.0.0/8"]
    bot = BotServer(settings)
    bot.public_sounds = tmp_path / "sounds"
    await bot.start()
    try:
        assert bot.asterisk is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", agi_port(bot))
        writer.write(b"agi_network: yes\n\n")
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        async with AudioSocketClient("127.0.0.1", bot.asterisk.audiosocket.port) as client:
            await client.wait_closed(2)
            assert client.frames == []
        assert await healthz(bot.addresses["http"]) == 403
        refused = [
            dict(gate.refused)
            for gate in (bot.asterisk.fastagi.gate, bot.asterisk.audiosocket.gate)
            if gate is not None
        ]
        assert refused == [{"address not on the allow-list": 1}] * 2
    finally:
        await bot.stop()


async def test_file_budget_is_checked_at_start(server: BotServer) -> None:
    budget = server.file_budget
    assert budget.needed == 128 + 2 * 20 + 500 + 2 * 100
    assert budget.enough and budget.soft >= budget.needed


async def test_params_with_numbers_still_work_behind_the_limits(server: BotServer) -> None:
    url = server.addresses["http"] + f"/telphin/{SECRET}"
    async with aiohttp.ClientSession() as http, http.get(url, params=call_params()) as response:
        assert response.status == 200


async def test_a_slow_body_gets_408_and_its_connection_is_closed_soon(
    server: BotServer,
) -> None:
    """Not left to aiohttp's 10 s lingering close after the reply."""
    port = int(server.addresses["http"].rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST /telphin/{SECRET} HTTP/1.1\r\nHost: bot\r\nContent-Length: 500\r\n\r\nCall"
    writer.write(head.encode())
    started = time.monotonic()
    try:
        async with asyncio.timeout(5.0):
            got = await reader.read()  # to the end of the stream: the server closed it
    finally:
        writer.close()
    assert got.startswith(b"HTTP/1.1 408"), got[:80]
    assert time.monotonic() - started < 1.0 + 2.0  # body_timeout 1 s, then the reply, closed
