"""The policy on its own (no shop database): drafts, a failed save, read-back off, consent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from dialogs.actions import (
    Action,
    CallStarted,
    KeysPressed,
    Listen,
    OrderNotSaved,
    SaveDraft,
    Say,
    SubmitOrder,
    Transfer,
    UserSaid,
    action_to_json,
)
from dialogs.config import DialogSettings
from dialogs.context import CallContext
from dialogs.policy import RESPONSES, DialogPolicy
from dialogs.ports import ShopPorts
from dialogs.responses import Responses
from nlu.engine import NluEngine
from nlu.types import Parse
from tests.conftest import DEMO_ARTICLES, ROOT


@dataclass(frozen=True, slots=True)
class Item:
    article: str
    name: str
    unit: str = "шт"


CATALOG = {
    a.article: a
    for a in (
        Item("4512", "Перчатки хозяйственные"),
        Item("1245", "Швабра с отжимом"),
        Item("123", "Ведро пластиковое 10 л"),
    )
}


@dataclass(frozen=True, slots=True)
class Summary:
    person: str | None = None
    total: int = 0
    done: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    first_name: str | None = None
    certain: bool = False


class Shop:
    async def find_article(self, article: str) -> Item | None:
        return CATALOG.get(article)

    async def orders_summary(self, phone10: str) -> Summary:
        return Summary()

    async def user_name(self, phone10: str) -> str | None:
        return None

    async def last_order_status(self, phone10: str) -> str | None:
        return None

    async def clean(self, raw: str) -> Verdict:
        return Verdict()


class Call:
    def __init__(self, engine: NluEngine, **settings: object) -> None:
        shop = Shop()
        self.engine = engine
        self.policy = DialogPolicy(
            CallContext("call-1", "9607775577", "78123098635"),
            ShopPorts(catalog=shop, customers=shop, names=shop),
            Responses.load(ROOT / "data" / "responses.yml"),
            replace(DialogSettings(scenario="order"), **settings),  # type: ignore[arg-type]
        )
        self.actions: list[Action] = []

    async def start(self) -> list[Action]:
        return await self._step(CallStarted())

    async def say(self, text: str) -> list[Action]:
        return await self._step(UserSaid(self.engine.parse(text, self.policy.expect)))

    async def keys(self, digits: str) -> list[Action]:
        return await self._step(KeysPressed(digits))

    async def _step(self, event: object) -> list[Action]:
        actions = await self.policy.step(event)  # type: ignore[arg-type]
        self.actions += actions
        return actions


@pytest.fixture
def nlu(engine: NluEngine) -> Iterator[NluEngine]:
    engine.set_articles(CATALOG)
    yield engine
    engine.set_articles(DEMO_ARTICLES)


def keys_of(actions: list[Action]) -> list[str]:
    return [a.key for a in actions if isinstance(a, Say)]


def drafts(actions: list[Action]) -> list[list[tuple[str, int]]]:
    return [
        [(i.article, i.quantity) for i in a.order.items]
        for a in actions
        if isinstance(a, SaveDraft)
    ]


async def order_two_items(call: Call) -> None:
    await call.start()
    await call.say("артикул 4512")
    await call.say("две штуки")
    await call.say("да")
    await call.say("да, артикул 1245")
    await call.say("одну")
    await call.say("да")


def test_every_phrase_the_policy_uses_is_in_responses_yml() -> None:
    Responses.load(ROOT / "data" / "responses.yml").require(RESPONSES)


async def test_a_draft_after_every_change_of_the_confirmed_items(nlu: NluEngine) -> None:
    call = Call(nlu)
    await order_two_items(call)
    assert drafts(call.actions) == [[("4512", 2)], [("4512", 2), ("1245", 1)]]
    await call.say("нет")  # no more ➜ read back
    await call.say("нет")  # not right ➜ what to fix
    await call.keys("2")  # drop
    dropped = await call.keys("1")  # the first one
    assert drafts(dropped) == [[("1245", 1)]]
    draft = next(a for a in dropped if isinstance(a, SaveDraft))
    assert draft.order.status == DialogSettings().status_draft
    assert action_to_json(draft)["type"] == "draft"
    assert action_to_json(draft)["items"] == [
        {"article": "1245", "name": "Швабра с отжимом", "quantity": 1}
    ]
    await call.say("нет")  # read back again: not right
    await call.say("количество")  # one item: straight to its quantity
    await call.say("три")
    changed = await call.say("да")
    assert drafts(changed) == [[("1245", 3)]]
    saved = await call.say("да")
    submits = [a for a in saved if isinstance(a, SubmitOrder)]
    assert [(i.article, i.quantity) for i in submits[0].order.items] == [("1245", 3)]


async def test_no_draft_while_nothing_is_confirmed(nlu: NluEngine) -> None:
    call = Call(nlu)
    await call.start()
    await call.say("артикул 4512")
    await call.say("две")
    await call.say("нет")
    assert drafts(call.actions) == []


async def test_order_not_saved_apologises_and_hands_over_even_after_goodbye(
    nlu: NluEngine,
) -> None:
    call = Call(nlu)
    await order_two_items(call)
    await call.say("нет")
    ended = await call.say("да")
    assert any(isinstance(a, SubmitOrder) for a in ended) and call.policy.ended
    answer = await call.policy.step(OrderNotSaved("database is locked"))
    assert keys_of(answer) == ["utter_save_failed"]
    assert isinstance(answer[0], Say) and not answer[0].interruptible
    assert isinstance(answer[-1], Transfer) and answer[-1].reason == "error"
    assert answer[-1].target == DialogSettings().operator
    assert await call.policy.step(OrderNotSaved()) == []  # once


async def test_read_back_off_saves_at_once(nlu: NluEngine) -> None:
    call = Call(nlu, read_back=False)
    await order_two_items(call)
    end = await call.say("нет")
    assert keys_of(end) == ["utter_order_accepted", "utter_goodbye"]
    assert any(isinstance(a, SubmitOrder) for a in end)


async def test_read_back_agrees_numbers(nlu: NluEngine) -> None:
    call = Call(nlu)
    await order_two_items(call)
    back = await call.say("нет")
    text = next(a.text for a in back if isinstance(a, Say))
    assert text == (
        "Ваш заказ: перчатки хозяйственные, 2 штуки; швабра с отжимом, 1 штука. Всё верно?"
    )
    assert [a.expect for a in back if isinstance(a, Listen)] == ["yes_no"]


async def test_a_near_article_is_never_taken_without_yes(nlu: NluEngine) -> None:
    for answer in ("нет", "не знаю", "повторите"):
        call = Call(nlu)
        await call.start()
        offer = await call.say("сорок пять тринадцать")
        assert keys_of(offer) == ["utter_confirm_article"]
        assert call.policy.expect == "yes_no"
        await call.say(answer)
        assert call.policy.product is None, answer
        assert call.policy.state != "quantity", answer


async def test_too_low_a_confidence_is_not_even_offered(nlu: NluEngine) -> None:
    call = Call(nlu, min_article_confidence=0.9)
    await call.start()
    assert keys_of(await call.say("сорок пять тринадцать")) == ["utter_article_not_found"]


async def test_the_policy_tells_what_it_expects(nlu: NluEngine) -> None:
    call = Call(nlu)
    await call.start()
    assert call.policy.expect == "article"
    await call.say("артикул 123")
    assert call.policy.expect == "quantity"
    await call.say("две")
    assert call.policy.expect == "yes_no"


async def test_an_unsure_goodbye_does_not_end_the_call(nlu: NluEngine) -> None:
    call = Call(nlu)
    await call.start()
    await call.say("артикул 4512")
    misheard = Parse("Сим", "goodbye", 0.475)  # «семь», as Whisper wrote it
    answer = await call._step(UserSaid(misheard))
    assert keys_of(answer) == ["utter_ask_quantity_again"]
    assert not call.policy.ended
    farewell = await call._step(UserSaid(Parse("я передумал, до свидания", "goodbye", 0.62)))
    assert "utter_goodbye" in keys_of(farewell) and call.policy.ended
    sure = Call(nlu)
    await sure.start()
    await sure.say("артикул 4512")
    assert "utter_goodbye" in keys_of(await sure._step(UserSaid(Parse("пока", "goodbye", 0.94))))
