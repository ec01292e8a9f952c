"""Bookkeeping of the fault suite: what callers confirmed, what the database holds, what the
mail server got — and the tools to break things (an SMTP server to stop and start, a lock on
the SQLite file).

Every benchmark call has its own caller number, so an order is found by its caller: a call
whose caller heard the bot go on after «да» is *confirmed*; it is *saved* when a finished
order of that caller holds the item, *mailed* when an e-mail of that order arrived.
*Duplicates* are a second order of one call or a second e-mail of one order.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from bot.tools.keypad_call import KeypadResult


class _Collect:
    def __init__(self, sink: MailCounter) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode("utf-8")
        message = message_from_bytes(data, policy=default_policy)
        with self.sink.lock:
            self.sink.messages.append(
                (str(message.get("X-Order-Id", "")), str(message.get("Message-ID", "")))
            )
        return "250 Message accepted for delivery"


class MailCounter:
    """An SMTP server on ``port`` that counts order e-mails; stop and start it at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[tuple[str, str]] = []  # (order id, Message-ID)
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def order_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(order_id for order_id, _ in self.messages)


@dataclass(frozen=True, slots=True)
class StoredOrder:
    id: int
    caller: str
    status: str
    state: str
    items: tuple[tuple[str, int], ...]


def stored_orders(db: Path) -> list[StoredOrder]:
    """The bot's orders in a SQLite shop file (read-only)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute("SELECT id, caller, status, state FROM bot_orders").fetchall()
        items: dict[int, list[tuple[str, int]]] = {}
        for order_id, article, quantity in conn.execute(
            "SELECT order_id, article, quantity FROM bot_order_items ORDER BY order_id, position"
        ):
            items.setdefault(order_id, []).append((article, quantity))
    return [
        StoredOrder(
            r[0], str(r[1] or ""), str(r[2] or ""), str(r[3] or ""), tuple(items.get(r[0], []))
        )
        for r in rows
    ]


def digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())[-10:]


@dataclass
class Ledger:
    """The calls of one run, and the checks against the database and the mail."""

    calls: list[tuple[str, str, KeypadResult]] = field(default_factory=list)  # phase, caller, …
    expected_item: tuple[str, int] = ("123", 2)

    def add(self, phase: str, caller: str, result: KeypadResult) -> None:
        self.calls.append((phase, caller, result))

    def confirmed(self, phase: str | None = None) -> list[tuple[str, str, KeypadResult]]:
        return [c for c in self.calls if c[2].confirmed and (phase is None or c[0] == phase)]

    def check(self, db: Path, mail: MailCounter) -> dict[str, Any]:
        orders = stored_orders(db)
        by_caller: dict[str, list[StoredOrder]] = {}
        for order in orders:
            by_caller.setdefault(digits(order.caller), []).append(order)
        mailed_ids = mail.order_ids()
        figures: dict[str, Any] = {"by_phase": {}}
        totals: Counter[str] = Counter()
        lost: list[str] = []
        for phase, caller, _ in self.confirmed():
            mine = by_caller.get(digits(caller), [])
            saved = [o for o in mine if o.state != "draft" and self.expected_item in o.items]
            mailed = [o for o in saved if mailed_ids.get(str(o.id), 0) > 0]
            counts = figures["by_phase"].setdefault(
                phase, {"confirmed": 0, "saved": 0, "mailed": 0, "duplicates": 0}
            )
            for key, value in (
                ("confirmed", 1),
                ("saved", int(bool(saved))),
                ("mailed", int(bool(mailed))),
                ("duplicates", max(0, len(mine) - 1)),
            ):
                counts[key] += value
                totals[key] += value
            if not saved:
                lost.append(f"{phase}:{caller}")
        duplicate_mails = sum(n - 1 for n in mailed_ids.values() if n > 1)
        totals["duplicates"] += duplicate_mails
        figures.update(
            {
                "confirmed": totals["confirmed"],
                "saved": totals["saved"],
                "mailed": totals["mailed"],
                "duplicates": totals["duplicates"],
                "duplicate_emails": duplicate_mails,
                "lost": lost,
                "orders_in_database": len(orders),
                "emails": sum(mailed_ids.values()),
            }
        )
        return figures


class HeldLock:
    """Another connection holding SQLite's write lock (``BEGIN EXCLUSIVE``) until released."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.ready = threading.Event()
        self.release = threading.Event()
        self.held_s = 0.0
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        conn = sqlite3.connect(str(self.db), isolation_level=None, timeout=10)
        conn.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        self.ready.set()
        self.release.wait(120)
        conn.rollback()
        conn.close()
        self.held_s = time.monotonic() - started

    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(15):
            raise TimeoutError("could not lock the database")

    def stop(self) -> None:
        self.release.set()
        self._thread.join(15)
