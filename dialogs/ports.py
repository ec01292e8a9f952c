"""The small interfaces through which dialogs reach the shop (implemented in ``connectors``).

Dialogs never open a socket or a database; ``bot`` hands them objects with these methods.
The value types are protocols too, so the connectors' own frozen dataclasses fit as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Product(Protocol):
    @property
    def article(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def unit(self) -> str: ...


class OrdersSummary(Protocol):
    @property
    def person(self) -> str | None: ...

    @property
    def total(self) -> int: ...

    @property
    def done(self) -> int: ...


class NameVerdict(Protocol):
    @property
    def first_name(self) -> str | None: ...

    @property
    def certain(self) -> bool: ...


class Catalog(Protocol):
    async def find_article(self, article: str) -> Product | None: ...


class Customers(Protocol):
    async def orders_summary(self, phone10: str) -> OrdersSummary: ...

    async def user_name(self, phone10: str) -> str | None: ...

    async def last_order_status(self, phone10: str) -> str | None: ...


class NameCleaner(Protocol):
    async def clean(self, raw: str) -> NameVerdict: ...


@dataclass(frozen=True, slots=True)
class ShopPorts:
    catalog: Catalog
    customers: Customers
    names: NameCleaner
