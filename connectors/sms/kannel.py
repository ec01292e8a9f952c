"""Kannel's HTTP ``sendsms`` (smsbox): one GET per message, Kannel splits and routes it.

The request (Kannel user's guide, «Sending SMS messages through HTTP»)::

    GET /cgi-bin/sendsms?username=…&password=…&to=79001234567&text=…&charset=UTF-8&coding=2
        [&from=Shop][&smsc=id][&dlr-mask=31&dlr-url=…]

``text`` is UTF-8 with ``charset=UTF-8``; ``coding=2`` (UCS-2) for Cyrillic, ``coding=0``
(GSM 7-bit) when the text is plain GSM-safe ASCII. Long texts are split by Kannel into
concatenated parts when the ``sendsms-user`` group has ``concatenation = true`` and
``max-messages`` > 1 (see docs/missed/sms.md for the configuration to copy).

Kannel answers ``202`` with ``0: Accepted for delivery`` or ``3: Queued for later delivery``
(both mean Kannel has the message and will deliver it); ``403`` (not routable) and ``400``
(missing or bad arguments) are refusals; ``503`` (temporal failure, try again later) and
``403 Authorization failed`` (our credentials: fixed in the config, then it goes out) are
temporary; a refused or timed-out connection means nothing was sent. A
timeout or a broken connection after the request went out is uncertain (see
:mod:`connectors.sms`).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from connectors.sms import (
    SmsGateway,
    SmsReceipt,
    SmsRejected,
    SmsTemporaryError,
    SmsUncertain,
    count_parts,
    is_gsm7,
)

ACCEPTED = ("0:", "3:")


@dataclass(slots=True)
class KannelSettings:
    """Kannel's smsbox ``sendsms`` interface (``group = sendsms-user`` in kannel.conf)."""

    url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    username: str = ""
    password: str = ""  # a secret: never logged
    smsc: str = ""  # route to this smsc-id of bearerbox ("" = Kannel chooses)
    dlr_mask: int = 0  # 0 = no delivery reports; 1..31 Kannel's dlr-mask bits
    dlr_url: str = ""  # where Kannel reports deliveries (with dlr_mask)
    connect_timeout: float = 5.0
    timeout: float = 15.0  # the whole request, connect included
    max_response_bytes: int = 4096

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("sms.kannel.url must be an http:// or https:// URL")
        if not 0 <= self.dlr_mask <= 31:
            raise ValueError("sms.kannel.dlr_mask must be between 0 and 31")
        if self.dlr_mask and not self.dlr_url:
            raise ValueError("sms.kannel.dlr_url is needed with a dlr_mask")
        if self.connect_timeout <= 0 or self.timeout <= 0:
            raise ValueError("sms.kannel: connect_timeout and timeout must be positive")
        if self.max_response_bytes < 64:
            raise ValueError("sms.kannel.max_response_bytes must be at least 64")


class KannelGateway(SmsGateway):
    name = "kannel"

    def __init__(self, settings: KannelSettings, *, max_parts: int = 10) -> None:
        super().__init__(timeout=settings.timeout + 1.0, max_parts=max_parts)
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

    def params(self, to: str, text: str, sender: str) -> dict[str, str]:
        """The query of one ``sendsms`` request."""
        s = self._settings
        params = {
            "username": s.username,
            "password": s.password,
            "to": to,
            "text": text,
            "charset": "UTF-8",
            "coding": "0" if is_gsm7(text) else "2",
        }
        if sender:
            params["from"] = sender
        if s.smsc:
            params["smsc"] = s.smsc
        if s.dlr_mask:
            params["dlr-mask"] = str(s.dlr_mask)
            params["dlr-url"] = s.dlr_url
        return params

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=self._settings.timeout, sock_connect=self._settings.connect_timeout
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def _send(self, to: str, text: str, sender: str) -> SmsReceipt:
        session = self._get_session()
        limit = self._settings.max_response_bytes
        try:
            async with session.get(self._settings.url, params=self.params(to, text, sender)) as r:
                body = (await r.content.read(limit)).decode("utf-8", "replace").strip()
                status = r.status
        except aiohttp.ClientConnectorError as exc:
            raise SmsTemporaryError(f"kannel: cannot connect ({type(exc).__name__})") from None
        except aiohttp.ConnectionTimeoutError:
            raise SmsTemporaryError("kannel: connection timed out") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SmsUncertain(f"kannel: no clear answer ({type(exc).__name__})") from None
        answer = _short(body)
        if 200 <= status < 300 and body.startswith(ACCEPTED):
            return SmsReceipt(self.name, parts=count_parts(text), detail=answer)
        if status == 503 or (status == 403 and "authorization" in answer.lower()):
            # busy, or our credentials are wrong: a person fixes the config, then it goes out
            raise SmsTemporaryError(f"kannel: HTTP {status} {answer}")
        if 400 <= status < 500:
            raise SmsRejected(f"kannel: HTTP {status} {answer}")
        raise SmsUncertain(f"kannel: HTTP {status} {answer}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _short(body: str) -> str:
    line = body.splitlines()[0] if body else ""
    return "".join(ch for ch in line if ch.isprintable())[:120]
