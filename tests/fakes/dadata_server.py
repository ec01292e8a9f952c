"""A local stand-in for dadata's ``clean/name`` API (aiohttp web server on 127.0.0.1).

It speaks the documented wire format: POST a JSON array of strings with
``Authorization: Token <key>`` and ``X-Secret: <secret>``; the answer is a JSON array of
objects with source, result, result_genitive, result_dative, result_ablative, surname, name,
patronymic, gender and qc (0 = confident, 1 = needs a human check).

Modes (set ``server.mode`` at any time):

- ``"auto"``: a small dictionary of first names decides: a known first name gives qc=0,
  anything else (``"ООО Ромашка"``) gives qc=1 and no name;
- ``"unsure"``: always qc=1 (name still filled when known);
- ``"hang"``: waits ``hang_seconds`` before answering (longer than the client timeout);
- ``"error500"``: HTTP 500;
- ``"garbage"``: HTTP 200 with a body that is not JSON.

Wrong or missing ``Authorization`` / ``X-Secret`` gets HTTP 401 / 403, like the real service.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

TOKEN = "test-token"
SECRET = "test-secret"

FIRST_NAMES = {
    "анна": ("Анна", "Ж"),
    "мария": ("Мария", "Ж"),
    "сергей": ("Сергей", "М"),
    "иван": ("Иван", "М"),
    "олег": ("Олег", "М"),
}


@dataclass
class ReceivedRequest:
    headers: dict[str, str]
    body: Any


def clean_name(source: str, *, force_unsure: bool = False) -> dict[str, Any]:
    """What dadata would roughly answer for ``source`` (good enough for the tests)."""
    words = source.split()
    name = surname = patronymic = None
    gender = "НД"
    rest: list[str] = []
    for word in words:
        known = FIRST_NAMES.get(word.casefold())
        if known and name is None:
            name, gender = known
        elif word.casefold().endswith(("вич", "вна")) and patronymic is None:
            patronymic = word.capitalize()
        else:
            rest.append(word.capitalize())
    if name is not None and rest:
        surname = rest[0]
    parts = [p for p in (surname, name, patronymic) if p]
    qc = 0 if name is not None and not force_unsure else 1
    if name is None:
        surname = " ".join(rest) or None
    result = " ".join(parts) if parts else None
    return {
        "source": source,
        "result": result,
        "result_genitive": result,
        "result_dative": result,
        "result_ablative": result,
        "surname": surname,
        "name": name,
        "patronymic": patronymic,
        "gender": gender,
        "qc": qc,
    }


class FakeDadata:
    """Run with ``async with FakeDadata() as server:``; point the client at ``server.url``."""

    def __init__(self, mode: str = "auto", *, hang_seconds: float = 10.0) -> None:
        self.mode = mode
        self.hang_seconds = hang_seconds
        self.requests: list[ReceivedRequest] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/clean/name"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body_text = await request.text()
        try:
            body: Any = json.loads(body_text)
        except ValueError:
            body = body_text
        self.requests.append(ReceivedRequest(dict(request.headers), body))
        if request.headers.get("Authorization") != f"Token {TOKEN}":
            return web.json_response({"detail": "Invalid token"}, status=401)
        if request.headers.get("X-Secret") != SECRET:
            return web.json_response({"detail": "Invalid secret"}, status=403)
        if not isinstance(body, list) or not all(isinstance(s, str) for s in body):
            return web.json_response({"detail": "Bad request"}, status=400)
        if self.mode == "hang":
            await asyncio.sleep(self.hang_seconds)
        if self.mode == "error500":
            return web.Response(status=500, text="Internal Server Error")
        if self.mode == "garbage":
            return web.Response(status=200, text="<html>oops</html>", content_type="text/html")
        unsure = self.mode == "unsure"
        answer = [clean_name(source, force_unsure=unsure) for source in body]
        return web.json_response(answer, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def start(self) -> FakeDadata:
        app = web.Application()
        app.router.add_post("/api/v1/clean/name", self._handle)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDadata:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
