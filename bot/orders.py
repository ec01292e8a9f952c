"""Carry out ``SaveDraft`` and ``SubmitOrder``: the dialog's order becomes a stored order.

:class:`DurableOrders` is the action runner's orders port on the
:class:`~connectors.shop.order_store.OrderStore` (drafts, journal, recovery); it raises
:class:`~connectors.shop.order_store.OrderNotSaved` (an exception, not to be confused with
the dialog's ``dialogs.actions.OrderNotSaved`` event that the runner sends the policy then).
:func:`save_order` is the one-shot way of the first version, kept until the runner switches.
"""

from __future__ import annotations

from connectors.shop.database import ShopDatabase
from connectors.shop.order_store import OrderStore
from connectors.shop.records import OrderItem, OrderRecord
from dialogs.actions import Order


def order_record(order: Order) -> OrderRecord:
    """The shop's record of the dialog's order."""
    return OrderRecord(
        caller=order.caller,
        called=order.called,
        call_time=order.call_time,
        status=order.status,
        items=[OrderItem(i.article, i.name, i.quantity) for i in order.items],
    )


async def save_order(db: ShopDatabase, order: Order) -> int:
    """Save the order and queue its e-mail in one transaction; return the order id."""
    return await db.save_order(order_record(order))


class DurableOrders:
    """``save_draft`` on every change of the confirmed items, ``submit`` at the end."""

    def __init__(self, store: OrderStore) -> None:
        self.store = store

    async def save_draft(self, call_id: str, order: Order) -> int:
        return await self.store.save_draft(call_id, order_record(order))

    async def submit(self, call_id: str, order: Order) -> int:
        return await self.store.submit(call_id, order_record(order))
