"""The action runner: what it carries out, the events it emits, and a failed order save."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.action_runner import ActionRunner
from bot.call_context import console_context
from bot.events import CallEvent, EventBus
from dialogs.config import DialogSettings
from dialogs.expect import Expect
from dialogs.policy import DialogPolicy
from dialogs.responses import Responses
from nlu.engine import NluEngine
from tests.conftest import ROOT
from tests.fakes.shop_ports import MemoryOrders, MemoryShop


@dataclass
class RecordingEffects:
    done: list[tuple[str, ...]] = field(default_factory=list)

    async def say(self, text: str, key: str, interruptible: bool) -> None:
        self.done.append(("say", key, "interruptible" if interruptible else "whole"))

    async def listen(self, expect: Expect) -> None:
        self.done.append(("listen", expect))

    async def set_caller_name(self, name: str) -> None:
        self.done.append(("caller_name", name))

    async def transfer(self, target: str, reason: str) -> None:
        self.done.append(("transfer", target, reason))

    async def hang_up(self) -> None:
        self.done.append(("hang_up",))


def make_runner(orders: MemoryOrders) -> tuple[ActionRunner, RecordingEffects, list[CallEvent]]:
    context = console_context("+79607775577", "78123098635")
    responses = Responses.load(ROOT / "data" / "responses.yml")
    policy = DialogPolicy(context, MemoryShop().ports(), responses, DialogSettings())
    bus = EventBus(context.call_id)
    events: list[CallEvent] = []
    bus.subscribe(events.append)
    effects = RecordingEffects()
    return ActionRunner(policy, effects, orders, bus), effects, events


async def order(runner: ActionRunner, engine: NluEngine, turns: list[str]) -> None:
    await runner.start()
    for text in turns:
        await runner.said(engine.parse(text, runner.expect), source="text")


TURNS = ["заказ", "артикул сто двадцать три", "две штуки", "да", "нет", "да"]


async def test_the_runner_carries_out_an_order_and_emits_one_event_each(
    engine: NluEngine,
) -> None:
    orders = MemoryOrders()
    runner, effects, events = make_runner(orders)
    await order(runner, engine, TURNS)
    assert runner.ended
    assert effects.done[0] == ("caller_name", "Иван 2(3)")
    assert ("listen", "article") in effects.done and ("listen", "quantity") in effects.done
    assert effects.done[-1] == ("hang_up",)
    assert ("say", "utter_goodbye", "whole") in effects.done, "a goodbye is not interruptible"
    assert [(i.article, i.quantity) for i in orders.drafts[0].items] == [("123", 2)]
    assert orders.saved[0].status == "принят успешно" and runner.order_ids == [1]
    kinds = [e.type for e in events]
    assert kinds[0] == "call_started" and kinds.count("caller_said") == len(TURNS)
    assert kinds.count("say") == sum(1 for d in effects.done if d[0] == "say")
    assert kinds.index("draft") < kinds.index("order") < kinds.index("hangup")
    assert all(e.call_id == runner.call_id for e in events)
    assert [e.t for e in events] == sorted(e.t for e in events)


async def test_an_order_the_database_refuses_ends_with_an_apology_and_an_operator(
    engine: NluEngine,
) -> None:
    orders = MemoryOrders()
    runner, effects, events = make_runner(orders)
    await order(runner, engine, TURNS[:5])
    orders.fail = True
    await runner.said(engine.parse("да", runner.expect), source="text")
    said = [d[1] for d in effects.done if d[0] == "say"]
    assert said[-1] == "utter_save_failed" and "utter_order_accepted" not in said
    assert "utter_goodbye" not in said, "no goodbye: the caller is not left alone"
    assert effects.done[-1] == ("transfer", "operator", "error")
    failed = [e for e in events if e.type == "order_failed"]
    assert len(failed) == 1 and failed[0].to_json()["reason"] == "OSError"
    assert not any(e.type == "order" for e in events)


def test_the_policy_s_actions_are_carried_out_in_one_module_only() -> None:
    """``grep``: only the action runner looks at what kind of action the policy decided."""
    pattern = re.compile(r"isinstance\(\s*action\b|case (Say|Listen|Transfer|Hangup|SubmitOrder)\(")
    found = set()
    for folder in ("bot", "connectors", "speech", "nlu"):
        for path in (ROOT / folder).rglob("*.py"):
            if pattern.search(path.read_text("utf-8")):
                found.add(path.relative_to(ROOT).as_posix())
    assert found == {"bot/action_runner.py"}
