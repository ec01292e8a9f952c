"""Telphin Call Interactive over a real HTTP server on 127.0.0.1, driven by the fake PBX."""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from connectors.pbx.telphin import (
    UNKNOWN_CALLER_NAME,
    Handler,
    TelphinReply,
    TelphinRequest,
    add_telphin_routes,
    fallback_reply,
    render_reply,
    telphin_handler,
)
from tests.fakes.telphin_client import FakeTelphinPbx, call_params, parse_answer

PATH = "/telphin/interactive"
CALLER = "+74953730763"
FALLBACK = fallback_reply()
FULL_REPLY = TelphinReply(
    caller_name="Иван 2(3)",
    play_urls=["http://127.0.0.1:8080/tts/3f2a.wav", "greeting.wav"],
    variables={"orders_done": "2", "lang": "ru"},
    transfer_to="000*101",
)


class Recorder:
    """A ``decide`` that records what it got and answers a fixed reply."""

    def __init__(self, reply: TelphinReply = FULL_REPLY) -> None:
        self.reply = reply
        self.seen: list[TelphinRequest] = []

    async def __call__(self, request: TelphinRequest) -> TelphinReply:
        self.seen.append(request)
        return self.reply


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    add_telphin_routes(app, PATH, handler)
    # no aiohttp access log here: it writes raw URLs, and the server has its own (bot.logs)
    runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{PATH}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def pbx_for(
    handler: Handler, *, query: str = "", time_limit: float = 5.0
) -> AsyncIterator[FakeTelphinPbx]:
    async with serve(handler) as url, FakeTelphinPbx(url + query, time_limit=time_limit) as pbx:
        yield pbx


def check_fields(seen: TelphinRequest, params: dict[str, str]) -> None:
    assert seen.call_id == params["CallID"]
    assert seen.caller == params["CallerIDNum"]
    assert seen.caller_name == params["CallerIDName"]
    assert seen.called_did == params["CalledDID"]
    assert seen.called_extension == params["CalledExtension"]
    assert seen.raw["CallAPIID"] == params["CallAPIID"]
    assert seen.raw["EventType"] == "call_interactive"


async def test_get_reaches_decide_with_the_fields() -> None:
    decide = Recorder()
    params = call_params(caller=CALLER, caller_name="Иван Петров")
    async with pbx_for(telphin_handler(decide, fallback=FALLBACK)) as pbx:
        answer = await pbx.call(params)
    assert answer.status == 200
    assert answer.content_type == "application/xml"
    assert len(decide.seen) == 1
    check_fields(decide.seen[0], params)


@pytest.mark.parametrize("body_format", ["form", "json", "multipart"])
async def test_post_reaches_decide_with_the_fields(body_format: str) -> None:
    decide = Recorder()
    params = call_params(caller=CALLER, caller_name="Мария «Ромашка» & Co")
    async with pbx_for(telphin_handler(decide, fallback=FALLBACK)) as pbx:
        answer = await pbx.call(params, method="POST", body_format=body_format)
    assert answer.status == 200, answer.body
    check_fields(decide.seen[0], params)


async def test_post_keeps_static_parameters_of_the_url() -> None:
    decide = Recorder()
    async with pbx_for(telphin_handler(decide, fallback=FALLBACK), query="?action=contact") as pbx:
        answer = await pbx.call(call_params(), method="POST")
    assert answer.status == 200
    assert decide.seen[0].raw["action"] == "contact"


async def test_anonymous_caller_is_accepted() -> None:
    decide = Recorder(TelphinReply(caller_name=UNKNOWN_CALLER_NAME))
    async with pbx_for(telphin_handler(decide, fallback=FALLBACK)) as pbx:
        answer = await pbx.call(call_params(caller="", caller_name=""))
    assert decide.seen[0].caller == ""
    assert answer.commands["SetCaller"] == {"name": UNKNOWN_CALLER_NAME, "number": ""}


async def test_answer_is_xml_with_caller_name_sounds_variables_and_transfer() -> None:
    decide = Recorder()
    async with pbx_for(telphin_handler(decide, fallback=FALLBACK)) as pbx:
        answer = await pbx.call(call_params(caller=CALLER))
    root = ET.fromstring(answer.body)  # well-formed
    assert root.tag == "Response"
    assert answer.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    commands = answer.commands
    assert commands["SetCaller"] == {"name": "Иван 2(3)", "number": CALLER}
    assert commands["PlaySound"] == FULL_REPLY.play_urls
    assert commands["SetVar"] == {
        "orders_done": "2",
        "lang": "ru",
        "transferDestination": "000*101",
    }
    assert commands["order"] == [
        "SetCaller",
        "SetVar",
        "SetVar",
        "PlaySound",
        "PlaySound",
        "SetVar",
    ]
    assert commands["Hangup"] is False


async def test_transfer_as_simple_transfer_and_hangup() -> None:
    handler = telphin_handler(Recorder(), fallback=FALLBACK, transfer_variable=None)
    async with pbx_for(handler) as pbx:
        answer = await pbx.call(call_params())
    assert answer.commands["SimpleTransfer"] == ["000*101"]
    assert "transferDestination" not in answer.commands["SetVar"]

    bye = TelphinReply(play_urls=["bye.wav"], hangup=True)
    async with pbx_for(telphin_handler(Recorder(bye), fallback=FALLBACK)) as pbx:
        answer = await pbx.call(call_params())
    assert answer.commands["order"] == ["PlaySound", "Hangup"]
    assert answer.commands["SetCaller"] is None


async def test_names_with_quotes_ampersands_and_cyrillic_are_escaped() -> None:
    name = '"Иван & <Co> 2(3)"'
    value = "a < b && c > d ]]> 'x'"
    decide = Recorder(TelphinReply(caller_name=name, variables={"note": value}))
    async with pbx_for(telphin_handler(decide, fallback=FALLBACK)) as pbx:
        answer = await pbx.call(call_params())
    assert b"&quot;" in answer.body and b"&amp;" in answer.body and b"&lt;Co&gt;" in answer.body
    assert "Иван".encode() in answer.body  # UTF-8, not character references
    assert answer.caller_name == name
    assert answer.commands["SetVar"]["note"] == value


def test_render_reply_cleans_what_xml_cannot_carry() -> None:
    reply = TelphinReply(caller_name="Иван\n\x00 2(3)\x07", variables={"v": "a\x1bb\nc"})
    body = render_reply(reply, caller_number="+7\t495")
    commands = parse_answer(body)
    assert commands["SetCaller"] == {"name": "Иван 2(3)", "number": "+7 495"}
    assert commands["SetVar"]["v"] == "ab\nc"
    empty = ET.fromstring(render_reply(TelphinReply()))
    assert empty.tag == "Response" and len(empty) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"transfer_to": "101", "hangup": True},
        {"transfer_to": "1 01"},
        {"transfer_to": ""},
        {"variables": {"bad name": "x"}},
        {"variables": {"1st": "x"}},
        {"play_urls": [" "]},
    ],
)
def test_invalid_replies_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TelphinReply(**kwargs)


def test_handler_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        telphin_handler(Recorder(), fallback=FALLBACK, time_limit=1.0, margin=1.0)
    with pytest.raises(ValueError):
        telphin_handler(Recorder(), fallback=FALLBACK, transfer_variable="no such")


async def test_slow_decide_gets_the_fallback_within_the_time_limit() -> None:
    cancelled = asyncio.Event()

    async def slow(request: TelphinRequest) -> TelphinReply:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return FULL_REPLY

    handler = telphin_handler(slow, fallback=FALLBACK, time_limit=0.8, margin=0.3)
    async with pbx_for(handler, time_limit=0.8) as pbx:
        answer = await pbx.call(call_params(caller=CALLER))
    assert answer.status == 200
    assert answer.elapsed < 0.8
    assert answer.commands["SetCaller"] == {"name": UNKNOWN_CALLER_NAME, "number": CALLER}
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_decide_that_ignores_cancellation_does_not_delay_the_answer() -> None:
    async def stubborn(request: TelphinRequest) -> TelphinReply:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await asyncio.sleep(0.5)  # swallows the cancellation and goes on for a while
        return FULL_REPLY

    handler = telphin_handler(stubborn, fallback=FALLBACK, time_limit=0.6, margin=0.2)
    async with pbx_for(handler, time_limit=0.6) as pbx:
        answer = await pbx.call(call_params())
        assert answer.elapsed < 0.6
        assert answer.caller_name == UNKNOWN_CALLER_NAME
        again = await pbx.call(call_params(call_id="second"))  # still serving
        assert again.status == 200


async def test_failing_decide_gets_the_fallback(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(request: TelphinRequest) -> TelphinReply:
        raise RuntimeError("shop database is down")

    async def wrong_type(request: TelphinRequest) -> Any:
        return {"caller_name": "Иван"}

    async def invalid(request: TelphinRequest) -> TelphinReply:
        return TelphinReply(transfer_to="101", hangup=True)  # raises ValueError

    caplog.set_level(logging.INFO, logger="connectors.pbx.telphin")
    for decide in (broken, wrong_type, invalid):
        async with pbx_for(telphin_handler(decide, fallback=FALLBACK)) as pbx:
            answer = await pbx.call(call_params(caller=CALLER))
        assert answer.status == 200
        assert answer.commands["SetCaller"] == {"name": UNKNOWN_CALLER_NAME, "number": CALLER}
    outcomes = [getattr(r, "outcome", None) for r in caplog.records]
    assert outcomes.count("error") == 3


def oversized_chunks() -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        yield b"CallID=1&CallerIDNum=2&"
        for _ in range(8):
            yield b"Padding=" + b"x" * 500 + b"&"

    return gen()


BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("GET", {"params": {"CallerIDNum": CALLER}}, "CallID"),
    ("GET", {"params": {"CallID": "abc"}}, "CallerIDNum"),
    ("GET", {"params": call_params(EventType="hangup")}, "EventType"),
    ("POST", {"data": {"CallerIDNum": CALLER}}, "CallID"),
    ("POST", {"data": call_params(Padding="x" * 5000)}, "larger than"),
    ("POST", {"data": oversized_chunks}, "larger than"),
    (
        "POST",
        {"data": b'{"CallID": "abc", ', "headers": {"Content-Type": "application/json"}},
        "JSON",
    ),
    ("POST", {"data": b'["CallID"]', "headers": {"Content-Type": "application/json"}}, "object"),
    (
        "POST",
        {"data": b'{"CallID": {"x": 1}}', "headers": {"Content-Type": "application/json"}},
        "string or a number",
    ),
    (
        "POST",
        {
            "data": b"CallID=1&CallerIDName=\xff\xfe",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        "utf-8",
    ),
]


@pytest.mark.parametrize(("method", "request_kwargs", "message"), BROKEN)
async def test_broken_requests_get_400_and_the_server_keeps_serving(
    method: str, request_kwargs: dict[str, Any], message: str
) -> None:
    decide = Recorder()
    handler = telphin_handler(decide, fallback=FALLBACK, max_body=1024)
    kwargs = dict(request_kwargs)
    if callable(kwargs.get("data")):
        kwargs["data"] = kwargs["data"]()
    async with pbx_for(handler) as pbx:
        answer = await pbx.send(method, **kwargs)
        assert answer.status == 400
        assert message in answer.body.decode()
        assert decide.seen == []
        good = await pbx.call(call_params())
        assert good.status == 200
        assert len(decide.seen) == 1


async def test_logs_keep_phone_numbers_and_names_out_of_the_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(request: TelphinRequest) -> TelphinReply:
        raise RuntimeError("boom")

    caplog.set_level(logging.DEBUG, logger="connectors.pbx.telphin")
    params = call_params(caller=CALLER, caller_name="Иван Петров", call_id="c-42")
    for decide in (Recorder(), broken):
        async with pbx_for(telphin_handler(decide, fallback=FALLBACK)) as pbx:
            await pbx.call(params)
            await pbx.send("GET", params={"CallerIDNum": CALLER})
    assert caplog.records
    for record in caplog.records:
        text = record.getMessage() + (caplog.text or "")
        assert "4953730763" not in text and "Петров" not in text
    assert any(getattr(r, "call_id", None) == "c-42" for r in caplog.records)
    request = TelphinRequest(call_id="c-42", caller=CALLER, caller_name="Иван Петров")
    assert "4953730763" not in repr(request) and "Петров" not in repr(request)
