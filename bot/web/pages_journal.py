"""Журнал звонков: the list of calls with filters, «Скачать отчёт» (.xlsx, .csv), a call's page
(the transcript as a chat, turn timings, the order, the recording's player), the recording.

Rights (:mod:`bot.web.layout`): ``journal`` (admins, supervisors, managers) reads the
journal; a role without ``journal_all`` (a manager) sees only the calls transferred to the
extension set on the users page, every other call is «not found». Every view and download of
a recording is audited: the player's first request of a call in a session (the browser asks
for pieces as it plays and seeks), and each download.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, tzinfo
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from bot.journal import export, queries
from bot.journal.queries import PERIODS, REASONS, RESULTS, Filters, Scope
from bot.web.app import Console
from bot.web.layout import SESSION_KEY, can, page, render

JOURNAL = web.AppKey("journal_pages", object)
LISTEN_AUDIT_S = 1800.0  # one audit row per call and session in this long


class JournalPages:
    def __init__(self, state: Console) -> None:
        self.state = state
        self._listened: dict[tuple[str, str], float] = {}

    @property
    def zone(self) -> tzinfo:
        return queries.zone_of(self.state.host.settings.journal.timezone)

    @property
    def recordings_root(self) -> Path | None:
        folder = self.state.host.settings.recordings.dir
        return Path(folder) if folder is not None else None

    def scope(self, request: web.Request) -> Scope:
        session = request[SESSION_KEY]
        if can(session, "journal_all"):
            return Scope()
        return Scope(extension=session.user.extension or "")

    # -- the list ----------------------------------------------------------------------------

    async def journal(self, request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query)
        size = self.state.host.settings.journal.page_size
        scope = self.scope(request)
        found = await queries.list_calls(self.state.db, filters, scope, self.zone, limit=size)
        now = datetime.now(self.zone)
        context = {
            "filters": filters,
            "page": found,
            "now": now,
            "periods": PERIODS,
            "results": RESULTS,
            "reasons": REASONS,
            "own_only": scope.extension is not None,
            "extension": scope.extension,
            "query": lambda **changes: urlencode(filters.query(**changes)),
            "phone": phone,
            "seconds": seconds,
        }
        return render(request, "journal.html", context)

    async def export(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        filters = Filters.parse(request.query)
        limit = self.state.host.settings.journal.export_max_rows
        scope = self.scope(request)
        rows = await queries.export_rows(self.state.db, filters, scope, self.zone, limit)
        if kind == "xlsx":
            body = await asyncio.to_thread(export.to_xlsx, rows)
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            body = await asyncio.to_thread(export.to_csv, rows)
            content_type = "text/csv; charset=utf-8"
        await self.state.record(request, "выгрузка журнала", f".{kind}", "", f"{len(rows)} звонков")
        name = f"calls-{datetime.now(self.zone):%Y%m%d-%H%M}.{kind}"
        return web.Response(
            body=body,
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )

    # -- one call ----------------------------------------------------------------------------

    async def call(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        detail = await queries.call_detail(self.state.db, key, self.scope(request), self.zone)
        if detail is None:
            raise web.HTTPNotFound(text="Нет такого звонка.")
        await self.state.record(request, "просмотр звонка", key)
        recording = self._file(detail.call.recording)
        context = {
            "detail": detail,
            "call": detail.call,
            "now": datetime.now(self.zone),
            "has_recording": recording is not None,
            "phone": phone,
            "seconds": seconds,
            "reasons": REASONS,
        }
        return render(request, "journal_call.html", context)

    def _file(self, relative: str | None) -> Path | None:
        root = self.recordings_root
        if not relative or root is None:
            return None
        path = (root / relative).resolve()
        if root.resolve() not in path.parents or not path.is_file():
            return None
        return path

    async def recording(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        relative = await queries.recording_of(self.state.db, key, self.scope(request))
        path = self._file(relative)
        if path is None:
            raise web.HTTPNotFound(text="Записи этого звонка нет.")
        session = request[SESSION_KEY]
        download = request.query.get("download") == "1"
        if download:
            await self.state.record(request, "скачивание записи", key)
        else:
            self._forget_old()
            seen = self._listened.get((session.token_hash, key))
            if seen is None or time.monotonic() - seen > LISTEN_AUDIT_S:
                await self.state.record(request, "прослушивание записи", key)
            self._listened[(session.token_hash, key)] = time.monotonic()
        headers = {"Content-Type": "audio/ogg; codecs=opus"}
        if download:
            headers["Content-Disposition"] = f'attachment; filename="call-{key[:12]}.opus"'
        return web.FileResponse(path, headers=headers)

    def _forget_old(self) -> None:
        if len(self._listened) > 10000:
            cutoff = time.monotonic() - LISTEN_AUDIT_S
            self._listened = {k: v for k, v in self._listened.items() if v > cutoff}


def phone(number: str) -> str:
    """``9607775577`` ➜ ``+7 960 777-55-77`` (other numbers as they are)."""
    if len(number) == 10 and number.isdigit():
        return f"+7 {number[:3]} {number[3:6]}-{number[6:8]}-{number[8:]}"
    return number


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    whole = round(value)
    return f"{whole // 60}:{whole % 60:02d}" if whole >= 60 else f"{value:.1f} с"


def add_routes(app: web.Application, state: Console) -> None:
    pages = JournalPages(state)
    app[JOURNAL] = pages
    app.router.add_get("/journal", page("journal")(pages.journal))
    app.router.add_get("/journal/export.{kind:xlsx|csv}", page("journal")(pages.export))
    app.router.add_get("/journal/calls/{key:[0-9a-f]{32}}", page("journal")(pages.call))
    app.router.add_get(
        "/journal/calls/{key:[0-9a-f]{32}}/recording", page("journal")(pages.recording)
    )
