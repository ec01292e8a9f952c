"""Whole typed calls with a real Rasa assistant leading the dialogue (``dialog.engine: rasa``).

The starter assistant (``data/rasa/``, trained from our unchanged ``nlu.yml`` and
``responses.yml``) runs in ``rasa run --enable-api``; its custom actions are our shop
(``python -m bot rasa-actions``); the bot is the channel: it sends each turn with the call's
metadata and carries out the custom payloads.
"""

from __future__ import annotations

import pytest

from nlu.engine import NluEngine
from tests.rasa.calls import of_type, said, text_call
from tests.rasa.conftest import RasaStack

pytestmark = pytest.mark.timeout(900)  # the first test may train the assistant


async def test_a_whole_order_through_the_assistant(rasa_stack: RasaStack, engine: NluEngine) -> None:
    async with text_call(rasa_stack, engine) as (call, db):
        start = await call.start()
        assert of_type(start, "set_caller_name") == [{"type": "set_caller_name", "name": "Иван 2(3)"}]
        assert said(start)[0] == "Здравствуйте, Иван!"
        assert said(start)[1].startswith("Чтобы сделать заказ")
        assert call.runner.expect == "menu"
        await call.say("хочу сделать заказ")
        assert call.runner.expect == "article"
        turn = await call.say("артикул сто двадцать три")
        assert said(turn) == ["Ведро пластиковое 10 л. Сколько штук вам нужно?"]
        assert call.runner.expect == "quantity"
        turn = await call.say("две штуки")
        assert said(turn) == ["Вы хотите заказать 2 штуки?"]
        turn = await call.say("да")
        assert said(turn) == ["Хотите добавить в заказ другой товар?"]
        assert of_type(call.events, "draft")[-1]["items"][0]["quantity"] == 2
        turn = await call.say("нет")
        assert said(turn) == ["Ваш заказ: ведро пластиковое 10 л, 2 штуки. Всё верно?"]
        turn = await call.say("да")
        assert said(turn) == ["Спасибо, ваш заказ принят.", "До свидания!"]
        assert call.ended
        order = of_type(turn, "order")[0]
        assert order["status"] == "принят успешно" and order["caller"] == "9607775577"
        record = await db.load_order(order["order_id"])
        assert record is not None and record.status == "принят успешно"
        assert [(i.article, i.quantity) for i in record.items] == [("123", 2)]
        assert of_type(turn, "hangup") == [{"type": "hangup"}]
