"""Settings of the shop connector: where the shop database is and how to ask it.

The look-up SQL comes from the seed (Кейс 2), rewritten with a BOUND parameter ``:phone``
(the caller's last 10 digits) instead of pasting ``CallerIDNum`` into the text. The defaults
are SQLite (no ``RIGHT()`` there, so ``substr(x, -10)``). For the shop's real MySQL or
PostgreSQL database the same queries read::

    -- orders_by_phone (MySQL / PostgreSQL)
    SELECT o.Person, s.Name
      FROM shop_orders o LEFT JOIN shop_orders_status s ON s.ID = o.Status
     WHERE RIGHT(o.Phone, 10) = :phone
     ORDER BY o.ID DESC

    -- user_name (MySQL / PostgreSQL)
    SELECT u.Name FROM users u
     WHERE RIGHT(u.Phone, 10) = :phone AND u.Name IS NOT NULL AND TRIM(u.Name) <> ''
     LIMIT 1

    -- last_order_status (MySQL / PostgreSQL)
    SELECT s.Name FROM shop_orders o JOIN shop_orders_status s ON o.Status = s.ID
     WHERE RIGHT(o.Phone, 10) = :phone
     ORDER BY o.ID DESC LIMIT 1

(On PostgreSQL quote mixed-case identifiers if the tables were created with quotes:
``RIGHT(o."Phone", 10)``; the demo shop's tables are, and when ``url`` is a PostgreSQL URL and
the queries are left at their defaults, the PostgreSQL versions below are used.)
Keep the ``:phone`` placeholder: SQLAlchemy turns it into the
driver's own parameter style (``%s``, ``?``, ``$1``).

Each query is read by position, not by column name: ``orders_by_phone`` must return
``(person, status_name)`` rows, newest order first; the other two return one column.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

ORDERS_BY_PHONE_SQLITE = (
    "SELECT o.Person, s.Name "
    "FROM shop_orders o LEFT JOIN shop_orders_status s ON s.ID = o.Status "
    "WHERE substr(o.Phone, -10) = :phone "
    "ORDER BY o.ID DESC"
)
USER_NAME_SQLITE = (
    "SELECT u.Name FROM users u "
    "WHERE substr(u.Phone, -10) = :phone AND u.Name IS NOT NULL AND trim(u.Name) <> '' "
    "LIMIT 1"
)
LAST_ORDER_STATUS_SQLITE = (
    "SELECT s.Name FROM shop_orders o JOIN shop_orders_status s ON o.Status = s.ID "
    "WHERE substr(o.Phone, -10) = :phone "
    "ORDER BY o.ID DESC LIMIT 1"
)

ORDERS_BY_PHONE_POSTGRES = (
    'SELECT o."Person", s."Name" '
    'FROM shop_orders o LEFT JOIN shop_orders_status s ON s."ID" = o."Status" '
    'WHERE RIGHT(o."Phone", 10) = :phone '
    'ORDER BY o."ID" DESC'
)
USER_NAME_POSTGRES = (
    'SELECT u."Name" FROM users u '
    'WHERE RIGHT(u."Phone", 10) = :phone AND u."Name" IS NOT NULL AND TRIM(u."Name") <> \'\' '
    "LIMIT 1"
)
LAST_ORDER_STATUS_POSTGRES = (
    'SELECT s."Name" FROM shop_orders o JOIN shop_orders_status s ON o."Status" = s."ID" '
    'WHERE RIGHT(o."Phone", 10) = :phone '
    'ORDER BY o."ID" DESC LIMIT 1'
)

PHONE_PARAMETER = ":phone"


@dataclass(frozen=True)
class ShopQueries:
    """The three look-ups of Кейс 2 as configurable SQL with the bound ``:phone`` parameter."""

    orders_by_phone: str = ORDERS_BY_PHONE_SQLITE
    """Rows ``(person, status_name)`` for every order of the phone, newest first."""
    user_name: str = USER_NAME_SQLITE
    """One row ``(name,)`` from ``users`` for the phone, or no rows."""
    last_order_status: str = LAST_ORDER_STATUS_SQLITE
    """One row ``(status_name,)`` of the newest order of the phone, or no rows."""

    def __post_init__(self) -> None:
        for name in ("orders_by_phone", "user_name", "last_order_status"):
            sql = getattr(self, name)
            if not isinstance(sql, str) or not sql.strip():
                raise ValueError(f"shop query {name!r} must be a non-empty SQL string")
            if PHONE_PARAMETER not in sql:
                raise ValueError(
                    f"shop query {name!r} must use the bound parameter {PHONE_PARAMETER} "
                    "(never paste the phone number into the SQL text)"
                )

    @classmethod
    def postgresql(cls) -> ShopQueries:
        """The default look-ups written for PostgreSQL (quoted mixed-case demo tables)."""
        return cls(ORDERS_BY_PHONE_POSTGRES, USER_NAME_POSTGRES, LAST_ORDER_STATUS_POSTGRES)


@dataclass(frozen=True)
class OrderStoreSettings:
    """How orders are kept while a call goes on and when the database fails (``shop.orders``).

    Every change of the confirmed items is written as a draft with ``draft_status``; a failed
    write is retried for ``retry_total`` seconds (first pause ``retry_delay``, doubling), then
    the order goes to the ``journal`` file and is written to the database when it is back.
    A worker writes a heartbeat every ``heartbeat_interval`` seconds; drafts of a worker that
    has stopped, crashed (its process is gone) or been silent for ``worker_timeout`` seconds
    are finished with ``recovered_status`` and e-mailed. ``maintenance_interval`` is how often
    a running server replays the journal and looks for such drafts.
    """

    draft_status: str = "в работе"
    recovered_status: str = "прерван"
    retry_total: float = 1.5
    retry_delay: float = 0.05
    journal: Path = Path("var/orders-journal.jsonl")
    heartbeat_interval: float = 10.0
    worker_timeout: float = 60.0
    maintenance_interval: float = 15.0

    def __post_init__(self) -> None:
        for name in ("draft_status", "recovered_status"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"shop.orders.{name} must be a non-empty status name")
        if self.retry_total < 0 or self.retry_delay <= 0:
            raise ValueError("shop.orders: need retry_total >= 0 and retry_delay > 0")
        if self.heartbeat_interval <= 0 or self.maintenance_interval <= 0:
            raise ValueError("shop.orders: intervals must be positive")
        if self.worker_timeout < 2 * self.heartbeat_interval:
            raise ValueError("shop.orders.worker_timeout must be at least 2 heartbeat intervals")


@dataclass(frozen=True)
class ShopSettings:
    """Where the shop database lives and how to read it.

    ``url`` is an SQLAlchemy URL (``sqlite:///var/shop.sqlite``,
    ``postgresql+psycopg://user:pass@host/shop``, ...). ``done_status`` is the status name that
    counts as a finished order; it is compared case-insensitively (Python ``casefold``).

    Database work runs in two bounded thread pools, ``read_workers`` for look-ups and
    ``write_workers`` for orders, the outbox and the catalog, so a stuck write never delays a
    greeting. ``read_timeout`` bounds a look-up (SQLite busy timeout, PostgreSQL
    ``statement_timeout``); ``write_busy_timeout`` is how long one write attempt waits for a
    lock (SQLite busy timeout, PostgreSQL ``lock_timeout``) before the order store retries.
    ``migrate`` brings the bot's own tables to the newest schema when the database is opened.
    """

    url: str = "sqlite:///var/shop.sqlite"
    queries: ShopQueries = field(default_factory=ShopQueries)
    done_status: str = "выполнен"
    read_workers: int = 4
    write_workers: int = 2
    read_timeout: float = 3.0
    write_busy_timeout: float = 0.25
    connect_timeout: float = 3.0
    migrate: bool = True
    orders: OrderStoreSettings = field(default_factory=OrderStoreSettings)

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or "://" not in self.url:
            raise ValueError("shop database url must be an SQLAlchemy URL like sqlite:///path")
        if not isinstance(self.done_status, str) or not self.done_status.strip():
            raise ValueError("done_status must be a non-empty status name")
        if self.read_workers < 1 or self.write_workers < 1:
            raise ValueError("shop.read_workers and shop.write_workers must be at least 1")
        if min(self.read_timeout, self.write_busy_timeout, self.connect_timeout) <= 0:
            raise ValueError("shop database timeouts must be positive")
        if self.backend == "postgresql" and self.queries == ShopQueries():
            object.__setattr__(self, "queries", ShopQueries.postgresql())

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql``, ``mysql``, … (the URL's dialect name)."""
        return self.url.split("://", 1)[0].split("+", 1)[0].lower()

    def with_url(self, url: str) -> ShopSettings:
        """The same settings for another database (the queries follow its kind)."""
        queries = self.queries
        if queries in (ShopQueries(), ShopQueries.postgresql()):
            queries = ShopQueries()
        return replace(self, url=url, queries=queries)
