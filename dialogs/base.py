"""The state and the helpers every part of the policy shares: the order so far, the last
prompt, counters, phrases, and the endings (goodbye, transfer, hang-up).

:class:`~dialogs.policy.DialogPolicy` is assembled from :class:`DialogCore` and the flows
built on it (:mod:`dialogs.ordering`, :mod:`dialogs.read_back`); each flow keeps to its own
states and calls the others only through the methods declared here.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.actions import (
    Action,
    Hangup,
    Listen,
    Order,
    OrderLine,
    SaveDraft,
    Say,
    SubmitOrder,
    Transfer,
)
from dialogs.config import DialogSettings
from dialogs.context import CallContext
from dialogs.expect import Expect
from dialogs.ports import Product, ShopPorts
from dialogs.responses import Responses
from nlu.types import Parse

YES_KEYS, NO_KEYS = {"1"}, {"2"}


@dataclass(frozen=True, slots=True)
class Line:
    """One confirmed item: the product (for its unit) and the quantity."""

    product: Product
    quantity: int

    def order_line(self) -> OrderLine:
        return OrderLine(self.product.article, self.product.name, self.quantity)


class DialogCore:
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
        self.lines: list[Line] = []  # confirmed items, in the order they were confirmed
        self.product: Product | None = None  # the product whose quantity is asked
        self.quantity = 0
        self.in_order = False
        self.prompt: list[Action] = []
        self.article_failures = 0
        self.misunderstandings = 0
        self._misunderstood_now = False
        self.quantity_denials = 0
        self.silences = 0
        self.read_back_denials = 0
        self.suggested: Product | None = None  # a near article offered, waiting for «да»
        self.rejected: set[str] = set()  # suggestions the caller said «нет» to
        self.pending_quantity: int | None = None  # said together with the article
        self.editing: int | None = None  # the line whose quantity is being changed
        self.pick_action = ""  # "quantity" | "drop": what the picked line is for
        self.heard: Parse | None = None  # this turn's words, when they were speech
        self.unsure_quantity: int | None = None  # heard unsurely, asked for by keys

    # -- flows call each other through these (implemented in the flow modules) -----------

    def _ask_article(self) -> list[Action]:
        raise NotImplementedError

    async def _article_said(self, parse: Parse) -> list[Action]:
        raise NotImplementedError

    def _read_back(self) -> list[Action]:
        raise NotImplementedError

    def _line_confirmed(self) -> list[Action]:
        raise NotImplementedError

    # -- the order -------------------------------------------------------------------------

    @property
    def items(self) -> tuple[OrderLine, ...]:
        return tuple(line.order_line() for line in self.lines)

    def _order(self, status: str) -> Order:
        return Order(
            caller=self.context.caller or self.context.caller_raw,
            called=self.context.called,
            call_time=self.context.started_at,
            status=status,
            items=self.items,
        )

    def _draft(self) -> SaveDraft:
        """The confirmed items changed: the front end keeps the order so far."""
        return SaveDraft(self._order(self.settings.status_draft))

    def _submit(self, status: str) -> SubmitOrder:
        self.in_order = False
        return SubmitOrder(self._order(status))

    def _finish_order(self) -> list[Action]:
        """No more items: read the order back (``dialog.read_back``) or save it."""
        if self.lines and self.settings.read_back:
            self.in_order = True
            return self._read_back()
        self.in_order = bool(self.lines)
        return self._goodbye()

    # -- endings ---------------------------------------------------------------------------

    def _goodbye(self, status: str | None = None) -> list[Action]:
        actions: list[Action] = []
        if self.lines and self.in_order:
            actions.append(self._submit(status or self.settings.status_accepted))
            if status is None:
                actions.append(self._say("utter_order_accepted", interruptible=False))
        self.state = "ended"
        return [*actions, self._say("utter_goodbye", interruptible=False), Hangup()]

    def _transfer(self, reason: str) -> list[Action]:
        actions: list[Action] = [self._say("utter_transfer", interruptible=False)]
        if self.in_order and (self.lines or self.article_failures):
            actions.append(self._submit(self.settings.status_transferred))
        self.state = "ended"
        return [*actions, Transfer(self.settings.operator, reason)]

    # -- prompts and misunderstandings ----------------------------------------------------

    def _in_a_row(self, actions: list[Action]) -> list[Action]:
        """Misunderstandings count in a row: a turn that was understood resets them."""
        if not self._misunderstood_now:
            self.misunderstandings = 0
        self._misunderstood_now = False
        return actions

    def _misunderstood(
        self, hint: str = "utter_not_understood", expect: Expect | None = None, **slots: object
    ) -> list[Action]:
        self.misunderstandings += 1
        self._misunderstood_now = True
        if self.misunderstandings >= self.settings.max_misunderstandings:
            return self._transfer("not_understood")
        if hint == "utter_not_understood":
            return [self._say(hint), *self.prompt]
        return self._prompt([self._say(hint, True, **slots)], expect or self._listening())

    def _listening(self) -> Expect:
        return next((a.expect for a in self.prompt if isinstance(a, Listen)), "menu")

    def _prompt(self, says: list[Action], expect: Expect) -> list[Action]:
        self.prompt = [*says, Listen(expect)]
        return list(self.prompt)

    def _say(self, key: str, /, interruptible: bool = True, **slots: object) -> Say:
        return Say(self.responses.render(key, **slots), key, interruptible)


def yes_no(parse: Parse) -> bool | None:
    """The caller's yes (``True``) or no (``False``), from the words or the intent."""
    entity = parse.first("yes_no")
    if entity is not None:
        return entity.value == "yes"
    if parse.intent == "affirm":
        return True
    if parse.intent == "deny":
        return False
    return None
