"""The action runner's :class:`~bot.action_runner.Orders` port on the shop database."""

from __future__ import annotations

from bot.orders import save_order
from connectors.shop.database import ShopDatabase
from dialogs.actions import Order


class DatabaseOrders:
    def __init__(self, db: ShopDatabase) -> None:
        self.db = db

    async def submit(self, call_id: str, order: Order) -> int:
        return await save_order(self.db, order)
