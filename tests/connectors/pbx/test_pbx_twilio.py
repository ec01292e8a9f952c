"""Twilio Media Streams over a real WebSocket on 127.0.0.1, against a spec-written fake Twilio."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import numpy as np
import pytest

from connectors.pbx import twilio
from connectors.pbx.transport import AudioIn, CallTransport, DtmfIn, HangupIn
from connectors.pbx.websocket_base import websocket_handler
from speech.audio import tone
from speech.g711 import ulaw_decode, ulaw_encode
from tests.fakes.tone_bot import ToneBot as Bot
from tests.fakes.ws_clients import TwilioClient, serve_app

CALLER = "+79161234567"
CALLED = "+74951112233"
MAX_BYTES = 4096
LOGGER = "connectors.pbx.websocket_base"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def server(bot: Callable[[CallTransport], Awaitable[None]], **kwargs: Any) -> Any:
    kwargs.setdefault("max_message_bytes", MAX_BYTES)
    kwargs.setdefault("start_timeout", 0.5)
    return serve_app({"/ws/twilio": websocket_handler(bot, twilio.TwilioTransport, **kwargs)})


async def test_conversation_wire_format_both_ways(session: aiohttp.ClientSession) -> None:
    bot = Bot()
    async with server(bot) as base, TwilioClient.connect(session, base + "/ws/twilio") as tw:
        await tw.begin(caller=CALLER, called=CALLED)
        said = tone(440, 0.1, rate=8000, amplitude=0.3)
        sent_mulaw = await tw.send_audio(said)
        await tw.wait_until(lambda: len(tw.messages("event", "media")) == 5)

        # Twilio ➜ bot: μ-law 8 kHz decoded exactly as G.711 says, within codec error.
        await asyncio.sleep(0.05)
        heard = [e.audio for e in bot.events[0] if isinstance(e, AudioIn)]
        assert all(a.rate == 8000 and a.num_samples == 160 for a in heard)
        heard_pcm = np.concatenate([a.samples() for a in heard])
        assert np.array_equal(heard_pcm, ulaw_decode(sent_mulaw))
        assert np.max(np.abs(heard_pcm.astype(int) - said.samples().astype(int))) <= 512

        # bot ➜ Twilio: media JSON with streamSid and base64 μ-law 8 kHz, one per 20 ms frame.
        for message in tw.messages("event", "media"):
            assert set(message) == {"event", "streamSid", "media"}
            assert message["streamSid"] == tw.stream_sid
            assert set(message["media"]) == {"payload"}
            assert len(base64.b64decode(message["media"]["payload"], validate=True)) == 160
        got = tw.received_audio()
        assert got.num_samples == bot.replies[0].num_samples
        expected = ulaw_decode(ulaw_encode(bot.replies[0].samples()))
        assert np.array_equal(got.samples(), expected)
        assert (
            np.max(np.abs(got.samples().astype(int) - bot.replies[0].samples().astype(int))) <= 512
        )

        # DTMF ➜ transfer: a mark named transfer:<target>, echoed, then a normal close.
        await tw.send_dtmf("0")
        assert await tw.wait_closed() == 1000
        marks = tw.messages("event", "mark")
        assert [m["mark"]["name"] for m in marks] == ["transfer:operator"]
        assert marks[0]["streamSid"] == tw.stream_sid
        await asyncio.wait_for(bot.ended.wait(), 2)

    info = bot.infos[0]
    assert (info.caller, info.called, info.connector) == (CALLER, CALLED, "twilio")
    assert info.call_id == tw.call_sid
    assert info.extra["stream_sid"] == tw.stream_sid
    assert bot.rates == [8000]
    assert DtmfIn("0") in bot.events[0]
    assert not any(isinstance(e, HangupIn) for e in bot.events[0])  # the bot ended it


async def test_barge_in_sends_clear_after_media(session: aiohttp.ClientSession) -> None:
    bot = Bot(reply_ms=60, barge_in=True)
    async with server(bot) as base, TwilioClient.connect(session, base + "/ws/twilio") as tw:
        await tw.begin()
        await tw.send_audio(tone(440, 0.04, rate=8000))
        await tw.wait_until(lambda: bool(tw.messages("event", "clear")))
        events = [m["event"] for m in tw.texts]
        assert events == ["media", "media", "media", "clear"]
        assert tw.texts[-1] == {"event": "clear", "streamSid": tw.stream_sid}
        await tw.send_stop()
        await asyncio.wait_for(bot.ended.wait(), 2)
    assert bot.events[0][-1] == HangupIn("stop")


async def test_transfer_without_mark_echo_closes_after_timeout(
    session: aiohttp.ClientSession,
) -> None:
    bot = Bot()
    async with (
        server(bot, mark_timeout=0.2) as base,
        TwilioClient.connect(session, base + "/ws/twilio", echo_marks=False) as tw,
    ):
        await tw.begin()
        await tw.send_dtmf("9")
        assert await tw.wait_closed() == 1000
        assert [m["mark"]["name"] for m in tw.messages("event", "mark")] == ["hangup"]


@pytest.mark.parametrize("how", ["stop", "close"])
async def test_caller_hangs_up_mid_sentence(session: aiohttp.ClientSession, how: str) -> None:
    done = asyncio.Event()
    seen: list[Any] = []

    async def talker(call: CallTransport) -> None:
        async def speak() -> None:
            for frame in tone(500, 5.0, rate=8000).frames(20):
                await call.play(frame)
                await asyncio.sleep(0.02)

        speaking = asyncio.create_task(speak())
        async for event in call.events():
            seen.append(event)
        speaking.cancel()
        done.set()

    async with server(talker) as base, TwilioClient.connect(session, base + "/ws/twilio") as tw:
        await tw.begin()
        await tw.wait_until(lambda: len(tw.messages("event", "media")) >= 3)
        if how == "stop":
            await tw.send_stop()
        else:
            await tw.ws.close()
        await asyncio.wait_for(done.wait(), 2)
    assert seen == [HangupIn("stop" if how == "stop" else "peer closed")]


def _start_message(tw: TwilioClient) -> dict[str, Any]:
    return {
        "event": "start",
        "sequenceNumber": "1",
        "start": {"streamSid": tw.stream_sid, "callSid": tw.call_sid, "customParameters": {}},
        "streamSid": tw.stream_sid,
    }


BAD_INPUT: dict[str, tuple[bool, Any, int]] = {
    # name: (send start first?, what to send, expected close code)
    "bad json": (True, "{not json", 1007),
    "non-base64 payload": (
        True,
        {"event": "media", "media": {"track": "inbound", "payload": "@@not*base64@@"}},
        1007,
    ),
    "wrong types": (True, {"event": "media", "media": {"payload": 123}}, 1007),
    "bad dtmf digit": (True, {"event": "dtmf", "dtmf": {"digit": "x"}}, 1007),
    "unknown event": (True, {"event": "teleport"}, 1002),
    "oversized message": (True, "x" * (MAX_BYTES + 1), 1009),
    "binary before start": (False, b"\xff" * 160, 1003),
    "media before start": (False, {"event": "media", "media": {"payload": "/w=="}}, 1002),
    "binary after start": (True, b"\xff" * 160, 1003),
    "wrong media format": (False, "bad-format", 1003),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
async def test_malformed_input_ends_only_that_call(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.pbx")
    started, payload, code = BAD_INPUT[case]
    bot = Bot()
    async with server(bot) as base:
        async with TwilioClient.connect(session, base + "/ws/twilio") as good:
            await good.begin(caller=CALLER)  # a call already in progress
            bad_sid = "CA00000000000000000000000000000002"
            bad_client = TwilioClient.connect(session, base + "/ws/twilio", call_sid=bad_sid)
            async with bad_client as bad:
                await bad.send_connected()
                if started:
                    await bad.send_start({"caller": CALLER, "called": CALLED})
                if payload == "bad-format":
                    message = _start_message(bad)
                    message["start"]["mediaFormat"] = {
                        "encoding": "audio/x-l16",
                        "sampleRate": 16000,
                        "channels": 1,
                    }
                    await bad.send_json(message)
                elif isinstance(payload, bytes):
                    await bad.send_bytes(payload)
                elif isinstance(payload, str):
                    await bad.send_text(payload)
                else:
                    await bad.send_json(payload)
                assert await bad.wait_closed() == code
            # the call that was already running still works …
            await good.send_audio(tone(440, 0.04, rate=8000))
            await good.wait_until(lambda: len(good.messages("event", "media")) == 5)
            await good.send_stop()
        # … and so does a new one on the same server.
        async with TwilioClient.connect(session, base + "/ws/twilio") as again:
            await again.begin()
            await again.send_audio(tone(440, 0.04, rate=8000))
            await again.wait_until(lambda: len(again.messages("event", "media")) == 5)
            await again.send_dtmf("0")
            assert await again.wait_closed() == 1000

    if started:
        assert bot.events[1][-1] == HangupIn("protocol error")
    problems = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert "protocol error" in problems[0].getMessage()
    for record in caplog.records:
        assert CALLER not in record.getMessage() and CALLED not in record.getMessage()


async def test_no_start_message_times_out(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.pbx")
    bot = Bot()
    async with (
        server(bot, start_timeout=0.2) as base,
        TwilioClient.connect(session, base + "/ws/twilio") as tw,
    ):
        await tw.send_connected()
        assert await tw.wait_closed() == 1008
    assert bot.infos == []
    assert any("no start message" in r.getMessage() for r in caplog.records)


async def test_plain_http_request_gets_400(session: aiohttp.ClientSession) -> None:
    async with server(Bot()) as base, session.get(base + "/ws/twilio") as response:
        assert response.status == 400


async def test_custom_parameters_from_and_extra(session: aiohttp.ClientSession) -> None:
    bot = Bot()
    async with server(bot) as base, TwilioClient.connect(session, base + "/ws/twilio") as tw:
        await tw.send_connected()
        await tw.send_start({"From": CALLER, "To": CALLED, "branch": "orders"})
        await tw.send_stop()
        await asyncio.wait_for(bot.ended.wait(), 2)
    info = bot.infos[0]
    assert (info.caller, info.called) == (CALLER, CALLED)
    assert info.extra["param.branch"] == "orders"
    assert json.loads(json.dumps(dict(info.extra)))  # plain strings only
