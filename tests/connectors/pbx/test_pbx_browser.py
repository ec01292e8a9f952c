"""Our browser format over a real WebSocket on 127.0.0.1, against a fake talk.html page.

Also the behaviour every WebSocket connector shares (websocket_base): a handler that raises
closes with 1011, a handler that ignores the hang-up is cancelled after the grace period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.pbx import browser
from connectors.pbx.transport import AudioIn, CallTransport, HangupIn
from connectors.pbx.websocket_base import serve_call, websocket_handler
from speech.audio import tone
from tests.fakes.tone_bot import ToneBot as Bot
from tests.fakes.ws_clients import BrowserClient, serve_app

CALLER = "+79161234567"
CALLED = "+74951112233"
MAX_BYTES = 4096
LOGGER = "connectors.pbx.websocket_base"
PATH = "/ws/browser"
STATIC = Path(__file__).resolve().parents[3] / "bot" / "static"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def server(bot: Callable[[CallTransport], Awaitable[None]], **kwargs: Any) -> Any:
    kwargs.setdefault("max_message_bytes", MAX_BYTES)
    kwargs.setdefault("start_timeout", 0.5)
    return serve_app({PATH: websocket_handler(bot, browser.BrowserTransport, **kwargs)})


async def test_conversation_wire_format_both_ways(session: aiohttp.ClientSession) -> None:
    bot = Bot()
    async with server(bot) as base, BrowserClient.connect(session, base + PATH) as page:
        await page.send_start(16000, caller=CALLER, called=CALLED)
        said = tone(440, 0.1, rate=16000, amplitude=0.3)
        await page.send_audio(said, 16000)
        await page.wait_until(lambda: len(page.binaries) == 5)

        await asyncio.sleep(0.05)
        heard = [e.audio for e in bot.events[0] if isinstance(e, AudioIn)]
        assert [a.num_samples for a in heard] == [320] * 5 and {a.rate for a in heard} == {16000}
        assert b"".join(a.pcm for a in heard) == said.pcm

        assert all(len(frame) == 640 for frame in page.binaries)  # 20 ms, 16-bit, 16 kHz
        assert page.received_audio(16000).pcm == bot.replies[0].pcm

        await page.send_dtmf("5")
        await page.wait_until(lambda: bool(page.messages("type", "caller_name")))
        assert page.texts == [{"type": "caller_name", "name": "Анна 2(3)"}]

        await page.send_dtmf("0")
        assert await page.wait_closed() == 1000
        assert page.texts[-1] == {
            "type": "transfer",
            "target": "operator",
            "result": "transfer",
            "reason": "",
        }
        await asyncio.wait_for(bot.ended.wait(), 2)

    info = bot.infos[0]
    assert (info.caller, info.called, info.connector) == (CALLER, CALLED, "browser")
    assert bot.rates == [16000]


async def test_bot_audio_is_resampled_to_the_page_rate(session: aiohttp.ClientSession) -> None:
    async def speak_8k(call: CallTransport) -> None:
        await call.play(tone(440, 0.02, rate=8000))
        await call.hangup()

    async with server(speak_8k) as base, BrowserClient.connect(session, base + PATH) as page:
        await page.send_start(48000)
        assert await page.wait_closed() == 1000
    assert [len(frame) for frame in page.binaries] == [1920]  # 20 ms at 48 kHz
    assert page.texts == [{"type": "hangup"}]


async def test_barge_in_sends_clear(session: aiohttp.ClientSession) -> None:
    bot = Bot(reply_ms=60, barge_in=True)
    async with server(bot) as base, BrowserClient.connect(session, base + PATH) as page:
        await page.send_start(16000)
        await page.send_audio(tone(440, 0.04, rate=16000), 16000)
        await page.wait_until(lambda: bool(page.messages("type", "clear")))
        assert len(page.binaries) == 3 and page.texts == [{"type": "clear"}]
        await page.send_stop()
        await asyncio.wait_for(bot.ended.wait(), 2)
    assert bot.events[0][-1] == HangupIn("stop")


@pytest.mark.parametrize("how", ["stop", "close"])
async def test_caller_hangs_up_mid_sentence(session: aiohttp.ClientSession, how: str) -> None:
    done = asyncio.Event()
    seen: list[Any] = []

    async def talker(call: CallTransport) -> None:
        async def speak() -> None:
            for frame in tone(500, 5.0, rate=call.rate).frames(20):
                await call.play(frame)
                await asyncio.sleep(0.02)

        speaking = asyncio.create_task(speak())
        async for event in call.events():
            seen.append(event)
        speaking.cancel()
        done.set()

    async with server(talker) as base, BrowserClient.connect(session, base + PATH) as page:
        await page.send_start(16000)
        await page.wait_until(lambda: len(page.binaries) >= 3)
        if how == "stop":
            await page.send_stop()
        else:
            await page.ws.close()
        await asyncio.wait_for(done.wait(), 2)
    assert seen == [HangupIn("stop" if how == "stop" else "peer closed")]


BAD_INPUT: dict[str, tuple[bool, Any, int]] = {
    "bad json": (True, "{nope", 1007),
    "start not first": (False, '{"type":"dtmf","digit":"1"}', 1002),
    "binary before start": (False, b"\x00\x00" * 320, 1003),
    "rate not an integer": (False, '{"type":"start","rate":"fast"}', 1007),
    "unsupported rate": (False, '{"type":"start","rate":12345}', 1003),
    "caller not a string": (False, '{"type":"start","rate":16000,"caller":79161234567}', 1007),
    "odd pcm length": (True, b"\x00" * 641, 1003),
    "unknown type": (True, '{"type":"teleport"}', 1002),
    "duplicate start": (True, '{"type":"start","rate":16000}', 1002),
    "dtmf digit wrong type": (True, '{"type":"dtmf","digit":1}', 1007),
    "oversized message": (True, b"\x00" * (MAX_BYTES + 2), 1009),
    "invalid utf-8 text": (True, "bad-utf8", 1007),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
async def test_malformed_input_ends_only_that_call(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.pbx")
    started, payload, code = BAD_INPUT[case]
    bot = Bot()
    async with server(bot) as base:
        async with BrowserClient.connect(session, base + PATH) as good:
            await good.send_start(16000, caller=CALLER)
            async with BrowserClient.connect(session, base + PATH) as bad:
                if started:
                    await bad.send_start(16000, caller=CALLER, called=CALLED)
                if payload == "bad-utf8":  # a TEXT frame whose bytes are not UTF-8
                    await bad.ws._writer.send_frame(b"\xff\xfe", aiohttp.WSMsgType.TEXT)
                elif isinstance(payload, bytes):
                    await bad.send_bytes(payload)
                else:
                    await bad.send_text(payload)
                assert await bad.wait_closed() == code
            await good.send_audio(tone(440, 0.04, rate=16000), 16000)
            await good.wait_until(lambda: len(good.binaries) == 5)
            await good.send_stop()
        async with BrowserClient.connect(session, base + PATH) as again:
            await again.send_start(8000)
            await again.send_audio(tone(440, 0.04, rate=8000), 8000)
            await again.wait_until(lambda: len(again.binaries) == 5)
            await again.send_dtmf("9")
            assert await again.wait_closed() == 1000

    if started:
        assert bot.events[1][-1] == HangupIn("protocol error")
    problems = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    for record in caplog.records:
        assert CALLER not in record.getMessage() and CALLED not in record.getMessage()


async def test_no_start_message_times_out(session: aiohttp.ClientSession) -> None:
    bot = Bot()
    async with (
        server(bot, start_timeout=0.2) as base,
        BrowserClient.connect(session, base + PATH) as page,
    ):
        assert await page.wait_closed() == 1008
    assert bot.infos == []


async def test_failing_handler_closes_1011_and_server_goes_on(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def flaky(call: CallTransport) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        await call.hangup()

    async with server(flaky) as base:
        async with BrowserClient.connect(session, base + PATH) as page:
            await page.send_start(16000)
            assert await page.wait_closed() == 1011
        async with BrowserClient.connect(session, base + PATH) as page:
            await page.send_start(16000)
            assert await page.wait_closed() == 1000
    assert any("handler failed" in r.getMessage() for r in caplog.records)


async def test_handler_ignoring_the_hangup_is_cancelled_after_grace(
    session: aiohttp.ClientSession,
) -> None:
    cancelled = asyncio.Event()

    async def deaf(call: CallTransport) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def handle(request: web.Request) -> web.StreamResponse:
        return await serve_call(
            request, deaf, browser.BrowserTransport, start_timeout=0.5, handler_grace=0.2
        )

    async with serve_app({PATH: handle}) as base:
        async with BrowserClient.connect(session, base + PATH) as page:
            await page.send_start(16000)
            await page.send_stop()
        await asyncio.wait_for(cancelled.wait(), 2)


async def test_parser_bug_ends_only_that_call(session: aiohttp.ClientSession) -> None:
    class Buggy(browser.BrowserTransport):
        def parse_message(self, msg: Any) -> Any:
            if msg.type is aiohttp.WSMsgType.TEXT:
                raise ValueError("bug")
            return super().parse_message(msg)

    bot = Bot()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await serve_call(request, bot, Buggy, start_timeout=0.5)

    async with serve_app({PATH: handle}) as base:
        async with BrowserClient.connect(session, base + PATH) as page:
            await page.send_start(16000)
            await page.send_dtmf("1")
            assert await page.wait_closed() == 1011
        async with BrowserClient.connect(session, base + PATH) as page:
            await page.send_start(16000)
            await page.send_audio(tone(440, 0.04, rate=16000), 16000)
            await page.wait_until(lambda: len(page.binaries) == 5)
    assert bot.events[0] == [HangupIn("internal error")]


def test_talk_page_speaks_the_browser_format() -> None:
    html = (STATIC / "talk.html").read_text(encoding="utf-8")
    script = html + (STATIC / "talk.js").read_text(encoding="utf-8")
    assert "getUserMedia" in script and "/ws/browser" in script
    for needle in ('"start"', '"dtmf"', '"stop"', '"clear"', '"transfer"', '"hangup"'):
        assert needle in script, needle
    assert "caller_name" in script and "binaryType" in script
