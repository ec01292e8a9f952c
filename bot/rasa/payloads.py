"""What a Rasa assistant's messages mean on the phone: the custom payload reference.

The REST channel answers a list of messages. A message with ``text`` is spoken. A message
with ``custom`` (``json_message`` in rasa-sdk, ``- custom:`` in a domain response) carries
telephony commands; several may stand in one object and are carried out in this order:

- ``set_caller_name``: text ➜ the caller name operators see (``Иван 2(3)``);
- ``text`` (with ``key``, ``interruptible``): spoken; ``key`` names the phrase in the
  transcript, ``interruptible: false`` cannot be cut off by the caller;
- ``draft``: ``{"items": [...]}`` ➜ the order so far is kept (``dialog.status_draft``);
- ``order``: ``{"status": …, "items": [...]}`` ➜ the finished order is saved and e-mailed
  (no status: ``dialog.status_accepted``);
- ``expect``: ``menu`` | ``article`` | ``quantity`` | ``yes_no`` ➜ what the caller says next
  (end-of-phrase silence, the recogniser's hints, how digits are read; default ``menu``);
- ``keys``: ``expect`` | ``intent`` | ``text`` ➜ how the next keypad digits go in
  (``rasa.keys``);
- ``transfer``: ``true``, a target, or ``{"target": …, "reason": …}`` ➜ the call is handed
  over (no target: ``dialog.operator``, the caller's manager when routed; no reason:
  ``assistant``);
- ``hangup``: ``true`` ➜ the call ends.

Items are ``{"article": "123", "name": "Ведро", "quantity": 2}``; the caller's and the
called number and the call time come from the call itself. Messages after a transfer or a
hang-up are ignored; images and buttons mean nothing on a phone and are skipped. A payload
that is not as above is skipped with a warning naming its key (never its content).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.rasa.settings import KEY_MODES
from dialogs.actions import (
    Action,
    Hangup,
    Order,
    OrderLine,
    SaveDraft,
    Say,
    SetCallerName,
    SubmitOrder,
    Transfer,
)
from dialogs.expect import EXPECTS, Expect

log = logging.getLogger(__name__)
DEFAULT_TRANSFER_REASON = "assistant"
OrderFor = Callable[[str, tuple[OrderLine, ...]], Order]  # (status, items) ➜ the call's order


@dataclass(slots=True)
class Reply:
    """One answer of the assistant, as actions (the policy adds the ``Listen``)."""

    actions: list[Action] = field(default_factory=list)
    says: list[Action] = field(default_factory=list)  # what is spoken, in order
    orders: list[Action] = field(default_factory=list)  # the drafts and orders handed over
    draft: tuple[OrderLine, ...] | None = None  # the items of the last draft, if any came
    submitted: bool = False  # a finished order came (after the last draft)
    end: Transfer | Hangup | None = None
    expect: Expect | None = None
    keys: str | None = None

    @property
    def ended(self) -> bool:
        return self.end is not None

    @property
    def spoken(self) -> bool:
        return bool(self.says)

    def add_say(self, say: Say) -> None:
        self.actions.append(say)
        self.says.append(say)

    def add_draft(self, order: Order) -> None:
        self.actions.append(SaveDraft(order))
        self.orders.append(self.actions[-1])
        self.draft, self.submitted = order.items, False

    def add_order(self, order: Order) -> None:
        self.actions.append(SubmitOrder(order))
        self.orders.append(self.actions[-1])
        self.draft, self.submitted = (), True

    def add_end(self, end: Transfer | Hangup) -> None:
        self.actions.append(end)
        self.end = end


class PayloadError(ValueError):
    pass


def read_reply(
    messages: list[dict[str, Any]], *, operator: str, order_for: OrderFor, statuses: tuple[str, str]
) -> Reply:
    """The assistant's messages ➜ actions. ``statuses``: (draft status, accepted status)."""
    reply = Reply()
    for message in messages:
        if reply.ended:
            log.warning("rasa message after a transfer or hang-up ignored")
            break
        text = message.get("text")
        if isinstance(text, str) and text.strip():
            reply.add_say(Say(text.strip()))
        custom = message.get("custom")
        if isinstance(custom, dict):
            _custom(custom, reply, operator, order_for, statuses)
        elif custom is not None:
            log.warning("rasa custom payload ignored", extra={"payload_key": "custom"})
    return reply


def _custom(
    custom: dict[str, Any],
    reply: Reply,
    operator: str,
    order_for: OrderFor,
    statuses: tuple[str, str],
) -> None:
    steps: list[tuple[str, Callable[[Any], None]]] = [
        ("set_caller_name", lambda v: reply.actions.append(SetCallerName(_text(v)))),
        ("text", lambda v: _say(custom, reply)),
        ("draft", lambda v: reply.add_draft(_order(v, statuses[0], order_for))),
        ("order", lambda v: reply.add_order(_order(v, statuses[1], order_for))),
        ("expect", lambda v: setattr(reply, "expect", _expect(v))),
        ("keys", lambda v: setattr(reply, "keys", _keys(v))),
        ("transfer", lambda v: reply.add_end(_transfer(v, operator))),
        ("hangup", lambda v: reply.add_end(Hangup()) if v else None),
    ]
    for key, apply in steps:
        if key in custom and not reply.ended:
            try:
                apply(custom[key])
            except PayloadError as exc:
                log.warning(
                    "rasa custom payload ignored", extra={"payload_key": key, "error": str(exc)}
                )


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PayloadError("expected text")
    return value.strip()


def _say(custom: dict[str, Any], reply: Reply) -> None:
    key = custom.get("key", "")
    interruptible = custom.get("interruptible", True)
    if not isinstance(key, str) or not isinstance(interruptible, bool):
        raise PayloadError("key must be text, interruptible true or false")
    reply.add_say(Say(_text(custom["text"]), key, interruptible))


def _expect(value: Any) -> Expect:
    for expect in EXPECTS:
        if value == expect:
            return expect
    raise PayloadError(f"expect must be one of {', '.join(EXPECTS)}")


def _keys(value: Any) -> str:
    if value not in KEY_MODES:
        raise PayloadError(f"keys must be one of {', '.join(KEY_MODES)}")
    return str(value)


def _transfer(value: Any, operator: str) -> Transfer:
    if value is True:
        return Transfer(operator, DEFAULT_TRANSFER_REASON)
    if isinstance(value, str) and value.strip():
        return Transfer(value.strip(), DEFAULT_TRANSFER_REASON)
    if isinstance(value, dict):
        target = value.get("target") or operator
        reason = value.get("reason") or DEFAULT_TRANSFER_REASON
        if isinstance(target, str) and isinstance(reason, str):
            return Transfer(target.strip() or operator, reason)
    raise PayloadError("transfer must be true, a target, or {target, reason}")


def _order(value: Any, status: str, order_for: OrderFor) -> Order:
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        raise PayloadError("expected {items: [...]}")
    given = value.get("status", status)
    if not isinstance(given, str) or not given.strip():
        raise PayloadError("status must be text")
    return order_for(given.strip(), tuple(_line(item) for item in value["items"]))


def _line(item: Any) -> OrderLine:
    if not isinstance(item, dict):
        raise PayloadError("an item must be {article, name, quantity}")
    article, name, quantity = item.get("article"), item.get("name", ""), item.get("quantity")
    if isinstance(article, int) and not isinstance(article, bool):
        article = str(article)
    if isinstance(quantity, float) and quantity.is_integer():
        quantity = int(quantity)
    if not isinstance(article, str) or not article.strip() or not isinstance(name, str):
        raise PayloadError("an item needs an article")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise PayloadError("an item's quantity must be a whole number from 1")
    return OrderLine(article.strip(), name.strip(), quantity)
