"""Value types exchanged between the shop connector and its callers.

They are plain frozen dataclasses: no database handles, no I/O. The call's runner builds an
:class:`OrderRecord` whenever the confirmed items change and hands it to
``OrderStore.save_draft`` / ``OrderStore.submit`` (or, the old way, ``ShopDatabase.save_order``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class OrderStatus(StrEnum):
    """The two order statuses of the business rules (Кейс 1, item 6)."""

    ACCEPTED = "принят успешно"
    """Every article the caller dictated was recognised."""
    TRANSFERRED = "переведен на оператора"
    """One of the articles was not recognised and the call went to a person."""


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One row of the product catalog."""

    article: str
    name: str
    unit: str = "шт"


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One ordered position: an article and how many pieces of it."""

    article: str
    name: str
    quantity: int

    def __post_init__(self) -> None:
        if not isinstance(self.article, str) or not self.article.strip():
            raise ValueError("OrderItem.article must be a non-empty string")
        if not isinstance(self.name, str):
            raise ValueError("OrderItem.name must be a string")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise ValueError("OrderItem.quantity must be an int")
        if not 1 <= self.quantity <= 2**31 - 1:
            raise ValueError("OrderItem.quantity must be between 1 and 2**31 - 1")


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A finished order as the bot took it on the phone.

    ``caller`` and ``called`` are the numbers as the PBX reported them (free text, not
    necessarily 10 digits: the called number may be a short internal one). ``status`` is
    normally an :class:`OrderStatus` value. ``items`` may be empty when the call was
    transferred before the first article was recognised.
    """

    caller: str
    called: str
    call_time: datetime
    status: str
    items: list[OrderItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.call_time, datetime):
            raise ValueError("OrderRecord.call_time must be a datetime")
        if not isinstance(self.status, str) or not self.status.strip():
            raise ValueError("OrderRecord.status must be a non-empty string")
        for number in (self.caller, self.called):
            if not isinstance(number, str):
                raise ValueError("OrderRecord.caller and .called must be strings")
        for item in self.items:
            if not isinstance(item, OrderItem):
                raise ValueError("OrderRecord.items must hold OrderItem values")


@dataclass(frozen=True, slots=True)
class OrdersSummary:
    """What ``shop_orders`` knows about one caller (Кейс 2).

    ``person`` is the newest non-empty ``Person``; ``total`` counts all orders of the phone;
    ``done`` counts those whose status name is the configured "done" status («выполнен»).
    """

    person: str | None
    total: int
    done: int


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One queued e-mail, as stored in the ``outbox`` table (times are aware, UTC)."""

    id: int
    kind: str
    order_id: int | None
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    message_key: str | None = None
    """The local part of the e-mail's Message-ID (None for rows older than migration 0002)."""
