"""FreeSWITCH mod_audio_fork over a real WebSocket on 127.0.0.1, against a spec-written fake."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from connectors.pbx import audio_fork
from connectors.pbx.transport import AudioIn, CallTransport, DtmfIn, HangupIn
from connectors.pbx.websocket_base import websocket_handler
from speech.audio import tone
from tests.fakes.tone_bot import ToneBot as Bot
from tests.fakes.ws_clients import AUDIO_FORK_SUBPROTOCOL, AudioForkClient, serve_app

CALLER = "+79161234567"
CALLED = "+74951112233"
UUID = "7dd5e34e-5db4-4edb-a166-757e5d29b941"
MAX_BYTES = 4096
LOGGER = "connectors.pbx.websocket_base"
PATH = "/ws/audio_fork"


def metadata(rate: int | None = 16000, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"callid": UUID, "from": CALLER, "to": CALLED, **extra}
    if rate is not None:
        meta["sampleRate"] = rate
    return meta


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def server(bot: Callable[[CallTransport], Awaitable[None]], **kwargs: Any) -> Any:
    kwargs.setdefault("max_message_bytes", MAX_BYTES)
    kwargs.setdefault("start_timeout", 0.5)
    return serve_app({PATH: websocket_handler(bot, audio_fork.AudioForkTransport, **kwargs)})


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_conversation_wire_format_both_ways(
    session: aiohttp.ClientSession, rate: int
) -> None:
    bot = Bot()
    async with server(bot) as base, AudioForkClient.connect(session, base + PATH) as fs:
        assert fs.ws.protocol == AUDIO_FORK_SUBPROTOCOL
        await fs.send_metadata(metadata(rate))
        said = tone(440, 0.1, rate=rate, amplitude=0.3)
        await fs.send_audio(said, rate)
        await fs.wait_until(lambda: bool(fs.play_audio()))

        # FreeSWITCH ➜ bot: L16 bytes arrive unchanged at the announced rate.
        await asyncio.sleep(0.05)
        heard = [e.audio for e in bot.events[0] if isinstance(e, AudioIn)]
        assert all(a.rate == rate for a in heard)
        assert b"".join(a.pcm for a in heard) == said.pcm

        # bot ➜ FreeSWITCH: 100 ms of 20 ms frames batched into one raw playAudio at the rate.
        [message] = fs.messages("type", "playAudio")
        assert set(message) == {"type", "data"}
        data = message["data"]
        assert data["audioContentType"] == "raw" and data["sampleRate"] == rate
        assert base64.b64decode(data["audioContent"], validate=True) == bot.replies[0].pcm

        await fs.send_dtmf("5")
        await fs.wait_until(lambda: bool(fs.messages("type", "json")))
        assert fs.messages("type", "json")[0] == {
            "type": "json",
            "event": "caller_name",
            "name": "Анна 2(3)",
        }

        await fs.send_dtmf("0")
        assert await fs.wait_closed() == 1000
        assert fs.texts[-1] == {
            "type": "transfer",
            "data": {"target": "operator", "result": "transfer", "reason": ""},
        }
        await asyncio.wait_for(bot.ended.wait(), 2)

    info = bot.infos[0]
    assert (info.call_id, info.caller, info.called, info.connector) == (
        UUID,
        CALLER,
        CALLED,
        "audio_fork",
    )
    assert bot.rates == [rate]
    assert [e for e in bot.events[0] if isinstance(e, DtmfIn)] == [DtmfIn("5"), DtmfIn("0")]


async def test_one_play_audio_per_frame_when_asked(session: aiohttp.ClientSession) -> None:
    bot = Bot(reply_ms=100)
    async with (
        server(bot, play_batch_ms=20) as base,
        AudioForkClient.connect(session, base + PATH) as fs,
    ):
        await fs.send_metadata(metadata(8000))
        await fs.send_audio(tone(440, 0.04, rate=8000), 8000)
        await fs.wait_until(lambda: len(fs.play_audio()) == 5)
        assert all(len(base64.b64decode(d["audioContent"])) == 320 for d in fs.play_audio())
        assert fs.received_audio(8000).pcm == bot.replies[0].pcm
        await fs.send_dtmf("9")
        assert await fs.wait_closed() == 1000
        assert fs.texts[-1] == {"type": "disconnect"}


async def test_long_reply_is_split_into_batches(session: aiohttp.ClientSession) -> None:
    bot = Bot(reply_ms=500)
    async with server(bot) as base, AudioForkClient.connect(session, base + PATH) as fs:
        await fs.send_metadata(metadata(16000))
        await fs.send_audio(tone(440, 0.04, rate=16000), 16000)
        await fs.wait_until(lambda: len(fs.play_audio()) == 3)  # 200 + 200 + 100 ms
        sizes = [len(base64.b64decode(d["audioContent"])) for d in fs.play_audio()]
        assert sizes == [6400, 6400, 3200]
        assert fs.received_audio(16000).pcm == bot.replies[0].pcm


async def test_barge_in_drops_the_batch_and_kills_audio(session: aiohttp.ClientSession) -> None:
    bot = Bot(reply_ms=60, barge_in=True)  # less than a batch: nothing sent before clear
    async with server(bot) as base, AudioForkClient.connect(session, base + PATH) as fs:
        await fs.send_metadata(metadata(8000))
        await fs.send_audio(tone(440, 0.04, rate=8000), 8000)
        await fs.wait_until(lambda: bool(fs.messages("type", "killAudio")))
        await asyncio.sleep(0.1)  # longer than the idle flush: the dropped batch stays dropped
        assert fs.texts == [{"type": "killAudio"}]
        await fs.send_text('{"type":"stop"}')
        await asyncio.wait_for(bot.ended.wait(), 2)
    assert bot.events[0][-1] == HangupIn("stop")


async def test_rate_from_query_and_default(session: aiohttp.ClientSession) -> None:
    bot = Bot()
    async with server(bot) as base:
        async with AudioForkClient.connect(session, base + PATH + "?rate=16k") as fs:
            await fs.send_metadata(metadata(None))
            await fs.ws.close()
        async with AudioForkClient.connect(session, base + PATH) as fs:
            await fs.send_text("{}")  # metadata without anything we know
            await fs.ws.close()
        await asyncio.sleep(0.05)
    assert bot.rates == [16000, 8000]
    assert bot.infos[1].caller == "" and len(bot.infos[1].call_id) == 32


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

    async with (
        server(talker, play_batch_ms=40) as base,
        AudioForkClient.connect(session, base + PATH) as fs,
    ):
        await fs.send_metadata(metadata(8000))
        await fs.wait_until(lambda: len(fs.play_audio()) >= 2)
        if how == "stop":
            await fs.send_text('{"type":"stop"}')
        else:
            await fs.ws.close()  # what the module does when the channel hangs up
        await asyncio.wait_for(done.wait(), 2)
    assert seen == [HangupIn("stop" if how == "stop" else "peer closed")]


BAD_INPUT: dict[str, tuple[bool, Any, int]] = {
    # name: (send metadata first?, what to send, expected close code)
    "bad json metadata": (False, "callid=123 from=456", 1007),
    "metadata not an object": (False, "[1, 2]", 1007),
    "wrong types": (False, '{"callid": "x", "from": ["+7916"]}', 1007),
    "unsupported rate": (False, '{"sampleRate": 11025}', 1003),
    "binary before metadata": (False, b"\x00\x01" * 160, 1003),
    "odd pcm length": (True, b"\x00" * 321, 1003),
    "bad json text": (True, "{oops", 1007),
    "unknown message type": (True, '{"type":"teleport"}', 1002),
    "bad dtmf": (True, '{"type":"dtmf","digit":"12"}', 1007),
    "oversized message": (True, b"\x00" * (MAX_BYTES + 2), 1009),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
async def test_malformed_input_ends_only_that_call(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.pbx")
    started, payload, code = BAD_INPUT[case]
    bot = Bot()
    async with server(bot) as base:
        async with AudioForkClient.connect(session, base + PATH) as good:
            await good.send_metadata(metadata(8000, callid="good-call"))
            async with AudioForkClient.connect(session, base + PATH) as bad:
                if started:
                    await bad.send_metadata(metadata(8000))
                if isinstance(payload, bytes):
                    await bad.send_bytes(payload)
                else:
                    await bad.send_text(payload)
                assert await bad.wait_closed() == code
            await good.send_audio(tone(440, 0.04, rate=8000), 8000)
            await good.wait_until(lambda: bool(good.play_audio()))
            await good.ws.close()
        async with AudioForkClient.connect(session, base + PATH) as again:
            await again.send_metadata(metadata(16000, callid="next-call"))
            await again.send_audio(tone(440, 0.04, rate=16000), 16000)
            await again.wait_until(lambda: bool(again.play_audio()))
            await again.send_dtmf("9")
            assert await again.wait_closed() == 1000

    if started:
        assert bot.events[1][-1] == HangupIn("protocol error")
    problems = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    for record in caplog.records:
        assert CALLER not in record.getMessage() and CALLED not in record.getMessage()
