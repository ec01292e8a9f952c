"""Rasa as the whole dialogue (``dialog.engine: rasa``): our bot is the assistant's phone.

:class:`RasaPolicy` has the interface of the embedded policy (``step``, ``ended``,
``expect``, ``context``, ``settings``), so the action runner, the voice session (barge-in,
end of phrase, time limits), the console, the call events and the metrics work unchanged.
Each caller turn goes to the assistant's REST channel (``sender`` = the call id) with
``metadata``: the call id, caller and called numbers, connector, route, scenario, what the
bot expects, our own parse of the words, and ``orders_by: channel`` (the assistant hands
orders to us as payloads, so they are saved through the bot's order store and appear in the
call's events). Its answers become actions (:mod:`bot.rasa.payloads`).

What the assistant is sent besides the words (``rasa:`` settings): ``/call_start`` when the
call starts; keypad digits by what it expects (``keys: expect``: «1»/«2» are ``/affirm`` /
``/deny`` at a yes/no question, ``menu_keys`` at the menu, ``/inform{"article": …}`` or
``{"quantity": …}``), or as ``/keypad{"digits": …}`` (``keys: intent``), or as text; the
caller's hang-up (``hangup_intent``). Silence is the bot's own business unless
``silence_intent`` is set: «Вас не слышно» and the assistant's last prompt again.

The bot keeps the call safe by itself: the assistant not answering within
``rasa.timeout_s`` (or answering nonsense) hands the call to an operator (reason
``rasa_unavailable``) with the order so far saved as «переведен на оператора»; silences and
empty answers in a row past ``dialog.max_silences`` / ``max_misunderstandings`` do the same;
``HandOff`` (shutdown, maximum call length) and an order the database did not take
(``OrderNotSaved``) are answered here without asking the assistant.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.rasa.client import RasaClient, RasaUnavailable
from bot.rasa.payloads import Reply, read_reply
from bot.rasa.settings import RasaSettings
from dialogs.actions import (
    Action,
    CallerHungUp,
    CallStarted,
    Event,
    HandOff,
    KeysPressed,
    Listen,
    Order,
    OrderLine,
    OrderNotSaved,
    Say,
    Silence,
    SubmitOrder,
    Transfer,
)
from dialogs.config import DialogSettings
from dialogs.context import CallContext
from dialogs.expect import Expect
from dialogs.responses import Responses
from nlu.types import Parse

log = logging.getLogger(__name__)
CHANNEL = "ru-voice-shop-bot"
HANGUP_TIMEOUT_S = 2.0  # the caller is gone: the assistant gets a short while to save
PARSE_ENTITIES = ("article", "quantity", "yes_no", "number", "name")


class RasaPolicy:
    def __init__(
        self,
        context: CallContext,
        responses: Responses,
        settings: DialogSettings,
        rasa: RasaSettings,
        *,
        route: str = "",
        client: RasaClient | None = None,
    ) -> None:
        self.context = context
        self.responses = responses.fresh()
        self.settings = settings
        self.rasa = rasa
        self.route = route
        self.client = client or RasaClient(rasa)
        self.state = "start"  # start ➜ talking ➜ ended
        self.keys_mode = rasa.keys
        self.prompt: list[Action] = []  # the assistant's last spoken answer, with its Listen
        self.items: tuple[OrderLine, ...] = ()  # the last draft not yet finished
        self.silences = 0
        self.empty_answers = 0
        self.save_failed_answered = False
        self._expect: Expect = "menu"

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    @property
    def expect(self) -> Expect:
        return self._expect

    async def step(self, event: Event) -> list[Action]:
        if isinstance(event, OrderNotSaved):
            return self._save_failed()
        if self.ended:
            return []
        if isinstance(event, CallStarted):
            self.state = "talking"
            return await self._send(f"/{self.rasa.start_intent}", source="start")
        if isinstance(event, CallerHungUp):
            return await self._hung_up()
        if isinstance(event, HandOff):
            return self._transfer(event.reason)
        if isinstance(event, Silence):
            return await self._silence()
        self.silences = 0
        if isinstance(event, KeysPressed):
            return await self._send(self._keys_message(event.digits), source="keys")
        return await self._send(self._said_message(event.parse), event.parse, source="speech")

    # -- what goes to the assistant ----------------------------------------------------------

    def metadata(self, parse: Parse | None = None, source: str = "") -> dict[str, Any]:
        context = self.context
        data: dict[str, Any] = {
            "channel": CHANNEL,
            "call_id": context.call_id,
            "caller": context.caller or "",
            "caller_raw": context.caller_raw,
            "called": context.called,
            "connector": context.connector,
            "route": self.route,
            "scenario": self.settings.scenario,
            "started_at": context.started_at.isoformat(timespec="seconds"),
            "expect": self._expect,
            "operator": self.settings.operator,
            "orders_by": "channel",
            "source": source,
        }
        if parse is not None:
            data["parse"] = parse.to_json()
        return data

    def _said_message(self, parse: Parse) -> str:
        if self.rasa.send == "text":
            return parse.text
        entities = {}
        for kind in PARSE_ENTITIES:
            entity = parse.first(kind)
            if entity is not None:
                entities[kind] = entity.value
        return _intent_message(parse.intent, entities)

    def _keys_message(self, digits: str) -> str:
        digits = digits.strip().rstrip("#")
        mode = self.keys_mode
        if mode == "text":
            return digits
        if mode == "expect":
            if self._expect == "yes_no" and digits in ("1", "2"):
                return "/affirm" if digits == "1" else "/deny"
            if self._expect == "menu" and digits in self.rasa.menu_keys:
                return f"/{self.rasa.menu_keys[digits]}"
            if self._expect in ("article", "quantity") and digits.isdigit():
                return _intent_message("inform", {self._expect: digits})
        return _intent_message(self.rasa.keys_intent, {"digits": digits})

    async def _send(
        self, message: str, parse: Parse | None = None, *, source: str = ""
    ) -> list[Action]:
        try:
            messages = await self.client.send(
                self.context.call_id, message, self.metadata(parse, source)
            )
        except RasaUnavailable as exc:
            log.warning(
                "rasa did not answer: the call goes to a person",
                extra={"call_id": self.context.call_id, "reason": exc.reason},
            )
            return self._transfer("rasa_unavailable")
        return self._carry(self._read(messages))

    def _read(self, messages: list[dict[str, Any]]) -> Reply:
        return read_reply(
            messages,
            operator=self.settings.operator,
            order_for=self._order,
            statuses=(self.settings.status_draft, self.settings.status_accepted),
        )

    # -- what comes back ---------------------------------------------------------------------

    def _carry(self, reply: Reply) -> list[Action]:
        self._note_orders(reply)
        if reply.keys:
            self.keys_mode = reply.keys
        if reply.ended:
            self.state = "ended"
            return self._finish_pending(reply)
        if not reply.spoken:  # the assistant said nothing: the caller must not hear silence
            self.empty_answers += 1
            if self.empty_answers >= self.settings.max_misunderstandings:
                return [*reply.actions, *self._transfer("not_understood")]
            again = self.prompt or [Listen(self._expect)]
            return [*reply.actions, self._say("utter_not_understood"), *again]
        self.empty_answers = 0
        self._expect = reply.expect or "menu"
        self.prompt = [*reply.says, Listen(self._expect)]
        return [*reply.actions, Listen(self._expect)]

    def _finish_pending(self, reply: Reply) -> list[Action]:
        """The assistant ended the call with confirmed items it did not finish: they are
        saved before the transfer («переведен на оператора») or hang-up («прерван»)."""
        if not self.items or reply.end is None:
            return reply.actions
        status = self.settings.status_abandoned
        if isinstance(reply.end, Transfer):
            status = self.settings.status_transferred
        self.items, items = (), self.items
        return [*reply.actions[:-1], SubmitOrder(self._order(status, items)), reply.end]

    def _note_orders(self, reply: Reply) -> None:
        if reply.draft is not None:
            self.items = reply.draft

    def _order(self, status: str, items: tuple[OrderLine, ...]) -> Order:
        context = self.context
        return Order(
            caller=context.caller or context.caller_raw,
            called=context.called,
            call_time=context.started_at,
            status=status,
            items=items,
        )

    # -- what the bot does by itself ----------------------------------------------------------

    async def _silence(self) -> list[Action]:
        self.silences += 1
        if self.silences >= self.settings.max_silences:
            return self._transfer("silence")
        if self.rasa.silence_intent:
            return await self._send(f"/{self.rasa.silence_intent}", source="silence")
        return [self._say("utter_silence"), *(self.prompt or [Listen(self._expect)])]

    async def _hung_up(self) -> list[Action]:
        """The caller is gone: the assistant may still hand over the order (nothing is said)."""
        self.state = "ended"
        actions: list[Action] = []
        if self.rasa.hangup_intent:
            message = f"/{self.rasa.hangup_intent}"
            try:
                messages = await self.client.send(
                    self.context.call_id,
                    message,
                    self.metadata(source="hangup"),
                    timeout_s=min(self.rasa.timeout_s, HANGUP_TIMEOUT_S),
                )
                reply = self._read(messages)
                actions = list(reply.orders)
                self._note_orders(reply)
            except RasaUnavailable as exc:
                log.warning(
                    "rasa not told of the hang-up",
                    extra={"call_id": self.context.call_id, "reason": exc.reason},
                )
        if self.items:  # confirmed items the assistant did not finish: a person checks them
            actions.append(SubmitOrder(self._order(self.settings.status_abandoned, self.items)))
            self.items = ()
        return actions

    def _transfer(self, reason: str) -> list[Action]:
        actions: list[Action] = [self._say("utter_transfer", interruptible=False)]
        if self.items:
            actions.append(SubmitOrder(self._order(self.settings.status_transferred, self.items)))
            self.items = ()
        self.state = "ended"
        return [*actions, Transfer(self.settings.operator, reason)]

    def _save_failed(self) -> list[Action]:
        if self.save_failed_answered:
            return []
        self.save_failed_answered = True
        self.state = "ended"
        return [
            self._say("utter_save_failed", interruptible=False),
            Transfer(self.settings.operator, "error"),
        ]

    def _say(self, key: str, /, interruptible: bool = True) -> Say:
        return Say(self.responses.render(key), key, interruptible)


def _intent_message(intent: str, entities: dict[str, str]) -> str:
    """Rasa's way of naming the intent itself: ``/inform{"article": "123"}``."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}"
