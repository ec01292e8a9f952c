"""The order e-mail (Кейс 1): SMTP settings and how the message looks.

Rendering is deterministic: the same order renders to the same message, with the Message-ID
fixed when its e-mail was queued (the outbox row's ``message_key``). So a message retried
after a crash (sent, but not yet marked sent) can be recognised as a duplicate by the
receiving side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from connectors.shop.records import OrderRecord


@dataclass(frozen=True)
class SmtpSettings:
    """Where the order e-mails go and how to reach the SMTP server.

    ``starttls`` upgrades a plain connection (port 587); ``use_tls`` speaks TLS from the
    start (port 465). ``timeout`` bounds every network step of one delivery attempt.
    """

    host: str = "127.0.0.1"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    sender: str = "bot@localhost"
    recipient: str = "orders@localhost"
    timeout: float = 10.0
    use_tls: bool = False

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("SMTP host must not be empty")
        if not 0 < self.port < 65536:
            raise ValueError("SMTP port must be between 1 and 65535")
        if self.timeout <= 0:
            raise ValueError("SMTP timeout must be positive")
        for address in (self.sender, self.recipient):
            if "@" not in address:
                raise ValueError("SMTP sender and recipient must be e-mail addresses")
        if self.starttls and self.use_tls:
            raise ValueError("choose either starttls or use_tls, not both")


def _format_call_time(moment: datetime) -> str:
    text = moment.strftime("%d.%m.%Y %H:%M:%S")
    offset = moment.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{text} (UTC{sign}{hours:02d}:{mins:02d})"


def message_id_for(order_id: int, sender: str, key: str | None = None) -> str:
    """The stable Message-ID of an order's e-mail: ``<key@sender's domain>``.

    ``key`` is the outbox row's ``message_key`` (``order-17-1.3f9a0c2b1d``: order, e-mail
    number, database token); rows queued before it existed use ``order-<id>``.
    """
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{key or f'order-{order_id}'}@{domain}>"


def render_order_body(order_id: int, order: OrderRecord) -> str:
    """The plain-text body: every position, then the call data and the order status."""
    lines = [f"Заказ № {order_id}", ""]
    if order.items:
        for number, item in enumerate(order.items, start=1):
            lines.append(f"Позиция {number}")
            lines.append(f"Артикул: {item.article}")
            if item.name:
                lines.append(f"Наименование: {item.name}")
            lines.append(f"Количество (шт.): {item.quantity}")
            lines.append("")
    else:
        lines.extend(["Артикул: не распознан", "Количество (шт.): —", ""])
    lines.append(f"Номер звонящего: {order.caller or 'неизвестен'}")
    lines.append(f"Номер, на который пришел звонок: {order.called or 'неизвестен'}")
    lines.append(f"Время звонка: {_format_call_time(order.call_time)}")
    lines.append(f"Статус заказа: {order.status}")
    return "\n".join(lines) + "\n"


def render_order_email(
    order_id: int,
    order: OrderRecord,
    sender: str,
    recipient: str,
    *,
    message_id: str | None = None,
) -> EmailMessage:
    """The e-mail for one saved order (Russian, UTF-8 plain text)."""
    message = EmailMessage()
    message["Subject"] = f"Заказ № {order_id}: {order.status}"
    message["From"] = sender
    message["To"] = recipient
    call_time = order.call_time if order.call_time.tzinfo else order.call_time.astimezone()
    message["Date"] = format_datetime(call_time)
    message["Message-ID"] = message_id or message_id_for(order_id, sender)
    message["X-Order-Id"] = str(order_id)
    message.set_content(render_order_body(order_id, order), charset="utf-8")
    return message
