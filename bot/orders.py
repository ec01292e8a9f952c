"""Carry out ``SubmitOrder``: the dialog's order becomes a saved order with a queued e-mail."""

from __future__ import annotations

from connectors.shop.database import ShopDatabase
from connectors.shop.records import OrderItem, OrderRecord
from dialogs.actions import Order


async def save_order(db: ShopDatabase, order: Order) -> int:
    """Save the order and queue its e-mail in one transaction; return the order id."""
    record = OrderRecord(
        caller=order.caller,
        called=order.called,
        call_time=order.call_time,
        status=order.status,
        items=[OrderItem(i.article, i.name, i.quantity) for i in order.items],
    )
    return await db.save_order(record)
