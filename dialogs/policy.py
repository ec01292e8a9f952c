"""The dialogue policy: ``await policy.step(event) -> [actions]`` for one call.

Pure: no sockets, no database; the shop is reached through :mod:`dialogs.ports`. The
flows follow the seeds (Case 1: order taking, Case 2: greeting by name and order
status) and DESIGN.md's business rules; every phrase comes from ``responses.yml``.

States: ``start`` ➜ ``menu`` ⇄ (``article`` ➜ [``consent``] ➜ ``quantity`` ➜ ``confirm`` ➜
``more``) ➜ [``readback`` ⇄ ``fix`` / ``pick``] ➜ ``ended``. Order taking is in
:mod:`dialogs.ordering`, the read-back in :mod:`dialogs.read_back`, the shared state and
endings in :mod:`dialogs.base`. At any point: «оператор» ➜ transfer; «повторите» ➜ the last
prompt again; «до свидания» ➜ the order is read back (then saved on «да»; a goodbye during
the read-back saves it as ``status_abandoned``); too many misunderstandings or silences ➜
transfer; ``HandOff`` from the bot (shutdown, maximum call length) ➜ transfer;
``OrderNotSaved`` (the front end could not save the order) ➜ an apology and an operator
(``Transfer(reason="error")``), even after the goodbye.

Every change of the confirmed items (an item confirmed, dropped, or its quantity changed)
emits ``SaveDraft`` with the order so far.

Scenarios: ``menu`` (greeting, then the menu), ``order`` (greeting, then the article),
``status`` (greeting, status, menu), ``greeting`` (greeting, then back to the PBX:
``Transfer(reason="greeting_done")``) and ``status_only`` (greeting and status, then back to
the PBX: ``reason="status_done"``) — the last two are Telphin Call Interactive's Case 2.
"""

from __future__ import annotations

from dialogs.actions import (
    Action,
    CallerHungUp,
    CallStarted,
    Event,
    HandOff,
    KeysPressed,
    OrderNotSaved,
    SetCallerName,
    Silence,
    Transfer,
)
from dialogs.base import NO_KEYS, YES_KEYS, yes_no
from dialogs.expect import Expect
from dialogs.greeting import identify_caller
from dialogs.ordering import OrderTaking
from dialogs.read_back import ReadBack
from nlu.types import Parse

RESPONSES = [
    "utter_greet_name",
    "utter_greet_unknown",
    "utter_main_menu",
    "utter_ask_article",
    "utter_article_not_found",
    "utter_article_keypad",
    "utter_confirm_article",
    "utter_ask_article_again",
    "utter_ask_quantity",
    "utter_ask_quantity_again",
    "utter_ask_quantity_keypad",
    "utter_ask_quantity_only",
    "utter_ask_whole_quantity",
    "utter_confirm_quantity",
    "utter_confirm_product_quantity",
    "utter_confirm_quantity_keypad",
    "utter_ask_yes_no",
    "utter_ask_more",
    "utter_read_back",
    "utter_read_back_item",
    "utter_read_back_options",
    "utter_pick_item",
    "utter_pick_item_entry",
    "utter_item_dropped",
    "utter_order_empty",
    "utter_order_accepted",
    "utter_save_failed",
    "utter_goodbye",
    "utter_transfer",
    "utter_order_status",
    "utter_no_new_orders",
    "utter_not_understood",
    "utter_silence",
]
MENU_KEYS = {"1": "make_order", "2": "order_status", "0": "ask_operator"}
# States whose goodbye leaves an order read back but not confirmed.
UNCONFIRMED = frozenset({"readback", "fix", "pick"})


class DialogPolicy(OrderTaking, ReadBack):
    save_failed_answered = False

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    @property
    def expect(self) -> Expect:
        """What the dialog waits for now (the last ``Listen``): front ends give it to the NLU."""
        return self._listening()

    # -- entry point ---------------------------------------------------------------------

    async def step(self, event: Event) -> list[Action]:
        if isinstance(event, OrderNotSaved):
            return self._save_failed()
        if self.ended:
            return []
        if isinstance(event, CallStarted):
            return await self._start()
        if isinstance(event, CallerHungUp):
            return self._caller_hung_up()
        if isinstance(event, HandOff):
            return self._transfer(event.reason)
        if isinstance(event, Silence):
            return self._silence()
        self.silences = 0
        if isinstance(event, KeysPressed):
            return await self._keys(event.digits)
        return await self._said(event.parse)

    # -- call start: greeting by name, then the scenario ---------------------------------

    async def _start(self) -> list[Action]:
        identity = await identify_caller(self.context.caller, self.shop.customers, self.shop.names)
        actions: list[Action] = [SetCallerName(identity.caller_name)]
        if identity.name:
            actions.append(self._say("utter_greet_name", name=identity.name))
        else:
            actions.append(self._say("utter_greet_unknown"))
        scenario = self.settings.scenario
        if scenario == "greeting":
            self.state = "ended"
            return [*actions, Transfer(self.settings.operator, "greeting_done")]
        if scenario in ("status", "status_only"):
            actions += await self._status_lines()
        if scenario == "status_only":
            self.state = "ended"
            return [*actions, Transfer(self.settings.operator, "status_done")]
        if scenario == "order":
            return actions + self._ask_article()
        return actions + self._menu()

    def _menu(self) -> list[Action]:
        self.state = "menu"
        return self._prompt([self._say("utter_main_menu")], "menu")

    async def _status_lines(self) -> list[Action]:
        status = None
        if self.context.caller:
            status = await self.shop.customers.last_order_status(self.context.caller)
        if status and status.strip().casefold() != self.settings.done_status.casefold():
            return [self._say("utter_order_status", status=status.strip())]
        return [self._say("utter_no_new_orders")]

    # -- caller input ----------------------------------------------------------------------

    async def _said(self, parse: Parse) -> list[Action]:
        self.heard = parse if parse.heard_confidence is not None else None
        if parse.intent == "ask_operator":
            return self._transfer("caller_request")
        if parse.intent == "repeat":
            return list(self.prompt)
        if parse.intent == "goodbye" and not parse.first("number") and self._sure_goodbye(parse):
            return self._caller_goodbye()
        handler = {
            "menu": self._menu_said,
            "article": self._article_said,
            "consent": self._consent_said,
            "quantity": self._quantity_said,
            "confirm": self._confirm_said,
            "more": self._more_said,
            "readback": self._read_back_said,
            "fix": self._fix_said,
            "pick": self._pick_said,
        }[self.state]
        return self._in_a_row(await handler(parse))

    async def _keys(self, digits: str) -> list[Action]:
        self.heard = None
        return self._in_a_row(await self._keys_in_state(digits.strip().rstrip("#")))

    async def _keys_in_state(self, digits: str) -> list[Action]:
        if not digits.isdigit():
            return self._misunderstood()
        state = self.state
        if state == "menu":
            return await self._menu_key(digits)
        if state == "article":
            return await self._article_keyed(digits)
        if state == "quantity":
            return self._quantity(int(digits))
        if state == "fix":
            return self._fix_keys(digits)
        if state == "pick":
            return self._pick_keys(digits)
        if digits not in YES_KEYS | NO_KEYS:
            return self._misunderstood()
        yes = digits in YES_KEYS
        if state == "consent":
            return self._consent(yes)
        if state == "confirm":
            return self._confirm(yes)
        if state == "readback":
            return self._read_back_answer(yes)
        return self._more(yes)

    async def _menu_key(self, digits: str) -> list[Action]:
        choice = MENU_KEYS.get(digits)
        if choice == "ask_operator":
            return self._transfer("caller_request")
        if choice == "order_status":
            return await self._status_lines() + self._menu()
        if choice == "make_order":
            return self._ask_article()
        return self._misunderstood()

    async def _menu_said(self, parse: Parse) -> list[Action]:
        if parse.intent == "order_status":
            return await self._status_lines() + self._menu()
        numbers = parse.values("number")
        if not parse.first("article") and len(numbers) == 1 and numbers[0] in MENU_KEYS:
            return await self._menu_key(numbers[0])  # «один» said for key 1
        if parse.intent in ("inform", "make_order") and (
            parse.first("article") or parse.first("number")
        ):
            self.in_order = True
            self.state = "article"
            return await self._article_said(parse)
        if parse.intent == "make_order":
            return self._ask_article()
        return self._misunderstood()

    # -- endings ---------------------------------------------------------------------------

    def _sure_goodbye(self, parse: Parse) -> bool:
        """A goodbye ends the call only when it is sure or says «до свидания»."""
        if parse.confidence >= self.settings.min_goodbye_confidence:
            return True
        return "свидан" in parse.text.lower()

    def _caller_goodbye(self) -> list[Action]:
        if self.state in UNCONFIRMED and self.lines:
            return self._goodbye(self.settings.status_abandoned)  # left before «да»
        if self.lines and self.in_order:
            return self._finish_order()
        return self._goodbye()

    def _caller_hung_up(self) -> list[Action]:
        actions: list[Action] = []
        if self.in_order and self.lines:
            actions.append(self._submit(self.settings.status_abandoned))
        self.state = "ended"
        return actions

    def _save_failed(self) -> list[Action]:
        """Saving the order failed: apologise and hand over, even after the goodbye."""
        if self.save_failed_answered:
            return []
        self.save_failed_answered = True
        self.state = "ended"
        return [
            self._say("utter_save_failed", interruptible=False),
            Transfer(self.settings.operator, "error"),
        ]

    def _silence(self) -> list[Action]:
        self.silences += 1
        if self.silences >= self.settings.max_silences:
            return self._transfer("silence")
        return [self._say("utter_silence"), *self.prompt]


__all__ = ["RESPONSES", "DialogPolicy", "yes_no"]
