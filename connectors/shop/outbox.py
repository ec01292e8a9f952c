"""Delivery of queued order e-mails, with retries that never drop a message.

``ShopDatabase.save_order`` puts a row in the ``outbox`` table in the same transaction as the
order. :class:`Outbox` sends the due rows through SMTP (aiosmtplib) and marks a row sent only
after the server accepted the message. A failure increments ``attempts``, records the error
(without personal data) and schedules the next attempt with exponential backoff::

    delay = min(max_delay, base_delay * 2 ** attempts_before_this_failure)

i.e. 1 s, 2 s, 4 s, ... with the defaults, capped at 5 minutes; the message stays queued
forever until it is delivered.

Delivery is at-least-once: if the process dies after the server accepted a message but before
it was marked sent, it is sent again later with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from datetime import datetime, timedelta

import aiosmtplib

from connectors.shop import schema
from connectors.shop.database import ShopDatabase
from connectors.shop.mail import SmtpSettings, message_id_for, render_order_email
from connectors.shop.outbox_queue import ClaimedMessage

logger = logging.getLogger(__name__)

_LONG_DIGITS = re.compile(r"\d{7,}")


def describe_error(exc: BaseException) -> str:
    """A short error text fit for storage and logs: class, SMTP code, masked long numbers."""
    text = f"{type(exc).__name__}: {exc}"
    text = _LONG_DIGITS.sub("***", text)
    return text[:300]


class Outbox:
    """Sends the queued order e-mails to :class:`SmtpSettings` ``recipient``."""

    def __init__(
        self,
        db: ShopDatabase,
        smtp: SmtpSettings,
        *,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        batch_size: int = 100,
        lease: float | None = None,
    ) -> None:
        """``lease``: seconds a claimed message is reserved for this drainer (default: the
        longer of 60 s and three SMTP timeouts); after a crash another drainer sends it then."""
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        lease_s = max(60.0, smtp.timeout * 3) if lease is None else lease
        if lease_s <= 0:
            raise ValueError("the outbox lease must be positive")
        self._db = db
        self._smtp = smtp
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._batch_size = batch_size
        self._lease = timedelta(seconds=lease_s)
        self._lock = asyncio.Lock()
        self._token = uuid.uuid4().hex

    def backoff(self, attempts_before: int) -> timedelta:
        """Delay before the next attempt after a failure (``attempts_before`` failed earlier)."""
        exponent = min(max(attempts_before, 0), 60)
        return timedelta(seconds=min(self._max_delay, self._base_delay * 2**exponent))

    async def pending(self) -> int:
        """How many messages are still waiting to be delivered."""
        return await self._db.outbox_pending()

    async def deliver_due(self, now: datetime | None = None, *, force: bool = False) -> int:
        """Send every message due at ``now`` (default: now); return how many were accepted.

        ``force``: send every unsent message that no other drainer holds, whatever its
        backoff (each one is tried once in this pass).
        """
        async with self._lock:
            moment = schema.utc(now)
            since = schema.utc() if force else None
            sent = 0
            while True:
                # Each claimed row leaves the "due" set (sent, leased or rescheduled into the
                # future; in a forced pass: claimed since the pass began), so this loop ends
                # once the backlog due at ``moment`` is worked off.
                claimed = await self._db.outbox_claim_due(
                    moment, self._lease, self._batch_size, token=self._token, force_since=since
                )
                if not claimed:
                    return sent
                for message in claimed:
                    if await self._deliver_one(message, moment):
                        sent += 1

    async def _deliver_one(self, message: ClaimedMessage, now: datetime) -> bool:
        try:
            await self._send(message)
        except Exception as exc:
            error = describe_error(exc)
            attempts = message.attempts + 1
            next_at = now + self.backoff(message.attempts)
            await self._db.outbox_mark_failed(
                message.id, attempts, next_at, error, message.claim_token
            )
            logger.warning(
                "order e-mail not delivered, will retry",
                extra={
                    "outbox_id": message.id,
                    "order_id": message.order_id,
                    "attempts": attempts,
                    "error": error,
                    "retry_in_s": (next_at - now).total_seconds(),
                },
            )
            return False
        await self._db.outbox_mark_sent(message.id, schema.utc())
        logger.info(
            "order e-mail delivered",
            extra={"outbox_id": message.id, "order_id": message.order_id},
        )
        return True

    async def _send(self, message: ClaimedMessage) -> None:
        if message.kind != schema.OUTBOX_ORDER_EMAIL or message.order_id is None:
            raise ValueError(f"unknown outbox message kind {message.kind!r}")
        order = await self._db.load_order(message.order_id)
        if order is None:
            raise LookupError("the order of this message is missing")
        smtp = self._smtp
        email = render_order_email(
            message.order_id,
            order,
            smtp.sender,
            smtp.recipient,
            message_id=message_id_for(message.order_id, smtp.sender, message.message_key),
        )
        await aiosmtplib.send(
            email,
            sender=smtp.sender,
            recipients=[smtp.recipient],
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            start_tls=smtp.starttls,
            use_tls=smtp.use_tls,
            timeout=smtp.timeout,
        )

    async def run(self, stop: asyncio.Event, poll_interval: float = 1.0) -> None:
        """Deliver due messages every ``poll_interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception as exc:  # a database hiccup must not end the loop
                logger.error("outbox pass failed", extra={"error": describe_error(exc)})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_interval):
                    await stop.wait()
