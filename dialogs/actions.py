"""What the policy asks the outside world to do, and what it is told happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialogs.expect import Expect
from nlu.types import Parse

# -- events (into the policy) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallStarted:
    pass


@dataclass(frozen=True, slots=True)
class UserSaid:
    """The caller's words, already understood by the NLU."""

    parse: Parse


@dataclass(frozen=True, slots=True)
class KeysPressed:
    """Keypad digits (``#`` or a pause ended the input; ``#`` itself is not included)."""

    digits: str


@dataclass(frozen=True, slots=True)
class Silence:
    """The caller said nothing within the no-input timeout."""


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    pass


@dataclass(frozen=True, slots=True)
class HandOff:
    """The bot must hand the call to a person now (server shutdown, maximum call length)."""

    reason: str


@dataclass(frozen=True, slots=True)
class OrderNotSaved:
    """The front end could not save the order of a ``SubmitOrder`` (database down, disk
    full): the policy apologises and hands the call to an operator, even after its goodbye."""

    reason: str = ""


Event = CallStarted | UserSaid | KeysPressed | Silence | CallerHungUp | HandOff | OrderNotSaved

# -- actions (out of the policy) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    key: str = ""  # the responses.yml name it came from, e.g. "utter_ask_article"
    interruptible: bool = True


@dataclass(frozen=True, slots=True)
class Listen:
    """The bot waits for the caller; ``expect`` tunes end-of-phrase and ASR hints."""

    expect: Expect


@dataclass(frozen=True, slots=True)
class Transfer:
    target: str
    reason: str


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class SetCallerName:
    name: str


@dataclass(frozen=True, slots=True)
class OrderLine:
    article: str
    name: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Order:
    caller: str
    called: str
    call_time: datetime
    status: str
    items: tuple[OrderLine, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SubmitOrder:
    order: Order


@dataclass(frozen=True, slots=True)
class SaveDraft:
    """The confirmed items changed (an item confirmed, dropped, or its quantity changed):
    keep the order so far (status ``dialog.status_draft``) so that a crash loses nothing.
    Each ``SaveDraft`` of a call replaces the previous one; ``SubmitOrder`` finishes it."""

    order: Order


Action = Say | Listen | Transfer | Hangup | SetCallerName | SubmitOrder | SaveDraft


def action_to_json(action: Action) -> dict[str, Any]:
    """One JSON event per action, as the console's ``--json`` mode prints it
    (``SubmitOrder`` ➜ ``"order"``, ``SaveDraft`` ➜ ``"draft"`` with the same fields)."""
    if isinstance(action, Say):
        return {"type": "say", "text": action.text, "key": action.key}
    if isinstance(action, Listen):
        return {"type": "listen", "expect": action.expect}
    if isinstance(action, Transfer):
        return {"type": "transfer", "target": action.target, "reason": action.reason}
    if isinstance(action, Hangup):
        return {"type": "hangup"}
    if isinstance(action, SetCallerName):
        return {"type": "set_caller_name", "name": action.name}
    order = action.order
    return {
        "type": "draft" if isinstance(action, SaveDraft) else "order",
        "status": order.status,
        "caller": order.caller,
        "called": order.called,
        "call_time": order.call_time.isoformat(timespec="seconds"),
        "items": [
            {"article": i.article, "name": i.name, "quantity": i.quantity} for i in order.items
        ],
    }
