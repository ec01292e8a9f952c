"""When Rasa is down, slow or talks nonsense: the caller is never left alone (no Rasa needed).

A stub HTTP server on loopback plays the broken Rasa; the policy and the NLU engine are the
real ones, run through the real action runner and text conversation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web

from bot.action_runner import ActionRunner
from bot.call_context import console_context
from bot.config import ConfigError, load_settings
from bot.events import EventBus
from bot.metrics import CallMetrics
from bot.rasa.client import RasaUnavailable
from bot.rasa.nlu import RasaNluEngine, keep_engine, understand
from bot.rasa.policy import RasaPolicy
from bot.rasa.settings import RasaSettings
from dialogs.actions import Order
from dialogs.config import DialogSettings
from nlu.engine import NluEngine
from tests.fakes.shop_ports import MemoryOrders
from tests.fakes.smtp_server import free_port
from tests.rasa.calls import RESPONSES, rasa_nlu

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def stub() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """``url = await stub(handler)``: a server answering every request with ``handler``."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def policy_for(url: str, **rasa: Any) -> tuple[ActionRunner, MemoryOrders, list[dict[str, Any]]]:
    context = console_context("+79607775577", "78123098635")
    settings = RasaSettings(url=url, **rasa)
    policy = RasaPolicy(context, RESPONSES, DialogSettings(engine="rasa"), settings)
    events: list[dict[str, Any]] = []
    bus = EventBus(context.call_id)
    bus.subscribe(lambda e: events.append(e.to_json()))
    orders = MemoryOrders()

    class Quiet:
        async def say(self, text: str, key: str, interruptible: bool) -> None: ...
        async def listen(self, expect: str) -> None: ...
        async def set_caller_name(self, name: str) -> None: ...
        async def transfer(self, target: str, reason: str) -> None: ...
        async def hang_up(self) -> None: ...

    return ActionRunner(policy, Quiet(), orders, bus), orders, events


async def test_rasa_down_at_the_call_start_hands_over(engine: NluEngine) -> None:
    runner, _orders, events = policy_for(f"http://127.0.0.1:{free_port()}")
    await runner.start()
    assert [e["key"] for e in events if e["type"] == "say"] == ["utter_transfer"]
    transfer = [e for e in events if e["type"] == "transfer"]
    assert transfer == [{"type": "transfer", "target": "operator", "reason": "rasa_unavailable"}]
    assert runner.ended


async def test_a_slow_assistant_hands_over_in_time_with_the_order_so_far(
    stub: Callable[[Handler], Awaitable[str]],
) -> None:
    turns: list[str] = []

    async def assistant(request: web.Request) -> web.Response:
        body = await request.json()
        turns.append(body["message"])
        if len(turns) == 1:  # the call start: a confirmed item handed over as a draft
            item = {"article": "123", "name": "Ведро", "quantity": 2}
            return web.json_response(
                [
                    {"text": "Хотите ещё?"},
                    {"custom": {"draft": {"items": [item]}, "expect": "yes_no"}},
                ]
            )
        await asyncio.sleep(5)  # then it hangs
        return web.json_response([])

    runner, orders, events = policy_for(await stub(assistant), timeout_s=0.5)
    await runner.start()
    assert runner.expect == "yes_no"
    started = time.monotonic()
    await runner.keys("1")
    assert time.monotonic() - started < 2.0
    assert turns == ["/call_start", "/affirm"]  # a key at a yes/no question is /affirm
    assert [e["reason"] for e in events if e["type"] == "transfer"] == ["rasa_unavailable"]
    final: list[Order] = orders.saved
    assert [o.status for o in final] == ["переведен на оператора"]
    assert [(i.article, i.quantity) for i in final[0].items] == [("123", 2)]


async def test_nonsense_from_rasa_and_empty_answers(
    stub: Callable[[Handler], Awaitable[str]],
) -> None:
    answers = [
        [{"text": "Меню."}, {"custom": {"expect": "menu", "transfer": 5, "colour": "red"}}],
        [],
        [],
        [],
    ]

    async def assistant(request: web.Request) -> web.Response:
        return web.json_response(answers.pop(0))

    runner, _orders, events = policy_for(await stub(assistant))
    await runner.start()
    assert not runner.ended, "a bad transfer payload is skipped, not obeyed"
    await runner.keys("5")
    said = [e["key"] for e in events if e["type"] == "say"]
    assert said == ["", "utter_not_understood", ""], "nothing said: «не понял» and the prompt"
    await runner.keys("5")
    await runner.keys("5")
    assert [e["reason"] for e in events if e["type"] == "transfer"] == ["not_understood"]


async def test_a_broken_body_is_rasa_unavailable(stub: Callable[[Handler], Awaitable[str]]) -> None:
    async def assistant(request: web.Request) -> web.Response:
        return web.Response(text="<html>oops</html>")

    runner, _orders, events = policy_for(await stub(assistant))
    await runner.start()
    assert [e["reason"] for e in events if e["type"] == "transfer"] == ["rasa_unavailable"]


async def test_the_nlu_falls_back_to_the_embedded_model(engine: NluEngine) -> None:
    down = RasaSettings(url=f"http://127.0.0.1:{free_port()}", nlu_timeout_s=0.5)
    nlu = rasa_nlu(engine, down)
    metrics = CallMetrics()
    bus = EventBus("call-1")
    events: list[dict[str, Any]] = []
    bus.subscribe(lambda e: events.append(e.to_json()))
    bus.subscribe(metrics)
    parse = await understand(nlu, "артикул сто двадцать три", "article", bus)
    assert parse.intent == "inform" and parse.values("article") == ["123"]
    assert events == [{"type": "nlu_fallback", "engine": "rasa", "reason": "error"}]
    assert b'bot_nlu_fallbacks_total{engine="rasa",reason="error"} 1.0' in metrics.exposition()
    strict = rasa_nlu(engine, RasaSettings(url=down.url, nlu_fallback=False))
    with pytest.raises(RasaUnavailable):
        await understand(strict, "да", "yes_no", bus)


async def test_the_embedded_engine_is_not_awaited_on(engine: NluEngine) -> None:
    parse = await understand(engine, "две штуки", "quantity")
    assert parse.values("quantity") == ["2"]


def test_keys_by_what_is_expected() -> None:
    context = console_context("+79607775577", "78123098635")
    policy = RasaPolicy(context, RESPONSES, DialogSettings(), RasaSettings())
    assert policy._keys_message("1") == "/make_order"
    assert policy._keys_message("9") == '/keypad{"digits": "9"}'
    policy._expect = "article"
    assert policy._keys_message("0071#") == '/inform{"article": "0071"}'
    policy._expect = "yes_no"
    assert (policy._keys_message("2"), policy._keys_message("12")) == (
        "/deny",
        '/keypad{"digits": "12"}',
    )
    policy.keys_mode = "text"
    assert policy._keys_message("12") == "12"
    meta = policy.metadata(source="keys")
    assert meta["caller"] == "9607775577" and meta["called"] == "78123098635"
    assert meta["channel"] == "ru-voice-shop-bot" and meta["orders_by"] == "channel"
    assert datetime.fromisoformat(meta["started_at"]) == context.started_at.replace(microsecond=0)


def test_the_settings_name_known_engines() -> None:
    settings = load_settings(
        environ={
            "BOT_DIALOG__ENGINE": "rasa",
            "BOT_NLU__ENGINE": "rasa",
            "BOT_RASA__URL": "http://h:1/",
        }
    )
    assert (settings.dialog.engine, settings.nlu.engine, settings.rasa.url) == (
        "rasa",
        "rasa",
        "http://h:1",
    )
    for environ in (
        {"BOT_DIALOG__ENGINE": "watson"},
        {"BOT_NLU__ENGINE": "spacy"},
        {"BOT_RASA__KEYS": "morse"},
        {"BOT_RASA__URL": "ftp://x"},
    ):
        with pytest.raises(ConfigError):
            load_settings(environ=environ)


def test_a_new_embedded_model_keeps_rasa_in_front(engine: NluEngine) -> None:
    current = rasa_nlu(engine, RasaSettings(url="http://127.0.0.1:1"))
    kept = keep_engine(current, engine)
    assert isinstance(kept, RasaNluEngine) and kept.model is engine.model
    assert kept.client is current.client and kept.parse("да", "yes_no").intent == "affirm"
    assert keep_engine(engine, current) is current and keep_engine(engine, engine) is engine
