"""The one action runner: the policy's actions carried out for every front end.

A front end (voice session, text console, Telphin webhook, …) owns the I/O of its calls and
implements the small :class:`Effects` port: say, listen, set the caller name, transfer, hang
up. It hands the caller's input to the runner (:meth:`ActionRunner.said`, ``keys``,
``silence``, ``caller_hung_up``, ``hand_off``); the runner steps the policy and carries out
what it decided, in order, emitting one call event per thing done (:mod:`bot.events`). Orders
are saved here and nowhere else, through the :class:`Orders` port: every change of the
confirmed items at once as a draft (``SaveDraft``), the finished order at the end
(``SubmitOrder``). When the finished order cannot be saved, the rest of the policy's actions
(the thanks, the goodbye) are not carried out: the policy is told (``OrderNotSaved``) and
answers with an apology and a transfer (reason ``error``); the order waits in the store's
journal. A failed draft is logged and the call goes on (the final save will tell).

No other module interprets the policy's actions.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from bot.events import (
    BotSaid,
    CallBegan,
    CallEnded,
    CallerNameSet,
    CallerSaid,
    CallEvent,
    DraftSaved,
    EventBus,
    HungUp,
    OrderFailed,
    OrderSaved,
    Transferred,
)
from dialogs.actions import (
    Action,
    CallerHungUp,
    CallStarted,
    Event,
    HandOff,
    Hangup,
    KeysPressed,
    Listen,
    Order,
    OrderNotSaved,
    SaveDraft,
    Say,
    SetCallerName,
    Silence,
    SubmitOrder,
    Transfer,
    UserSaid,
)
from dialogs.config import DialogSettings
from dialogs.context import CallContext
from dialogs.expect import Expect
from nlu.types import Parse

log = logging.getLogger(__name__)


class Policy(Protocol):
    """What the runner steps: :class:`~dialogs.policy.DialogPolicy` (embedded) or
    :class:`~bot.rasa.policy.RasaPolicy` (``dialog.engine: rasa``)."""

    @property
    def context(self) -> CallContext: ...

    @property
    def settings(self) -> DialogSettings: ...

    @property
    def ended(self) -> bool: ...

    @property
    def expect(self) -> Expect: ...

    async def step(self, event: Event) -> list[Action]: ...


class Effects(Protocol):
    """What a front end does for the runner (all may be no-ops where the medium has none)."""

    async def say(self, text: str, key: str, interruptible: bool) -> None: ...

    async def listen(self, expect: Expect) -> None: ...

    async def set_caller_name(self, name: str) -> None: ...

    async def transfer(self, target: str, reason: str) -> None: ...

    async def hang_up(self) -> None: ...


class Orders(Protocol):
    """Where orders go (the shop database). Both raise when the order could not be written
    (the store keeps it in its journal then)."""

    async def save_draft(self, call_id: str, order: Order) -> int: ...

    async def submit(self, call_id: str, order: Order) -> int: ...


def order_items(order: Order) -> tuple[dict[str, object], ...]:
    return tuple(
        {"article": i.article, "name": i.name, "quantity": i.quantity} for i in order.items
    )


class ActionRunner:
    def __init__(self, policy: Policy, effects: Effects, orders: Orders, bus: EventBus) -> None:
        self.policy = policy
        self.effects = effects
        self.orders = orders
        self.bus = bus
        self.call_id = policy.context.call_id
        self.order_ids: list[int] = []
        self.policy_s = 0.0  # how long the last policy step took
        self._finished = False  # a transfer or hang-up was carried out
        self._failure = ""  # why the last save failed
        self._ended_reason = ""

    @property
    def expect(self) -> Expect:
        """What the dialog waits for (hand it to the NLU and the recognizer)."""
        return self.policy.expect

    @property
    def ended(self) -> bool:
        """The dialog is over: nothing the caller does changes it any more."""
        return self._finished or self.policy.ended

    # -- the caller's side -------------------------------------------------------------------

    async def start(self, *, route: str = "", scenario: str = "") -> list[CallEvent]:
        context = self.policy.context
        self.bus.publish(
            CallBegan(
                connector=context.connector,
                route=route,
                scenario=scenario or self.policy.settings.scenario,
            )
        )
        return await self.step(CallStarted())

    async def said(self, parse: Parse, source: str = "speech") -> list[CallEvent]:
        self.bus.publish(
            CallerSaid(
                text=parse.text, intent=parse.intent, confidence=parse.confidence, source=source
            )
        )
        return await self.step(UserSaid(parse))

    async def keys(self, digits: str) -> list[CallEvent]:
        self.bus.publish(CallerSaid(text=digits, intent="keys", confidence=1.0, source="keys"))
        return await self.step(KeysPressed(digits))

    async def silence(self) -> list[CallEvent]:
        return await self.step(Silence())

    async def caller_hung_up(self) -> list[CallEvent]:
        emitted = await self.step(CallerHungUp())
        emitted.append(self.bus.publish(HungUp(by="caller")))
        return emitted

    async def hand_off(self, reason: str) -> list[CallEvent]:
        """Transfer to a person now (shutdown, maximum call length, engine failure)."""
        return await self.step(HandOff(reason))

    def end(self, reason: str) -> None:
        """The call is over (once): ``call_ended`` with the reason and the call's length."""
        if self._ended_reason:
            return
        self._ended_reason = reason or "unknown"
        self.bus.publish(CallEnded(reason=self._ended_reason, seconds=self.bus.now()))

    # -- carrying out ------------------------------------------------------------------------

    async def step(self, event: Event) -> list[CallEvent]:
        """One policy step; returns the events of what was carried out."""
        started = time.perf_counter()
        actions = await self.policy.step(event)
        self.policy_s = time.perf_counter() - started
        return await self.carry_out(actions)

    async def carry_out(self, actions: list[Action]) -> list[CallEvent]:
        emitted: list[CallEvent] = []
        for action in actions:
            if isinstance(action, Say):
                emitted.append(self.bus.publish(BotSaid(text=action.text, key=action.key)))
                await self.effects.say(action.text, action.key, action.interruptible)
            elif isinstance(action, Listen):
                await self.effects.listen(action.expect)
            elif isinstance(action, SetCallerName):
                emitted.append(self.bus.publish(CallerNameSet(name=action.name)))
                await self.effects.set_caller_name(action.name)
            elif isinstance(action, SaveDraft):
                event = await self._save(action.order, draft=True)
                if event is not None:
                    emitted.append(event)
            elif isinstance(action, SubmitOrder):
                event = await self._save(action.order, draft=False)
                if event is None:  # not saved: the policy apologises and hands off
                    reason = self._failure or "error"
                    return [*emitted, *await self.step(OrderNotSaved(reason))]
                emitted.append(event)
            elif isinstance(action, Transfer):
                event = Transferred(target=action.target, reason=action.reason)
                emitted.append(self.bus.publish(event))
                self._finished = True
                await self.effects.transfer(action.target, action.reason)
            elif isinstance(action, Hangup):
                emitted.append(self.bus.publish(HungUp(by="bot")))
                self._finished = True
                await self.effects.hang_up()
        return emitted

    async def _save(self, order: Order, *, draft: bool) -> CallEvent | None:
        """Save a draft or the finished order; ``None`` (and an ``order_failed`` event) when
        the store could not."""
        try:
            if draft:
                order_id = await self.orders.save_draft(self.call_id, order)
            else:
                order_id = await self.orders.submit(self.call_id, order)
        except Exception as exc:
            self._failure = getattr(exc, "cause", "") or type(exc).__name__
            log.error(
                "saving the order failed",
                extra={"call_id": self.call_id, "draft": draft, "error": self._failure},
            )
            self.bus.publish(OrderFailed(reason=self._failure, draft=draft))
            return None
        kind = DraftSaved if draft else OrderSaved
        if not draft and order_id not in self.order_ids:
            self.order_ids.append(order_id)
        return self.bus.publish(
            kind(
                order_id=order_id,
                status=order.status,
                caller=order.caller,
                called=order.called,
                call_time=order.call_time.isoformat(timespec="seconds"),
                items=order_items(order),
            )
        )
