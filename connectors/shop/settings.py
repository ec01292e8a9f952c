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
``RIGHT(o."Phone", 10)``.) Keep the ``:phone`` placeholder: SQLAlchemy turns it into the
driver's own parameter style (``%s``, ``?``, ``$1``).

Each query is read by position, not by column name: ``orders_by_phone`` must return
``(person, status_name)`` rows, newest order first; the other two return one column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class ShopSettings:
    """Where the shop database lives and how to read it.

    ``url`` is an SQLAlchemy URL (``sqlite:///var/shop.sqlite``,
    ``mysql+pymysql://user:pass@host/shop``, ...). ``done_status`` is the status name that
    counts as a finished order; it is compared case-insensitively (Python ``casefold``).
    """

    url: str = "sqlite:///var/shop.sqlite"
    queries: ShopQueries = field(default_factory=ShopQueries)
    done_status: str = "выполнен"

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or "://" not in self.url:
            raise ValueError("shop database url must be an SQLAlchemy URL like sqlite:///path")
        if not isinstance(self.done_status, str) or not self.done_status.strip():
            raise ValueError("done_status must be a non-empty status name")
