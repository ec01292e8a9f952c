"""Name cleaning through dadata's ``clean/name`` API (Кейс 2).

Wire format (https://dadata.ru/api/clean/name/)::

    POST https://cleaner.dadata.ru/api/v1/clean/name
    Content-Type: application/json
    Accept: application/json
    Authorization: Token <API key>
    X-Secret: <secret key>

    ["Срегей владимерович иванов"]

answers a JSON array with one object per input string::

    [{"source": "Срегей владимерович иванов", "result": "Иванов Сергей Владимирович",
      "result_genitive": "...", "result_dative": "...", "result_ablative": "...",
      "surname": "Иванов", "name": "Сергей", "patronymic": "Владимирович",
      "gender": "М", "qc": 1}]

``qc`` is the check code: 0 = recognised confidently, no manual check needed; any other value
(1 = recognised with assumptions or not recognised; 2 = empty or garbage input in older docs)
means a person should check it. We accept a name only when ``qc == 0`` and ``name`` is set.

Names are personal data: they never appear in log message text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

SOURCE_DADATA = "dadata"
SOURCE_ERROR = "dadata-error"
SOURCE_DISABLED = "dadata-disabled"
SOURCE_EMPTY = "empty"
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class DadataSettings:
    """Credentials and limits of the dadata name cleaner (no token = cleaner disabled)."""

    token: str | None = None
    secret: str | None = None
    url: str = "https://cleaner.dadata.ru/api/v1/clean/name"
    timeout: float = 3.0

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("dadata timeout must be positive")
        if not self.url.startswith(("https://", "http://")):
            raise ValueError("dadata url must be an http(s) URL")

    @property
    def enabled(self) -> bool:
        return bool(self.token)


@dataclass(frozen=True, slots=True)
class CleanedName:
    """The first name dadata found, whether it is certain, and where the answer came from."""

    first_name: str | None
    certain: bool
    source: str


class DadataError(Exception):
    """dadata answered something we cannot use (kept internal; ``clean`` never raises it)."""


def _parse_answer(payload: Any) -> CleanedName:
    if not isinstance(payload, list) or not payload or not isinstance(payload[0], dict):
        raise DadataError("answer is not a non-empty JSON array of objects")
    item = payload[0]
    qc = item.get("qc")
    name = item.get("name")
    first_name = name.strip() if isinstance(name, str) and name.strip() else None
    certain = isinstance(qc, int) and not isinstance(qc, bool) and qc == 0
    return CleanedName(first_name, certain and first_name is not None, SOURCE_DADATA)


class DadataNameCleaner:
    """Asks dadata for the first name inside a free-form full name.

    Use as ``async with DadataNameCleaner(settings) as cleaner:`` or call :meth:`close`.
    A session may be passed in to share connection pools; then it is not closed here.
    """

    def __init__(
        self, settings: DadataSettings, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self._settings = settings
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> DadataNameCleaner:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Token {self._settings.token}",
        }
        if self._settings.secret:
            headers["X-Secret"] = self._settings.secret
        return headers

    async def clean(self, raw: str) -> CleanedName:
        """Clean one full name; never raises for network or service trouble."""
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            return CleanedName(None, False, SOURCE_EMPTY)
        if not self._settings.enabled:
            logger.info("dadata is not configured; name left uncleaned")
            return CleanedName(None, False, SOURCE_DISABLED)
        try:
            result = await self._request(text)
        except (TimeoutError, aiohttp.ClientError, DadataError, ValueError) as exc:
            logger.warning(
                "dadata clean/name failed",
                extra={"error": type(exc).__name__, "timeout_s": self._settings.timeout},
            )
            return CleanedName(None, False, SOURCE_ERROR)
        logger.info("dadata clean/name answered", extra={"certain": result.certain})
        return result

    async def _request(self, text: str) -> CleanedName:
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout)
        session = self._get_session()
        body = json.dumps([text], ensure_ascii=False).encode("utf-8")
        async with session.post(
            self._settings.url, data=body, headers=self._headers(), timeout=timeout
        ) as response:
            if response.status != 200:
                raise DadataError(f"HTTP {response.status}")
            raw = await response.content.read(MAX_RESPONSE_BYTES + 1)
            if len(raw) > MAX_RESPONSE_BYTES:
                raise DadataError("answer too large")
        return _parse_answer(json.loads(raw.decode("utf-8")))
