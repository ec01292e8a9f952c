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


async def test_a_whole_order_through_the_assistant(
    rasa_stack: RasaStack, engine: NluEngine
) -> None:
    async with text_call(rasa_stack, engine) as (call, db):
        start = await call.start()
        assert of_type(start, "set_caller_name") == [
            {"type": "set_caller_name", "name": "Иван 2(3)"}
        ]
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


async def test_keypad_only_order(rasa_stack: RasaStack, engine: NluEngine) -> None:
    """Keys go in by what the assistant expects: 1 at the menu is «заказ», digits at the
    article prompt are the article, 1/2 at a question are yes/no."""
    async with text_call(rasa_stack, engine) as (call, _db):
        await call.start()
        assert said(await call.keys("1")) == ["Назовите артикул товара."]
        assert said(await call.keys("1245#")) == ["Швабра с отжимом. Сколько штук вам нужно?"]
        assert said(await call.keys("3#")) == ["Вы хотите заказать 3 штуки?"]
        assert said(await call.keys("1")) == ["Хотите добавить в заказ другой товар?"]
        assert said(await call.keys("2"))[0].startswith("Ваш заказ: швабра с отжимом, 3 штуки.")
        turn = await call.keys("1")
        order = of_type(turn, "order")[0]
        assert order["items"] == [{"article": "1245", "name": "Швабра с отжимом", "quantity": 3}]
        assert call.ended
        texts = [e["text"] for e in call.events if e["type"] == "caller_said"]
        assert texts == ["1", "1245", "3", "1", "2", "1"]


async def test_a_quantity_heard_unsurely_is_asked_for_by_keys(
    rasa_stack: RasaStack, engine: NluEngine
) -> None:
    """As the bot's own dialog: a quantity heard under ``dialog.min_quantity_confidence`` is
    not put to a yes/no question; keyed, or heard again the same, it is confirmed; said
    unsurely with the article, it is asked for after the product's name."""
    keypad = "Мне послышалось: 1 штука. Чтобы не ошибиться, наберите количество на телефоне"
    async with text_call(rasa_stack, engine) as (call, _db):
        await call.start()
        await call.say("хочу сделать заказ")
        turn = await call.say("артикул 1245, две штуки", heard=0.3)
        assert said(turn) == ["Швабра с отжимом. Сколько штук вам нужно?"], "2 was not kept"
        turn = await call.say("1 сет.", heard=0.35)
        assert said(turn)[0].startswith(keypad), said(turn)
        assert call.runner.expect == "quantity"
        assert said(await call.keys("11#")) == ["Вы хотите заказать 11 штук?"]
        assert said(await call.say("нет", heard=0.9))[0].startswith("Назовите количество ещё раз")
        turn = await call.say("1 сет.", heard=0.35)
        assert said(turn)[0].startswith(keypad), said(turn)
        turn = await call.say("1 штука", heard=0.4)
        assert said(turn) == ["Вы хотите заказать 1 штуку?"], "the same number heard again"
        turn = await call.say("да", heard=0.9)
        assert of_type(call.events, "draft")[-1]["items"][0]["quantity"] == 1


async def test_status_then_the_menu(rasa_stack: RasaStack, engine: NluEngine) -> None:
    async with text_call(rasa_stack, engine) as (call, _db):
        await call.start()
        turn = await call.say("какой статус моего заказа")
        assert said(turn)[0] == "Ваш крайний заказ находится в статусе «отправлен»."
        assert said(turn)[1].startswith("Чтобы сделать заказ")
        assert call.runner.expect == "menu" and not call.ended


async def test_operator_means_the_callers_own_manager(
    rasa_stack: RasaStack, engine: NluEngine
) -> None:
    async with text_call(rasa_stack, engine, caller="+79031112233") as (call, _db):
        start = await call.start()
        assert of_type(start, "set_caller_name")[0]["name"] == "Сергей 0(0)"
        turn = await call.say("соедините с оператором")
        assert said(turn) == ["Соединяю с оператором, оставайтесь на линии."]
        assert of_type(turn, "transfer") == [
            {"type": "transfer", "target": "107", "reason": "caller_request"}
        ]
        assert call.ended


async def test_an_unknown_article_three_times_goes_to_an_operator(
    rasa_stack: RasaStack, engine: NluEngine
) -> None:
    async with text_call(rasa_stack, engine, caller="+79260000000") as (call, db):
        start = await call.start()
        assert of_type(start, "set_caller_name")[0]["name"] == "UNKNOWN USER"
        assert said(start)[0] == "Здравствуйте! Вас приветствует интернет-магазин."
        await call.say("хочу заказать")
        assert said(await call.say("артикул девять девять девять девять девять")) == [
            "Не понял, повторите номер артикула товара еще раз."
        ]
        assert said(await call.say("восемь восемь восемь восемь восемь"))[0].startswith(
            "Не понял. Назовите артикул по одной цифре"
        )
        turn = await call.say("семь семь семь семь семь")
        assert of_type(turn, "transfer")[0]["reason"] == "article_not_recognized"
        order = of_type(turn, "order")[0]
        assert order["status"] == "переведен на оператора" and order["items"] == []
        record = await db.load_order(order["order_id"])
        assert record is not None and record.status == "переведен на оператора"


async def test_a_near_article_is_only_offered(rasa_stack: RasaStack, engine: NluEngine) -> None:
    async with text_call(rasa_stack, engine) as (call, _db):
        await call.start()
        await call.say("сделать заказ")
        turn = await call.say("сорок пять тринадцать")
        assert said(turn) == ["Артикул 4512, перчатки хозяйственные резиновые. Верно?"]
        assert call.runner.expect == "yes_no"
        turn = await call.say("да")
        assert said(turn) == ["Перчатки хозяйственные резиновые. Сколько штук вам нужно?"]


async def test_silence_is_the_bots_own_business(rasa_stack: RasaStack, engine: NluEngine) -> None:
    async with text_call(rasa_stack, engine) as (call, _db):
        await call.start()
        await call.say("хочу сделать заказ")
        turn = await call.silence()
        assert said(turn) == ["Вас не слышно.", "Назовите артикул товара."]
        assert call.runner.expect == "article"
        await call.silence()
        turn = await call.silence()
        assert of_type(turn, "transfer")[0]["reason"] == "silence"


async def test_a_hang_up_keeps_the_confirmed_items(
    rasa_stack: RasaStack, engine: NluEngine
) -> None:
    async with text_call(rasa_stack, engine) as (call, db):
        await call.start()
        for text in ("хочу сделать заказ", "артикул 555", "пять штук", "да"):
            await call.say(text)
        turn = await call.hangup()
        order = of_type(turn, "order")[0]
        assert order["status"] == "прерван абонентом"
        assert order["items"] == [{"article": "555", "name": "Щётка для обуви", "quantity": 5}]
        record = await db.load_order(order["order_id"])
        assert record is not None and [i.quantity for i in record.items] == [5]


async def test_the_greeting_scenario_gives_the_call_back(
    rasa_stack: RasaStack, engine: NluEngine
) -> None:
    async with text_call(rasa_stack, engine, scenario="status_only") as (call, _db):
        start = await call.start()
        assert said(start) == [
            "Здравствуйте, Иван!",
            "Ваш крайний заказ находится в статусе «отправлен».",
        ]
        assert of_type(start, "transfer")[0]["reason"] == "status_done"
        assert call.ended


async def test_our_intents_instead_of_rasas(rasa_stack: RasaStack, engine: NluEngine) -> None:
    """``rasa.send: parse``: the bot's own NLU names the intent and the entities."""
    async with text_call(rasa_stack, engine, rasa={"send": "parse"}) as (call, _db):
        await call.start()
        await call.say("хочу сделать заказ")
        turn = await call.say("артикул сто двадцать три, две штуки")
        assert said(turn) == ["Ведро пластиковое 10 л. Вы хотите заказать 2 штуки?"]
        said_events = of_type(call.events, "caller_said")
        assert said_events[-1]["text"] == "артикул сто двадцать три, две штуки"


async def test_again_and_not_understood(rasa_stack: RasaStack, engine: NluEngine) -> None:
    async with text_call(rasa_stack, engine) as (call, _db):
        await call.start()
        await call.say("хочу сделать заказ")
        turn = await call.say("повторите пожалуйста")
        assert said(turn) == ["Назовите артикул товара."] and call.runner.expect == "article"
        turn = await call.say("да")  # no rule for «да» at the article prompt
        assert said(turn)[1:] == ["Назовите артикул товара."]
        assert said(turn)[0] in ("Извините, я не понял.", "Простите, не расслышал.")
        await call.say("да")
        turn = await call.say("да")
        assert of_type(turn, "transfer")[0]["reason"] == "not_understood"
