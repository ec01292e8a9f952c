"""Throw :mod:`bot.tools.fuzz_cases` at a running server, endpoint by endpoint.

Each case opens its own connection, sends its bytes or messages, gives the server ``wait``
seconds to answer or close, and then closes its side. An outcome is recorded per case
(``status 400``, ``close 1007``, ``closed``, ``open``: still waiting for more input, which is
fine for a truncated request; ``refused by the limits``: the connection gate's ``503``, e.g.
while earlier cases' requests still run). A **failure** is what must never happen: a 5xx
answer from the application, a
WebSocket closed with 1011 (the bot failed), a FastAGI session that ended without
``BOT_RESULT`` once the bot had the call, or the endpoint refusing connections (down).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

from bot.http_guard import REFUSED_503
from bot.tools.fuzz_cases import (
    AgiCase,
    AudioSocketCase,
    HttpCase,
    Mutator,
    WsCase,
    agi_env_block,
)

T = TypeVar("T")
AGI_FIRST_LINE_WAIT = 0.5  # a valid environment gets its EXEC within milliseconds


@dataclass
class FuzzReport:
    endpoint: str
    cases: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "seconds": round(self.seconds, 1),
            "failures": len(self.failures),
            "failure_examples": self.failures[:5],
            "outcomes": dict(self.outcomes.most_common(12)),
        }


async def run_cases(
    endpoint: str,
    cases: Sequence[T],
    run: Callable[[T], Awaitable[tuple[str, bool]]],
    concurrency: int = 12,
) -> FuzzReport:
    """Run every case (``run`` returns the outcome and whether it is a failure)."""
    report = FuzzReport(endpoint, len(cases))
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def one(index: int, case: T) -> None:
        async with gate:
            try:
                outcome, failed = await run(case)
            except Exception as exc:  # the fuzzer's own trouble: recorded, never hidden
                outcome, failed = f"client {type(exc).__name__}", False
        report.outcomes[outcome] += 1
        if failed:
            report.failures.append(f"case {index}: {outcome}")

    await asyncio.gather(*(one(i, c) for i, c in enumerate(cases)))
    report.seconds = time.monotonic() - started
    return report


async def _read_for(reader: asyncio.StreamReader, wait: float) -> tuple[bytes, bool]:
    """What arrives within ``wait`` s, and whether the peer closed."""
    data = b""
    try:
        async with asyncio.timeout(wait):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return data, True
                data += chunk
    except TimeoutError:
        return data, False
    except ConnectionError:
        return data, True


async def http_case(port: int, case: HttpCase, wait: float = 0.3) -> tuple[str, bool]:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "refused", True
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(case.data)
            await writer.drain()
        data, closed = await _read_for(reader, wait)
    finally:
        writer.close()
    if data.startswith(REFUSED_503):  # the connection limits at work (by design)
        return "refused by the limits (503)", False
    if data.startswith(b"HTTP/1.") and data[9:12].isdigit():
        status = int(data[9:12])
        return f"status {status}", status >= 500
    return ("closed" if closed else "open"), False


async def ws_case(url: str, case: WsCase, wait: float = 0.3) -> tuple[str, bool]:
    protocols = ("audio.drachtio.org",) if case.kind == "audio_fork" else ()
    timeout = aiohttp.ClientWSTimeout(ws_close=2.0)
    async with aiohttp.ClientSession() as http:
        try:
            ws = await http.ws_connect(url, protocols=protocols, timeout=timeout)
        except aiohttp.WSServerHandshakeError as exc:
            return f"handshake {exc.status}", exc.status >= 500
        except OSError:
            return "refused", True
        try:
            for message in case.messages:
                if ws.closed:
                    break
                with contextlib.suppress(ConnectionError, RuntimeError):
                    if isinstance(message, str):
                        await ws.send_str(message)
                    else:
                        await ws.send_bytes(message)
            code = ws.close_code if ws.closed else None
            try:  # a timeout inside receive() marks the socket 1006: "open" here
                async with asyncio.timeout(wait):
                    while code is None:
                        msg = await ws.receive()
                        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                            code = ws.close_code if msg.data is None else int(msg.data)
                        elif msg.type is aiohttp.WSMsgType.ERROR:
                            code = ws.close_code or 1006
            except TimeoutError:
                pass
        finally:
            await ws.close()
    if code is None:
        return "open", False
    return f"close {code}", code == 1011


async def _agi_dialog(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    replies: Sequence[bytes],
    wait: float,
    on_exec: Callable[[str], Awaitable[None]] | None = None,
    first_wait: float = AGI_FIRST_LINE_WAIT,
) -> tuple[list[str], bool]:
    """Answer the bot's AGI lines with ``replies``; the lines and whether it closed."""
    lines: list[str] = []
    replies = list(replies)
    while True:
        try:
            async with asyncio.timeout(first_wait if not lines else wait):
                raw = await reader.readline()
        except (TimeoutError, ConnectionError):
            return lines, False
        if not raw:
            return lines, True
        line = raw.decode("utf-8", "replace").rstrip("\n")
        lines.append(line)
        if line.startswith("EXEC") and on_exec is not None:
            await on_exec(line)
        reply = replies.pop(0) if replies else b"200 result=1\n"
        with contextlib.suppress(ConnectionError):
            writer.write(reply)
            await writer.drain()


async def agi_case(agi: tuple[str, int], case: AgiCase, wait: float = 0.5) -> tuple[str, bool]:
    try:
        reader, writer = await asyncio.open_connection(*agi)
    except OSError:
        return "refused", True
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(case.env)
            await writer.drain()
        lines, closed = await _agi_dialog(reader, writer, case.replies, wait)
    finally:
        writer.close()
    if not lines:
        return ("closed" if closed else "open"), False
    result = [line.split()[-1] for line in lines if line.startswith("SET VARIABLE BOT_RESULT")]
    return f"{len(lines)} lines, result {result[0] if result else '-'}", False


async def audiosocket_case(
    agi: tuple[str, int], audiosocket: tuple[str, int], case: AudioSocketCase, seed: int
) -> tuple[str, bool]:
    """A FastAGI session announces the call; its AudioSocket leg gets the mutated frames."""
    try:
        reader, writer = await asyncio.open_connection(*agi)
    except OSError:
        return "refused", True
    legs: list[str] = []

    async def on_exec(line: str) -> None:
        call_uuid = uuid.UUID(shlex.split(line)[2].split(",")[0])
        head = b"\x01\x00\x10" + call_uuid.bytes
        if case.mutate_uuid:
            head = Mutator(seed).bytes(head)
        try:
            leg_reader, leg_writer = await asyncio.open_connection(*audiosocket)
        except OSError:
            legs.append("refused")
            return
        with contextlib.suppress(ConnectionError):
            leg_writer.write(head + case.stream)
            await leg_writer.drain()
        _, closed = await _read_for(leg_reader, 0.3)
        leg_writer.close()
        legs.append("leg closed" if closed else "leg open")

    try:
        writer.write(agi_env_block(Mutator(seed)))
        await writer.drain()
        # a valid call: the bot answers however loaded it is (its own limits are seconds)
        replies = [b"200 result=0\n"]
        lines, _ = await _agi_dialog(reader, writer, replies, 10.0, on_exec, first_wait=10.0)
    finally:
        writer.close()
    results = [line.split()[-1] for line in lines if line.startswith("SET VARIABLE BOT_RESULT")]
    outcome = f"{legs[0] if legs else 'no leg'}, result {results[0] if results else '-'}"
    return outcome, not results or legs == ["refused"]


async def healthy(base: str) -> bool:
    with contextlib.suppress(Exception):
        timeout = aiohttp.ClientTimeout(total=3)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(base + "/healthz") as r:
            return r.status == 200
    return False
