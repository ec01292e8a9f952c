"""One call on the text path: typed words ➜ NLU ➜ policy ➜ actions carried out.

The console and the dialog tests drive this; the voice session (``bot/session.py``) uses
the same policy with audio around it. Actions are carried out here: ``SubmitOrder``
saves the order (and queues its e-mail in the same transaction), the rest become events.
Events are plain dicts (``{"type": "say", "text": …}``), the console's ``--json`` lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.orders import save_order
from connectors.shop.database import ShopDatabase
from dialogs.actions import (
    Action,
    CallerHungUp,
    CallStarted,
    Event,
    KeysPressed,
    Listen,
    Silence,
    SubmitOrder,
    UserSaid,
    action_to_json,
)
from dialogs.config import DialogSettings
from dialogs.context import CallContext
from dialogs.policy import DialogPolicy
from dialogs.ports import ShopPorts
from dialogs.responses import Responses
from nlu.engine import NluEngine

log = logging.getLogger(__name__)
EventSink = Callable[[dict[str, Any]], None]


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
    ) -> None:
        self.context = context
        self.nlu = nlu
        self.db = db
        self.policy = DialogPolicy(context, ports, responses, settings)
        self.sink = sink
        self.events: list[dict[str, Any]] = []
        self.order_ids: list[int] = []
        self.reported: set[int] = set()  # orders whose e-mail outcome was shown

    @property
    def ended(self) -> bool:
        return self.policy.ended

    async def start(self) -> list[dict[str, Any]]:
        return await self._handle(CallStarted())

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self._handle(UserSaid(self.nlu.parse(text, self.policy.expect)))

    async def keys(self, digits: str) -> list[dict[str, Any]]:
        return await self._handle(KeysPressed(digits.strip().rstrip("#")))

    async def silence(self) -> list[dict[str, Any]]:
        return await self._handle(Silence())

    async def hangup(self) -> list[dict[str, Any]]:
        events = await self._handle(CallerHungUp())
        return [*events, self._emit({"type": "hangup", "by": "caller"})]

    async def _handle(self, event: Event) -> list[dict[str, Any]]:
        actions = await self.policy.step(event)
        return [e for a in actions if (e := await self._carry_out(a)) is not None]

    async def _carry_out(self, action: Action) -> dict[str, Any] | None:
        if isinstance(action, Listen):
            return None
        event = action_to_json(action)
        if isinstance(action, SubmitOrder):
            order_id = await save_order(self.db, action.order)
            self.order_ids.append(order_id)
            event["order_id"] = order_id
            event["email"] = "queued"
        return self._emit(event)

    def _emit(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        if self.sink is not None:
            self.sink(event)
        return event
