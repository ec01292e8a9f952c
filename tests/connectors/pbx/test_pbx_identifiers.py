"""Caller IDs and call ids with control characters are refused at the edge; the outcome of a
call (the one place its result, target, reason and caller name live)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from connectors.pbx.audio_fork import AudioForkTransport
from connectors.pbx.browser import BrowserTransport
from connectors.pbx.telphin import fallback_reply, telphin_handler
from connectors.pbx.transport import CallOutcome
from connectors.pbx.twilio import TwilioTransport
from connectors.pbx.websocket_base import WebSocketTransport, websocket_handler
from tests.connectors.pbx.test_pbx_telphin import Recorder, pbx_for
from tests.fakes.telphin_client import call_params
from tests.fakes.tone_bot import ToneBot
from tests.fakes.ws_clients import serve_app

BAD = ["+7900\n1234567", "79001234567\x1b[2J", "CA1\u2028x", "9" * 200]


def start_message(kind: str, value: str) -> str:
    if kind == "twilio":
        start = {"streamSid": "MZ1", "callSid": "CA1", "customParameters": {"caller": value}}
        return json.dumps({"event": "start", "start": start, "streamSid": "MZ1"})
    if kind == "audio_fork":
        return json.dumps({"callid": value, "from": "79001234567", "sampleRate": 8000})
    return json.dumps({"type": "start", "rate": 16000, "caller": "1", "call_id": value})


@pytest.mark.parametrize(
    "transport", [TwilioTransport, AudioForkTransport, BrowserTransport], ids=lambda t: t.connector
)
@pytest.mark.parametrize("value", BAD, ids=["newline", "escape", "u2028", "long"])
async def test_websocket_start_with_a_bad_identifier_closes_1007(
    transport: type[WebSocketTransport], value: str
) -> None:
    bot = ToneBot()
    handler = websocket_handler(bot, transport, start_timeout=1.0)
    async with (
        serve_app({"/ws": handler}) as base,
        aiohttp.ClientSession() as http,
        http.ws_connect(base + "/ws", protocols=transport.subprotocols) as ws,
    ):
        await ws.send_str(start_message(transport.connector, value))
        message = await ws.receive(timeout=3)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1007
    assert bot.infos == []  # no call started


async def test_a_good_start_still_starts_a_call() -> None:
    bot = ToneBot()
    handler = websocket_handler(bot, BrowserTransport, start_timeout=1.0)
    async with (
        serve_app({"/ws": handler}) as base,
        aiohttp.ClientSession() as http,
        http.ws_connect(base + "/ws") as ws,
    ):
        await ws.send_str(start_message("browser", "call-ЖЖ-1"))  # printable: fine
        await ws.send_str(json.dumps({"type": "stop"}))
        await ws.receive(timeout=3)
    assert [i.call_id for i in bot.infos] == ["call-ЖЖ-1"]


@pytest.mark.parametrize("field", ["CallerIDNum", "CallID", "CalledDID"])
async def test_telphin_identifier_with_a_newline_is_400(field: str) -> None:
    decide = Recorder()
    async with pbx_for(telphin_handler(decide, fallback=fallback_reply())) as pbx:
        answer = await pbx.call(call_params(**{field: "79001234567\n2026 forged"}))
    assert answer.status == 400
    assert decide.seen == []


def test_outcome_result_follows_the_reason() -> None:
    outcome = CallOutcome()
    assert outcome.result == ""
    outcome.caller_name = "Иван 2(3)"
    assert outcome.transfer_to("operator", "engine_error").result == "error"
    outcome.hung_up()  # the transport closes after a transfer: the result stays
    assert (outcome.result, outcome.target, outcome.reason) == ("error", "operator", "engine_error")
    assert outcome.is_error
    assert CallOutcome().transfer_to("101", "caller_request").result == "transfer"
    assert CallOutcome().transfer_to("101").result == "transfer"  # no reason: a plain transfer
    plain = CallOutcome()
    plain.hung_up()
    assert plain.result == "hangup"
    failed = CallOutcome()
    failed.failed("bot_failure")
    assert (failed.result, failed.reason) == ("error", "bot_failure")
