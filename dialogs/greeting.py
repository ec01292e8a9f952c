"""Greeting by name (Case 2 of the seeds): who is calling, and what operators see.

The name chain:
1. ``shop_orders.Person`` of the caller's orders: without spaces ➜ that is the name;
   with spaces ➜ clean it (dadata or offline) and take it only if the cleaning is certain.
2. Otherwise ``users.Name`` by phone, the same way.
3. Name found ➜ «Здравствуйте, %NAME%» and the caller name ``%NAME% X(Y)`` (X orders in the
   «выполнен» status, Y orders in all); not found ➜ ``UNKNOWN USER`` and the configured text.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.ports import Customers, NameCleaner

UNKNOWN_USER = "UNKNOWN USER"


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    name: str | None
    done: int = 0
    total: int = 0

    @property
    def caller_name(self) -> str:
        """What the PBX shows operators: ``Иван 2(3)`` or ``UNKNOWN USER``."""
        return f"{self.name} {self.done}({self.total})" if self.name else UNKNOWN_USER


def _tidy(name: str) -> str:
    return name[:1].upper() + name[1:]


async def _name_from(raw: str | None, cleaner: NameCleaner) -> str | None:
    text = (raw or "").strip()
    if not text:
        return None
    if not any(ch.isspace() for ch in text):
        return _tidy(text)
    verdict = await cleaner.clean(text)
    if verdict.certain and verdict.first_name:
        return _tidy(verdict.first_name.strip())
    return None


async def identify_caller(
    phone10: str | None, customers: Customers, cleaner: NameCleaner
) -> CallerIdentity:
    if not phone10:
        return CallerIdentity(None)
    summary = await customers.orders_summary(phone10)
    name = await _name_from(summary.person, cleaner)
    if name is None:
        name = await _name_from(await customers.user_name(phone10), cleaner)
    return CallerIdentity(name, summary.done, summary.total)
