"""An in-memory shop behind the dialog's ports, and an orders port that keeps what it saved.

For session and runner tests that check what was saved without a database. (Tests of the
real database live in ``tests/connectors/shop``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dialogs.actions import Order
from dialogs.ports import ShopPorts


@dataclass(frozen=True, slots=True)
class Product:
    article: str
    name: str
    unit: str = "штука"


@dataclass(frozen=True, slots=True)
class Summary:
    person: str | None = None
    total: int = 0
    done: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    first_name: str | None = None
    certain: bool = False


CATALOG = {
    "123": Product("123", "Ведро пластиковое 10 л"),
    "1245": Product("1245", "Швабра с отжимом"),
    "4512": Product("4512", "Перчатки хозяйственные", "пара"),
}


class MemoryShop:
    def __init__(self, catalog: dict[str, Product] | None = None) -> None:
        self.catalog = dict(CATALOG if catalog is None else catalog)
        self.people = {"9607775577": Summary("Иван", 3, 2)}

    async def find_article(self, article: str) -> Product | None:
        return self.catalog.get(article)

    async def orders_summary(self, phone10: str) -> Summary:
        return self.people.get(phone10, Summary())

    async def user_name(self, phone10: str) -> str | None:
        return None

    async def last_order_status(self, phone10: str) -> str | None:
        return "отправлен" if phone10 in self.people else None

    async def clean(self, raw: str) -> Verdict:
        return Verdict()

    def ports(self) -> ShopPorts:
        return ShopPorts(catalog=self, customers=self, names=self)


@dataclass
class MemoryOrders:
    """Orders saved in order of arrival; ``fail`` makes every save raise."""

    saved: list[Order] = field(default_factory=list)
    drafts: list[Order] = field(default_factory=list)
    fail: bool = False

    async def submit(self, call_id: str, order: Order) -> int:
        if self.fail:
            raise OSError("the shop database is locked")
        self.saved.append(order)
        return len(self.saved)

    async def save_draft(self, call_id: str, order: Order) -> int:
        if self.fail:
            raise OSError("the shop database is locked")
        self.drafts.append(order)
        return 1
