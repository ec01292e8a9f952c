"""HTTP to a Rasa server: ``POST /model/parse`` (NLU) and the REST channel (dialogue).

Every request has a deadline (``asyncio.timeout`` around the whole exchange). A Rasa that is
down, slow, or answers with something that is not what its API promises raises
:class:`RasaUnavailable` with a short ``reason`` (``timeout``, ``error``, ``bad_answer``):
the callers decide what the caller hears then (the embedded model, or a person). What was
said never goes into the log text.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from bot.rasa.settings import RasaSettings

REST_WEBHOOK = "/webhooks/rest/webhook"
PARSE = "/model/parse"


class RasaUnavailable(Exception):
    """Rasa did not answer usefully in time."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"Rasa unavailable: {reason}{f' ({detail})' if detail else ''}")
        self.reason = reason
        self.message_ru = {
            "timeout": "Rasa не ответил вовремя.",
            "bad_answer": "Rasa ответил не по протоколу.",
        }.get(reason, "Rasa недоступен.")


class RasaClient:
    def __init__(self, settings: RasaSettings) -> None:
        self.settings = settings

    async def parse(self, text: str) -> dict[str, Any]:
        """Rasa's NLU result for ``text`` (``intent``, ``entities``, ``intent_ranking``)."""
        answer = await self._post(PARSE, {"text": text}, self.settings.nlu_timeout_s)
        if not isinstance(answer, dict) or not isinstance(answer.get("intent"), dict):
            raise RasaUnavailable("bad_answer", "no intent in /model/parse")
        return answer

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any], timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        """One message to the assistant over the REST channel; its answers, in order."""
        body = {"sender": sender, "message": message, "metadata": metadata}
        answer = await self._post(REST_WEBHOOK, body, timeout_s or self.settings.timeout_s)
        if not isinstance(answer, list) or not all(isinstance(m, dict) for m in answer):
            raise RasaUnavailable("bad_answer", "the REST channel did not answer a list")
        return answer

    async def _post(self, path: str, body: dict[str, Any], timeout_s: float) -> Any:
        params = {"token": self.settings.token} if self.settings.token else None
        try:
            async with asyncio.timeout(timeout_s):
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(self.settings.url + path, json=body, params=params) as response,
                ):
                    if response.status != 200:
                        raise RasaUnavailable("error", f"HTTP {response.status} from {path}")
                    text = await response.text()
        except TimeoutError:
            raise RasaUnavailable("timeout", path) from None
        except aiohttp.ClientError as exc:
            raise RasaUnavailable("error", f"{type(exc).__name__} on {path}") from None
        try:
            return json.loads(text)
        except ValueError:
            raise RasaUnavailable("bad_answer", f"not JSON from {path}") from None
