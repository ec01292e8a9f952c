"""The dialogue policy: ``await policy.step(event) -> [actions]`` for one call.

Pure: no sockets, no database; the shop is reached through :mod:`dialogs.ports`. The
flows follow the seeds (Case 1: order taking, Case 2: greeting by name and order
status) and DESIGN.md's business rules; every phrase comes from ``responses.yml``.

States: ``start`` ➜ ``menu`` ⇄ (``article`` ➜ ``quantity`` ➜ ``confirm`` ➜ ``more``) ➜
``ended``. At any point: «оператор» ➜ transfer; «повторите» ➜ the last prompt again;
«до свидания» ➜ goodbye (a started order is saved); too many misunderstandings or
silences ➜ transfer; ``HandOff`` from the bot (shutdown, maximum call length) ➜ transfer.

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
    Hangup,
    KeysPressed,
    Listen,
    Order,
    OrderLine,
    Say,
    SetCallerName,
    Silence,
    SubmitOrder,
    Transfer,
)
from dialogs.config import DialogSettings
from dialogs.context import CallContext
from dialogs.expect import Expect
from dialogs.greeting import identify_caller
from dialogs.ports import Product, ShopPorts
from dialogs.responses import Responses
from dialogs.russian import quantity_phrase
from nlu.types import Parse

RESPONSES = [
    "utter_greet_name",
    "utter_greet_unknown",
    "utter_main_menu",
    "utter_ask_article",
    "utter_article_not_found",
    "utter_ask_quantity",
    "utter_ask_quantity_again",
    "utter_confirm_quantity",
    "utter_ask_yes_no",
    "utter_ask_more",
    "utter_order_accepted",
    "utter_goodbye",
    "utter_transfer",
    "utter_order_status",
    "utter_no_new_orders",
    "utter_not_understood",
    "utter_silence",
]
MENU_KEYS = {"1": "make_order", "2": "order_status", "0": "ask_operator"}
YES_KEYS, NO_KEYS = {"1"}, {"2"}


class DialogPolicy:
    def __init__(
        self,
        context: CallContext,
        shop: ShopPorts,
        responses: Responses,
        settings: DialogSettings | None = None,
    ) -> None:
        self.context = context
        self.shop = shop
        self.responses = responses.fresh()
        self.settings = settings or DialogSettings()
        self.state = "start"
        self.items: list[OrderLine] = []
        self.product: Product | None = None
        self.quantity = 0
        self.article_failures = 0
        self.misunderstandings = 0
        self._misunderstood_now = False
        self.quantity_denials = 0
        self.silences = 0
        self.in_order = False
        self.prompt: list[Action] = []

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    @property
    def expect(self) -> Expect:
        """What the dialog waits for now (the last ``Listen``): front ends give it to the NLU."""
        return self._listening()

    # -- entry point ---------------------------------------------------------------------

    async def step(self, event: Event) -> list[Action]:
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
        if parse.intent == "ask_operator":
            return self._transfer("caller_request")
        if parse.intent == "repeat":
            return list(self.prompt)
        if parse.intent == "goodbye" and not parse.first("number"):
            return self._goodbye()
        handler = {
            "menu": self._menu_said,
            "article": self._article_said,
            "quantity": self._quantity_said,
            "confirm": self._confirm_said,
            "more": self._more_said,
        }[self.state]
        return self._in_a_row(await handler(parse))

    def _in_a_row(self, actions: list[Action]) -> list[Action]:
        """Misunderstandings count in a row: a turn that was understood resets them."""
        if not self._misunderstood_now:
            self.misunderstandings = 0
        self._misunderstood_now = False
        return actions

    async def _keys(self, digits: str) -> list[Action]:
        return self._in_a_row(await self._keys_in_state(digits.strip().rstrip("#")))

    async def _keys_in_state(self, digits: str) -> list[Action]:
        if not digits.isdigit():
            return self._misunderstood()
        if self.state == "menu":
            choice = MENU_KEYS.get(digits)
            if choice == "ask_operator":
                return self._transfer("caller_request")
            if choice == "order_status":
                return await self._status_lines() + self._menu()
            if choice == "make_order":
                return self._ask_article()
            return self._misunderstood()
        if self.state == "article":
            return await self._article(digits)
        if self.state == "quantity":
            return self._quantity(int(digits))
        if self.state in ("confirm", "more") and digits in YES_KEYS | NO_KEYS:
            return await self._yes_no(digits in YES_KEYS)
        return self._misunderstood()

    async def _menu_said(self, parse: Parse) -> list[Action]:
        if parse.intent == "order_status":
            return await self._status_lines() + self._menu()
        numbers = parse.values("number")
        if not parse.first("article") and len(numbers) == 1 and numbers[0] in MENU_KEYS:
            return await self._keys_in_state(numbers[0])  # «один» said for key 1
        if parse.intent in ("inform", "make_order") and (
            parse.first("article") or parse.first("number")
        ):
            self.in_order = True
            self.state = "article"
            return await self._article_said(parse)
        if parse.intent == "make_order":
            return self._ask_article()
        return self._misunderstood()

    # -- order taking (Case 1) -------------------------------------------------------------

    def _ask_article(self) -> list[Action]:
        self.state = "article"
        self.in_order = True
        return self._prompt([self._say("utter_ask_article")], "article")

    async def _article_said(self, parse: Parse) -> list[Action]:
        candidate = self._article_candidate(parse)
        if self.items and candidate is None and (parse.intent == "deny" or _yes_no(parse) is False):
            return self._finish_order()  # «нет, больше ничего»
        if candidate is None:
            return self._article_failed()
        actions = await self._article(candidate)
        quantity = parse.first("quantity")
        if self.state == "quantity" and quantity is not None:
            return self._quantity(int(quantity.value))
        return actions

    def _article_candidate(self, parse: Parse) -> str | None:
        article = parse.first("article")
        if article is not None and article.confidence >= self.settings.min_article_confidence:
            return article.value
        quantities = {(e.start, e.end) for e in parse.entities if e.entity == "quantity"}
        digits = [
            e.value
            for e in parse.entities
            if e.entity == "number" and (e.start, e.end) not in quantities
        ]
        return "".join(digits) or None

    async def _article(self, digits: str) -> list[Action]:
        product = await self.shop.catalog.find_article(digits)
        if product is None:
            return self._article_failed()
        self.product = product
        self.state = "quantity"
        return self._prompt([self._say("utter_ask_quantity", product=product.name)], "quantity")

    def _article_failed(self) -> list[Action]:
        self.article_failures += 1
        if self.article_failures >= self.settings.max_article_failures:
            return self._transfer("article_not_recognized")
        return self._prompt([self._say("utter_article_not_found")], "article")

    async def _quantity_said(self, parse: Parse) -> list[Action]:
        entity = parse.first("quantity") or parse.first("number")
        if entity is None:
            return self._misunderstood("utter_ask_quantity_again")
        return self._quantity(int(entity.value))

    def _quantity(self, quantity: int) -> list[Action]:
        if not 1 <= quantity <= self.settings.max_quantity:
            return self._misunderstood("utter_ask_quantity_again")
        self.quantity = quantity
        self.state = "confirm"
        unit = self.product.unit if self.product else "штука"
        text = quantity_phrase(quantity, unit)
        return self._prompt([self._say("utter_confirm_quantity", quantity=text)], "yes_no")

    async def _confirm_said(self, parse: Parse) -> list[Action]:
        answer = _yes_no(parse)
        quantity = parse.first("quantity") or parse.first("number")
        if quantity is not None and (answer is not True or int(quantity.value) != self.quantity):
            return self._quantity(int(quantity.value))  # «нет, три штуки» / «да, три штуки»
        if answer is None:
            return self._misunderstood("utter_ask_yes_no")
        return await self._yes_no(answer)

    async def _yes_no(self, yes: bool) -> list[Action]:
        if self.state == "confirm":
            if not yes:
                self.quantity_denials += 1
                if self.quantity_denials >= self.settings.max_misunderstandings:
                    return self._transfer("quantity_not_confirmed")
                self.state = "quantity"
                return self._prompt([self._say("utter_ask_quantity_again")], "quantity")
            self.quantity_denials = 0
            assert self.product is not None
            self.items.append(OrderLine(self.product.article, self.product.name, self.quantity))
            self.product = None
            self.state = "more"
            return self._prompt([self._say("utter_ask_more")], "yes_no")
        if yes:
            return self._ask_article()
        return self._finish_order()

    async def _more_said(self, parse: Parse) -> list[Action]:
        if parse.first("article"):
            self.state = "article"
            return await self._article_said(parse)
        answer = _yes_no(parse)
        if answer is None and parse.intent == "make_order":
            answer = True
        if answer is None:
            return self._misunderstood("utter_ask_yes_no")
        return await self._yes_no(answer)

    def _finish_order(self) -> list[Action]:
        self.in_order = bool(self.items)
        return self._goodbye()

    def _submit(self, status: str) -> SubmitOrder:
        self.in_order = False
        order = Order(
            caller=self.context.caller or self.context.caller_raw,
            called=self.context.called,
            call_time=self.context.started_at,
            status=status,
            items=tuple(self.items),
        )
        return SubmitOrder(order)

    # -- endings, re-prompts -----------------------------------------------------------

    def _goodbye(self) -> list[Action]:
        actions: list[Action] = []
        if self.items and self.in_order:
            actions.append(self._submit(self.settings.status_accepted))
            actions.append(self._say("utter_order_accepted", interruptible=False))
        self.state = "ended"
        return [*actions, self._say("utter_goodbye", interruptible=False), Hangup()]

    def _transfer(self, reason: str) -> list[Action]:
        actions: list[Action] = [self._say("utter_transfer", interruptible=False)]
        if self.in_order and (self.items or self.article_failures):
            actions.append(self._submit(self.settings.status_transferred))
        self.state = "ended"
        return [*actions, Transfer(self.settings.operator, reason)]

    def _caller_hung_up(self) -> list[Action]:
        actions: list[Action] = []
        if self.in_order and self.items:
            actions.append(self._submit(self.settings.status_abandoned))
        self.state = "ended"
        return actions

    def _silence(self) -> list[Action]:
        self.silences += 1
        if self.silences >= self.settings.max_silences:
            return self._transfer("silence")
        return [self._say("utter_silence"), *self.prompt]

    def _misunderstood(self, hint: str = "utter_not_understood") -> list[Action]:
        self.misunderstandings += 1
        self._misunderstood_now = True
        if self.misunderstandings >= self.settings.max_misunderstandings:
            return self._transfer("not_understood")
        if hint == "utter_not_understood":
            return [self._say(hint), *self.prompt]
        return self._prompt([self._say(hint)], self._listening())

    def _listening(self) -> Expect:
        return next((a.expect for a in self.prompt if isinstance(a, Listen)), "menu")

    def _prompt(self, says: list[Action], expect: Expect) -> list[Action]:
        self.prompt = [*says, Listen(expect)]
        return list(self.prompt)

    def _say(self, key: str, /, interruptible: bool = True, **slots: object) -> Say:
        return Say(self.responses.render(key, **slots), key, interruptible)


def _yes_no(parse: Parse) -> bool | None:
    entity = parse.first("yes_no")
    if entity is not None:
        return entity.value == "yes"
    if parse.intent == "affirm":
        return True
    if parse.intent == "deny":
        return False
    return None
