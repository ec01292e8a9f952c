"""The whole log of a real ``bot serve`` hit with bad requests on every endpoint holds no
secret, no phone number, no name, and no forged line.

The requests carry the secret in paths, the demo caller's number (9607775577 / 79607775577,
also written +7 (960) 777-55-77) in queries, headers, bodies and protocol frames, the name
«Иван» the demo shop greets him with, and raw and percent-encoded newlines that try to start
a fake log line. One normal call of that caller (greeted by name, order taken) runs too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path

import aiohttp
import pytest

from bot.tools.keypad_call import ORDER_KEYS, keypad_call
from bot.tools.serve_process import ServeProcess, base_config
from tests.fakes.smtp_server import free_port

pytestmark = pytest.mark.e2e
SECRET = "Log-Secret-4242-xyz"
NUMBERS = ("9607775577", "79607775577", "960 777", "777-55-77", "960) 777")
NAME = "Иван"
FORGED = "FORGED-LINE"
LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: |  \| ")


async def raw_http(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(3):
                return await reader.read(4096)
        return b""
    finally:
        writer.close()


async def raw_tcp(port: int, data: bytes) -> None:
    with contextlib.suppress(ConnectionError):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        await writer.drain()
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(2):
                await reader.read()
        writer.close()


async def bad_http(base: str, port: int) -> list[int]:
    number = "79607775577"
    statuses = []
    async with aiohttp.ClientSession() as http:
        for url, kwargs in [
            (f"{base}/telphin/{SECRET}", {"params": {"CallID": "1", "CallerIDNum": number}}),
            (f"{base}/telphin/{SECRET}", {"params": {"CallerIDNum": number, "CallerIDName": NAME}}),
            (f"{base}/telphin/wrong-{SECRET}", {"params": {"CallerIDNum": number}}),
            (f"{base}/ws/twilio/{SECRET}x", {"headers": {"X-Caller": "+7 (960) 777-55-77"}}),
            (f"{base}/nothing/{SECRET}", {"headers": {"User-Agent": f"phone {number}"}}),
            (f"{base}/tts/{'9607775577' * 30}.wav", {}),
        ]:
            async with http.get(url, **kwargs) as response:
                statuses.append(response.status)
        for body in (
            json.dumps({"CallID": "x", "CallerIDNum": number, "CallerIDName": NAME}),
            '{"CallID": "' + number + '", "CallerIDNum": ' + "[" * 5000 + "]" * 5000 + "}",
            f"CallID=1&CallerIDNum={number}&CallerIDName={NAME}\n{FORGED}",
        ):
            async with http.post(f"{base}/telphin/{SECRET}", data=body.encode()) as response:
                statuses.append(response.status)
    forged = f"\r\n2026-01-01 00:00:00,000 ERROR bot: {FORGED}".encode()
    for data in [
        f"GET /telphin/{SECRET}%0a2026-01-01%2000:00:00,000%20ERROR%20x:%20{FORGED}?"
        f"CallerIDNum={number} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"GET /ws/twilio/{SECRET}?c={number}\n{FORGED} HTTP/1.1\r\n\r\n".encode(),
        f"G\x00T /telphin/{SECRET}?CallerIDNum={number} HTTP/1.1\r\n\r\n".encode(),
        f"GET /telphin/{SECRET} HTTP/1.1\r\nX-A: {'7' * 9000}{number}\r\n\r\n".encode(),
        f"GET /telphin/{SECRET} HTTP/1.1\r\nX-Phone: {number}".encode() + forged + b"\r\n\r\n",
        f"POST /telphin/{SECRET} HTTP/1.1\r\nContent-Length: x{number}\r\n\r\n".encode(),
        f"GET /%{SECRET}/{number} HTTP/9.9\r\n\r\n".encode(),
    ]:
        answer = await raw_http(port, data)
        statuses.append(int(answer[9:12]) if re.match(rb"HTTP/1\.[01] \d{3}", answer) else 0)
    return statuses


async def bad_websockets(base: str) -> None:
    ws_base = base.replace("http://", "ws://") + "/ws"
    number = "79607775577"
    async with aiohttp.ClientSession() as http:
        twilio_start = {
            "event": "start",
            "start": {
                "streamSid": f"MZ{number}",
                "callSid": f"CA{number}",
                "customParameters": {"caller": number, "called": "78123098635", "name": NAME},
            },
            "streamSid": f"MZ{number}",
        }
        cases = [
            ("twilio", [json.dumps(twilio_start), f'{{"event": "{number}\\n{FORGED}"}}']),
            ("twilio", [json.dumps({"event": "media", "caller": number})]),
            ("audio_fork", [json.dumps({"callid": f"{number}\n{FORGED}", "from": number}), "x"]),
            ("audio_fork", [f"{{not json {number} {SECRET}"]),
            ("browser", [json.dumps({"type": "start", "rate": 16000, "caller": number}), "{]"]),
            ("browser", [json.dumps({"type": "start", "rate": 1, "call_id": f"{number}\n"})]),
            ("browser", ["[" * 20000 + "]" * 20000]),
        ]
        for kind, messages in cases:
            protocols = ("audio.drachtio.org",) if kind == "audio_fork" else ()
            async with http.ws_connect(f"{ws_base}/{kind}/{SECRET}", protocols=protocols) as ws:
                for message in messages:
                    with contextlib.suppress(ConnectionError):
                        await ws.send_str(message)
                with contextlib.suppress(TimeoutError):
                    await ws.receive(timeout=5)


async def bad_asterisk(agi: tuple[str, int], audiosocket: int) -> None:
    number = "79607775577"
    await raw_tcp(agi[1], f"agi_network: yes\nagi_callerid {number} {SECRET}\n\n".encode())
    await raw_tcp(agi[1], f"agi_callerid: {number}\nagi_x: {FORGED}\r\x1b[2J\n".encode())
    await raw_tcp(agi[1], b"agi_network: yes\nagi_x: " + number.encode() * 1000 + b"\n\n")
    await raw_tcp(audiosocket, b"\x01\x00\x10" + number.encode()[:11].ljust(16, b"\n"))
    await raw_tcp(audiosocket, f"{number}\n{FORGED}".encode())


async def test_the_log_of_a_run_full_of_bad_requests_is_clean(tmp_path: Path) -> None:
    config = base_config(tmp_path / "run", mail_port=free_port(), secret=SECRET)
    with ServeProcess(tmp_path / "run", config) as bot:
        await bot.started()
        base = bot.http()
        port = int(base.rsplit(":", 1)[1])
        audiosocket = int(bot.addresses["audiosocket"].rsplit(":", 1)[1])
        statuses = await bad_http(base, port)
        await bad_websockets(base)
        await bad_asterisk(bot.agi(), audiosocket)
        call = await keypad_call(bot.agi(), ORDER_KEYS, caller="+79607775577")
        assert call.variables["CALLERID(name)"] == "Иван 2(3)"
        assert call.result == "hangup" and call.confirmed
        assert bot.alive()
        assert await bot.stop() == 0
        log = bot.log_text() + bot.out_path.read_text("utf-8")
    # the valid requests of the demo caller are answered; every bad one is a 4xx, never a 500
    assert statuses == [200, 400, 401, 401, 404, 404, 200, 400, 200] + [401] + [400] * 6
    assert SECRET not in log
    for needle in (*NUMBERS, NAME, "Иван 2(3)"):
        assert needle not in log, needle
    lines = bot.log_text().splitlines()
    assert len(lines) > 30, "the run did log"
    forged = [line for line in lines if not LINE.match(line)]
    assert forged == [], "every line is a log line or a traceback continuation"
    assert all(FORGED not in line or not line.startswith("2026-01-01") for line in lines)
    assert "Traceback" not in log, "bad input gives a clean error, never a traceback"
    assert "http request" in log and "route=/telphin/{secret}" in log  # the access log
