"""Rasa as the NLU engine (with our dialogue), and our actions for a channel that is not ours."""

from __future__ import annotations

import aiohttp
import pytest
import sqlalchemy as sa

from bot.rasa.client import RasaClient
from bot.rasa.settings import RasaSettings
from connectors.shop import schema
from connectors.shop.database import ShopDatabase
from connectors.shop.settings import ShopSettings
from nlu.engine import NluEngine
from tests.rasa.calls import of_type, rasa_nlu, said, text_call
from tests.rasa.conftest import RasaStack

pytestmark = pytest.mark.timeout(900)  # the first test may train the assistant


async def test_rasa_parses_and_our_numbers_normalise(
    rasa_stack: RasaStack, engine: NluEngine
) -> None:
    settings = RasaSettings(url=rasa_stack.rasa_url)
    raw = await RasaClient(settings).parse("артикул сто двадцать три две штуки")
    assert {e["entity"]: e["value"] for e in raw["entities"]}["article"] == "сто двадцать три"
    nlu = rasa_nlu(engine, settings)
    parse, fell_back = await nlu.understand("артикул сто двадцать три две штуки", "article")
    assert not fell_back
    assert parse.intent == "inform"
    assert parse.confidence == pytest.approx(raw["intent"]["confidence"])
    article = parse.first("article")
    assert article is not None and (article.value, article.match) == ("123", "exact")
    assert parse.values("quantity") == ["2"]
    parse, _ = await nlu.understand("пять штук", "quantity")
    assert parse.values("quantity") == ["5"]
    parse, _ = await nlu.understand("соедините с оператором")
    assert parse.intent == "ask_operator"


async def test_a_whole_order_with_rasa_nlu_and_our_dialogue(
    rasa_stack: RasaStack, engine: NluEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    parse = RasaClient.parse

    async def counting(self: RasaClient, text: str) -> dict[str, object]:
        asked.append(text)
        return await parse(self, text)

    monkeypatch.setattr(RasaClient, "parse", counting)
    turns = ["хочу сделать заказ", "артикул один два три", "две штуки", "да", "нет", "да"]
    async with text_call(rasa_stack, engine, nlu="rasa", dialog="embedded") as (call, db):
        await call.start()
        for text in turns:
            await call.say(text)
        assert asked == turns
        intents = [e["intent"] for e in of_type(call.events, "caller_said")]
        assert intents == ["make_order", "inform", "inform", "affirm", "deny", "affirm"]
        assert not of_type(call.events, "nlu_fallback")
        order = of_type(call.events, "order")[0]
        assert order["status"] == "принят успешно"
        assert order["items"] == [
            {"article": "123", "name": "Ведро пластиковое 10 л", "quantity": 2}
        ]
        assert said(call.events)[-1] == "До свидания!" and call.ended
        assert await db.load_order(order["order_id"]) is not None


async def test_our_actions_save_the_order_for_another_channel(rasa_stack: RasaStack) -> None:
    """No metadata of ours (``rasa shell``, a web chat, Twilio Voice): Rasa's own phrases,
    the caller from the sender, and the order saved by the action server with its e-mail."""
    sender = "+79607775577"
    url = rasa_stack.rasa_url + "/webhooks/rest/webhook"

    async def say(message: str) -> list[dict[str, object]]:
        async with aiohttp.ClientSession() as session:
            body = {"sender": sender, "message": message}
            async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(10)) as r:
                assert r.status == 200
                answer = await r.json()
        assert isinstance(answer, list)
        return answer

    start = await say("/call_start")
    texts = [m["text"] for m in start if "text" in m]
    assert texts[0] == "Здравствуйте, Иван!" and texts[1].startswith("Чтобы сделать заказ")
    assert {"set_caller_name": "Иван 2(3)"} in [m.get("custom") for m in start]
    await say("хочу сделать заказ")
    answer = await say("артикул сто двадцать три")
    assert [m.get("text") for m in answer if "text" in m] == [
        "Ведро пластиковое 10 л. Сколько штук вам нужно?"
    ]
    for message in ("три штуки", "да", "нет"):
        await say(message)
    answer = await say("да")
    assert [m["text"] for m in answer if "text" in m] == [
        "Спасибо, ваш заказ принят.",
        "До свидания!",
    ]
    assert {"hangup": True} in [m.get("custom") for m in answer]
    assert not [m for m in answer if isinstance(m.get("custom"), dict) and "order" in m["custom"]]

    db = await ShopDatabase.open(ShopSettings(url=rasa_stack.shop_url))
    try:
        orders = schema.bot_orders
        query = sa.select(orders.c.id, orders.c.status).where(orders.c.call_key.like(f"%/{sender}"))
        rows = await db.read(lambda conn: conn.execute(query).all())
        assert [status for _, status in rows] == ["принят успешно"]
        record = await db.load_order(rows[0][0])
        assert record is not None and record.caller == "9607775577"
        assert [(i.article, i.quantity) for i in record.items] == [("123", 3)]
        queued = [e for e in await db.outbox_entries() if e.order_id == rows[0][0]]
        assert len(queued) == 1, "the order's e-mail is in the outbox"
    finally:
        await db.close()
