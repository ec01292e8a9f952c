"""What our custom actions share: the shop of the action server and one action's turn.

:class:`ActionShop` is opened once by the action server (the shop database with its order
store and outbox, the embedded NLU for reading numbers, the phrases, the managers table).
:class:`Turn` is one run of one action: the tracker's slots and latest message, what the
caller said (read with our Russian number handling), and what the action answers: phrases,
the bot's custom payloads (:mod:`bot.rasa.payloads`), slot events.

Two kinds of channel are served. Our voice bot sets ``metadata.channel``: its phrases go as
``{"text", "key"}`` payloads rendered from ``responses.yml`` (the transcript names them) and,
with ``orders_by: channel``, orders go back to it as ``draft`` / ``order`` payloads so that
the bot saves them (its order store, its call events). Any other channel (``rasa shell``, a
web chat, Twilio Voice) gets Rasa's own responses (the same ``responses.yml``, laid into the
assistant's domain) and the orders are saved here, in the shop database, with the e-mail
queued in the outbox.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.config import Settings
from bot.orders import DurableOrders
from bot.rasa.policy import CHANNEL
from bot.routing import Managers
from bot.shop_setup import Shop, load_language, open_shop
from dialogs.actions import Order, OrderLine
from dialogs.config import DialogSettings
from dialogs.expect import Expect
from dialogs.responses import Responses
from nlu.engine import NluEngine
from nlu.phones import normalize_phone
from nlu.types import Entity, Parse

log = logging.getLogger(__name__)
ENTITY_FIELDS = {f.name for f in dataclasses.fields(Entity)}


@dataclass(slots=True)
class ActionShop:
    settings: Settings
    shop: Shop
    nlu: NluEngine
    responses: Responses
    managers: Managers
    orders: DurableOrders

    @property
    def dialog(self) -> DialogSettings:
        return self.settings.dialog

    @classmethod
    async def open(cls, settings: Settings) -> ActionShop:
        # the action server reads numbers with the embedded model: Rasa has already parsed
        settings = dataclasses.replace(
            settings, nlu=dataclasses.replace(settings.nlu, engine="embedded")
        )
        shop = await open_shop(settings)
        try:
            assert shop.orders is not None
            await shop.orders.start()  # orders a crash left in the journal or as drafts
            nlu, responses = await load_language(settings, shop)
        except BaseException:
            await shop.close()
            raise
        path = settings.server.managers_file
        managers = Managers(Path(path) if path else None)
        return cls(settings, shop, nlu, responses, managers, DurableOrders(shop.orders))

    async def close(self) -> None:
        await self.shop.close()


class Turn:
    """One run of one action."""

    def __init__(
        self, shop: ActionShop, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> None:
        self.shop = shop
        self.dispatcher = dispatcher
        self.tracker = tracker
        self.events: list[dict[str, Any]] = []
        self.responses = shop.responses.fresh()
        message = tracker.latest_message or {}
        self.message: dict[str, Any] = message
        metadata = message.get("metadata")
        self.metadata: dict[str, Any] = metadata if isinstance(metadata, dict) else {}
        self.ours = self.metadata.get("channel") == CHANNEL
        self.by_channel = self.ours and self.metadata.get("orders_by") == "channel"
        self._slots: dict[str, Any] = {}
        self.step_changed = False  # order_step (what the rules are conditioned on) changed
        self.misunderstood = False  # this turn was not understood well enough (counted)

    # -- the call -----------------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return str(self.metadata.get("call_id") or self.tracker.sender_id)

    @property
    def caller(self) -> str | None:
        """The caller's last 10 digits: from our metadata, else the sender (Twilio Voice and
        other phone channels name the conversation by the caller's number)."""
        raw = self.metadata.get("caller") or self.metadata.get("caller_raw")
        if not raw and not self.ours:
            raw = self.tracker.sender_id
        return normalize_phone(str(raw)) if raw else None

    @property
    def called(self) -> str:
        return str(self.metadata.get("called") or "")

    @property
    def scenario(self) -> str:
        return str(self.metadata.get("scenario") or self.shop.dialog.scenario)

    def operator(self) -> str:
        """Who takes the call: the caller's own manager, else the route's operator."""
        manager = self.shop.managers.manager_of(self.caller)
        return manager or str(self.metadata.get("operator") or self.shop.dialog.operator)

    # -- slots ----------------------------------------------------------------------------------

    def slot(self, name: str, default: Any = None) -> Any:
        if name in self._slots:
            return self._slots[name]
        value = self.tracker.get_slot(name)
        return default if value is None else value

    def set(self, name: str, value: Any) -> None:
        if name == "order_step" and value != self.tracker.get_slot(name):
            self.step_changed = True
        self._slots[name] = value
        self.events.append(SlotSet(name, value))

    def not_understood(self) -> int:
        """One more misunderstanding in a row (kept past this action); the new count."""
        self.misunderstood = True
        return self.count("misunderstandings")

    def count(self, name: str) -> int:
        """Add one to a counter slot; the new value."""
        value = int(self.slot(name, 0) or 0) + 1
        self.set(name, value)
        return value

    @property
    def items(self) -> list[dict[str, Any]]:
        return list(self.slot("order_items", []) or [])

    # -- what the caller said -----------------------------------------------------------------

    @property
    def intent(self) -> str:
        intent = self.message.get("intent") or {}
        return str(intent.get("name") or "") if isinstance(intent, dict) else ""

    def heard(self, expect: Expect) -> Parse:
        """The caller's words read with our numbers for what was asked: the bot's own parse
        when it sent one, the digits of ``/inform{"article": …}`` (keys), else the text."""
        given = self.metadata.get("parse")
        if isinstance(given, dict) and isinstance(given.get("text"), str):
            return _parse_from_json(given)
        text = str(self.message.get("text") or "")
        if text.startswith("/"):
            entities = {
                str(e.get("entity")): str(e.get("value"))
                for e in self.message.get("entities") or []
                if isinstance(e, dict) and e.get("value") is not None
            }
            value = entities.get(expect) or entities.get("digits") or ""
            return self.shop.nlu.parse(value, expect) if value else Parse(text, self.intent, 1.0)
        return self.shop.nlu.parse(text, expect)

    def yes_no(self) -> bool | None:
        """«да» / «нет» (the intent, or the yes/no words our NLU found)."""
        if self.intent == "affirm":
            return True
        if self.intent == "deny":
            return False
        entity = self.heard("yes_no").first("yes_no")
        return None if entity is None else entity.value == "yes"

    # -- what the action answers --------------------------------------------------------------

    def say(self, key: str, /, interruptible: bool = True, **slots: object) -> None:
        """A phrase of ``responses.yml``: rendered here for our bot (with its key), by Rasa
        for any other channel."""
        if self.ours:
            text = self.responses.render(key, **slots)
            payload: dict[str, Any] = {"text": text, "key": key}
            if not interruptible:
                payload["interruptible"] = False
            self.dispatcher.utter_message(json_message=payload)
        else:
            self.dispatcher.utter_message(response=key, **{k: str(v) for k, v in slots.items()})

    def command(self, **payload: Any) -> None:
        """A custom payload for the bot (other channels ignore what they do not know)."""
        self.dispatcher.utter_message(json_message=payload)

    def expect(self, expect: Expect) -> None:
        self.command(expect=expect)

    def transfer(self, reason: str) -> None:
        self.command(transfer={"target": self.operator(), "reason": reason})

    async def save(self, status: str, items: list[dict[str, Any]], *, draft: bool = False) -> None:
        """The order: handed to our bot as a payload, or saved here (with the e-mail)."""
        lines = [{k: i[k] for k in ("article", "name", "quantity")} for i in items]
        if self.by_channel:
            if draft:
                self.command(draft={"items": lines})
            else:
                self.command(order={"status": status, "items": lines})
            return
        order = Order(
            caller=self.caller or "",
            called=self.called,
            call_time=self.started_at(),
            status=status,
            items=tuple(OrderLine(i["article"], i["name"], int(i["quantity"])) for i in lines),
        )
        orders = self.shop.orders
        await (orders.save_draft if draft else orders.submit)(self.call_id, order)

    def started_at(self) -> datetime:
        started = self.metadata.get("started_at")
        if isinstance(started, str):
            try:
                return datetime.fromisoformat(started)
            except ValueError:
                pass
        return datetime.now().astimezone()


def _parse_from_json(data: dict[str, Any]) -> Parse:
    entities = tuple(
        Entity(**{k: v for k, v in e.items() if k in ENTITY_FIELDS})
        for e in data.get("entities") or []
        if isinstance(e, dict) and {"entity", "value", "start", "end"} <= set(e)
    )
    heard = data.get("heard_confidence")
    return Parse(
        str(data["text"]),
        str(data.get("intent") or ""),
        float(data.get("confidence") or 0.0),
        entities,
        heard_confidence=float(heard) if isinstance(heard, int | float) else None,
    )
