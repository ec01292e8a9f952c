"""One call on the text path: typed words ➜ NLU ➜ the action runner ➜ call events.

The console and the dialog tests drive this; the voice session (``bot/session.py``) uses the
same runner with audio around it. Every call event goes to ``sink`` (the console prints them);
each method returns the events of what the bot did in that turn (``say``, ``set_caller_name``,
``order``, ``transfer``, ``hangup``), as JSON dicts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from bot.action_runner import ActionRunner, Orders
from bot.events import CallEvent, EventBus
from bot.orders import DurableOrders
from bot.rasa.engines import build_policy
from bot.rasa.nlu import understand
from bot.rasa.settings import RasaSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.order_store import OrderStore
from dialogs.config import DialogSettings
from dialogs.context import CallContext
from dialogs.expect import Expect
from dialogs.ports import ShopPorts
from dialogs.responses import Responses
from nlu.engine import NluEngine

log = logging.getLogger(__name__)
EventSink = Callable[[dict[str, Any]], None]


class TextEffects:
    """The console has no audio and no PBX: what the bot says is the ``say`` event itself."""

    async def say(self, text: str, key: str, interruptible: bool) -> None:
        return None

    async def listen(self, expect: Expect) -> None:
        return None

    async def set_caller_name(self, name: str) -> None:
        return None

    async def transfer(self, target: str, reason: str) -> None:
        return None

    async def hang_up(self) -> None:
        return None


class TextConversation:
    def __init__(
        self,
        context: CallContext,
        nlu: NluEngine,
        db: ShopDatabase,
        ports: ShopPorts,
        responses: Responses,
        settings: DialogSettings,
        sink: EventSink | None = None,
        orders: Orders | None = None,
        rasa: RasaSettings | None = None,
    ) -> None:
        self.context = context
        self.nlu = nlu
        self.db = db
        self.sink = sink
        self.bus = EventBus(context.call_id)
        self.bus.subscribe(self._emit)
        policy = build_policy(context, ports, responses, settings, rasa)  # by dialog.engine
        orders = orders if orders is not None else DurableOrders(OrderStore(db))
        self.runner = ActionRunner(policy, TextEffects(), orders, self.bus)
        self.policy = policy
        self.events: list[dict[str, Any]] = []
        self.reported: set[int] = set()  # orders whose e-mail outcome was shown

    @property
    def ended(self) -> bool:
        return self.runner.ended

    @property
    def order_ids(self) -> list[int]:
        return self.runner.order_ids

    async def start(self) -> list[dict[str, Any]]:
        return _json(await self.runner.start())

    async def say(self, text: str, heard: float | None = None) -> list[dict[str, Any]]:
        """One typed turn; with ``heard``, as if a recognizer had written ``text`` with that
        confidence (dialog tests of what the bot does with unsure speech)."""
        parse = await understand(self.nlu, text, self.runner.expect, self.bus)
        if heard is None:
            return _json(await self.runner.said(parse, source="text"))
        parse = dataclasses.replace(parse, heard_confidence=heard)
        return _json(await self.runner.said(parse, source="speech"))

    async def keys(self, digits: str) -> list[dict[str, Any]]:
        return _json(await self.runner.keys(digits.strip().rstrip("#")))

    async def silence(self) -> list[dict[str, Any]]:
        return _json(await self.runner.silence())

    async def hangup(self) -> list[dict[str, Any]]:
        events = _json(await self.runner.caller_hung_up())
        self.end("caller_hangup")
        return events

    def end(self, reason: str = "") -> None:
        self.runner.end(reason or self._reason())

    def _reason(self) -> str:
        for event in reversed(self.events):
            if event["type"] == "transfer":
                return f"transfer:{event['reason']}"
            if event["type"] == "hangup":
                return "bot_hangup" if "by" not in event else "caller_hangup"
        return "console_closed"

    def _emit(self, event: CallEvent) -> None:
        data = event.to_json()
        self.events.append(data)
        if self.sink is not None:
            self.sink(data)


def _json(events: list[CallEvent]) -> list[dict[str, Any]]:
    return [e.to_json() for e in events]
