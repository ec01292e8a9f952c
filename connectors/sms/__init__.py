"""SMS gateways: one small interface, engines chosen by name (``kannel``, ``smpp``, ``log``).

:class:`SmsGateway` checks the recipient and the text, bounds the whole attempt in time and
leaves one method to each engine (:meth:`SmsGateway._send`). What an attempt ended in is what
the outbox needs to keep its promise «retried, never sent twice»:

- it returns an :class:`SmsReceipt`: the gateway **accepted** the message;
- :class:`SmsTemporaryError`: the gateway certainly did **not** take it (no connection, a
  refused bind, «try again later», throttled): safe to try again later;
- :class:`SmsRejected`: the gateway refused this message for good (a bad number, bad
  credentials, not routable): trying again would not help;
- :class:`SmsUncertain`: the request went out but no clear answer came back (a timeout
  after sending, a broken connection mid-way, only some parts of a long message accepted):
  the message **may** have been sent, so it is not sent again.

Error texts never contain the number or the text (personal data) nor passwords.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"[0-9]{7,15}")
# characters with the same code in ASCII and in the GSM 03.38 default alphabet (not @ $ _):
# a text of only these goes as 7-bit, any other text as UCS-2
_GSM7_ASCII = set(
    "\n\r !\"#%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
UCS2_SINGLE = 70  # UTF-16 code units in one UCS-2 SMS
UCS2_PART = 67  # ... in each part of a concatenated one (6-byte UDH)
GSM7_SINGLE = 160
GSM7_PART = 153


class SmsError(Exception):
    """A message was not (certainly) accepted; the subclass says whether to try again."""

    retry = False
    uncertain = False


class SmsTemporaryError(SmsError):
    """Not sent; try again later."""

    retry = True


class SmsRejected(SmsError):
    """Refused for good."""


class SmsUncertain(SmsError):
    """Maybe sent: never send it again automatically."""

    uncertain = True


@dataclass(frozen=True, slots=True)
class SmsReceipt:
    gateway: str
    message_id: str = ""  # the SMSC's / Kannel's id when it gives one
    parts: int = 1
    detail: str = ""  # e.g. Kannel's «0: Accepted for delivery»


def is_gsm7(text: str) -> bool:
    """True when ``text`` fits the GSM 7-bit default alphabet using only ASCII characters."""
    return all(ch in _GSM7_ASCII for ch in text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


def count_parts(text: str) -> int:
    """How many SMS ``text`` takes (GSM 7-bit when possible, else UCS-2)."""
    if is_gsm7(text):
        length, single, part = len(text), GSM7_SINGLE, GSM7_PART
    else:
        length, single, part = utf16_units(text), UCS2_SINGLE, UCS2_PART
    return 1 if length <= single else -(-length // part)


class SmsGateway:
    """Base of the engines: checks, the time limit and the outcome's log line."""

    name = "base"

    def __init__(self, *, timeout: float = 30.0, max_parts: int = 10) -> None:
        self._timeout = timeout
        self._max_parts = max_parts

    async def send(self, to: str, text: str, sender: str = "") -> SmsReceipt:
        """Send ``text`` to ``to`` (digits only, with the country code: ``79001234567``)."""
        if not _NUMBER.fullmatch(to):
            raise SmsRejected("the recipient must be 7 to 15 digits with the country code")
        if not text.strip():
            raise SmsRejected("empty text")
        parts = count_parts(text)
        if parts > self._max_parts:
            raise SmsRejected(f"the text needs {parts} parts, at most {self._max_parts} allowed")
        try:
            async with asyncio.timeout(self._timeout):
                receipt = await self._send(to, text, sender)
        except TimeoutError:
            raise SmsUncertain(f"{self.name}: no answer within {self._timeout} s") from None
        log.info(
            "SMS accepted by the gateway",
            extra={"gateway": self.name, "parts": receipt.parts, "sms_id": receipt.message_id},
        )
        return receipt

    async def _send(self, to: str, text: str, sender: str) -> SmsReceipt:
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections (the SMPP link); the gateway can still be used afterwards."""


class LogGateway(SmsGateway):
    """A dry run: accepts everything and logs only the size (the number and text are
    personal data and stay in the database row)."""

    name = "log"

    def __init__(self) -> None:
        super().__init__(timeout=5.0, max_parts=255)
        self.sent: list[tuple[str, str, str]] = []  # for tests (kept in memory, last 100)

    async def _send(self, to: str, text: str, sender: str) -> SmsReceipt:
        self.sent = [*self.sent[-99:], (to, text, sender)]
        parts = count_parts(text)
        log.info("SMS not sent (sms.gateway: log)", extra={"parts": parts, "chars": len(text)})
        return SmsReceipt(self.name, parts=parts, detail="logged")
