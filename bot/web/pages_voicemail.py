"""Голосовые сообщения: the voice messages clients left on call-backs (the manual's tab of that
name): a period (today, yesterday, the last 7 or 30 days, custom dates, all), a fragment of
the number (the caller's or the one dialled), newest first with paging, a player per message
and «Скачать». The messages and their files are :class:`bot.missed.voicemail.VoiceMessages`
(``voice_messages``, files under ``callbacks.voicemail_dir``; a path outside it is never
served).

Rights as «Пропущенные» (:mod:`bot.web.pages_missed`): admins and supervisors hear every
message; a manager only those left on call-backs of calls missed on the manager's own
extension. The first listen of a message in a session (the player asks for pieces as it
plays and seeks) and every download are rows of the audit log.
"""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from aiohttp import web

from bot.journal.queries import PERIODS, Filters
from bot.missed.voicemail import VoiceMessage, VoiceMessages
from bot.web.app import Console
from bot.web.layout import SESSION_KEY, can, page, render
from bot.web.pages_journal import phone, seconds
from bot.web.pages_missed import fragment, missed_zone
from connectors.shop.schema import missed_calls, utc_text, voice_messages

VOICEMAIL = web.AppKey("voicemail_pages", object)
LISTEN_AUDIT_S = 1800.0  # one audit row per message and session in this long


class VoicemailPages:
    def __init__(self, state: Console) -> None:
        self.state = state
        self._listened: dict[tuple[str, int], float] = {}

    @property
    def zone(self) -> tzinfo:
        return missed_zone(self.state.host.settings)

    @property
    def messages(self) -> VoiceMessages:
        return VoiceMessages(self.state.db, self.state.host.settings.callbacks.voicemail_dir)

    def own_extension(self, request: web.Request) -> str | None:
        session = request[SESSION_KEY]
        if can(session, "missed_all"):
            return None
        return session.user.extension or ""

    def _own_where(
        self, extension: str, start: datetime | None, end: datetime | None, number: str
    ) -> list[sa.ColumnElement[bool]]:
        """A manager's messages: those left on call-backs of calls missed on ``extension``."""
        t, m = voice_messages.c, missed_calls.c
        where: list[sa.ColumnElement[bool]] = [
            m.source_kind == "extension",
            m.source == extension,
        ]
        if start is not None:
            where.append(t.recorded_at >= utc_text(start))
        if end is not None:
            where.append(t.recorded_at < utc_text(end))
        if number:
            where.append(sa.or_(t.caller.like(f"%{number}%"), t.called.like(f"%{number}%")))
        return where

    async def _own(
        self, where: list[sa.ColumnElement[bool]], limit: int, offset: int
    ) -> tuple[list[int], int]:
        """The ids of one page of a manager's messages (newest first) and how many in all."""
        t = voice_messages.c
        joined = voice_messages.join(missed_calls, t.missed_id == missed_calls.c.id)

        def read(conn: sa.Connection) -> tuple[list[int], int]:
            ids = (
                sa.select(t.id)
                .select_from(joined)
                .where(*where)
                .order_by(t.recorded_at.desc(), t.id.desc())
                .limit(limit)
                .offset(offset)
            )
            count = sa.select(sa.func.count()).select_from(joined).where(*where)
            found = [int(i) for i in conn.execute(ids).scalars()]
            return found, int(conn.execute(count).scalar_one())

        return await self.state.db.read(read)

    async def may_hear(self, message: VoiceMessage, extension: str | None) -> bool:
        if extension is None:
            return True
        if not extension or message.missed_id is None:
            return False
        where = [*self._own_where(extension, None, None, ""), voice_messages.c.id == message.id]
        found, _total = await self._own(where, 1, 0)
        return found == [message.id]

    # -- the list ----------------------------------------------------------------------------

    async def list(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        filters = Filters.parse({k: query.get(k, "") for k in ("period", "from", "to")})
        filters.number = fragment(query.get("number", ""))
        try:
            offset = max(0, int(query.get("offset", "0") or "0"))
        except ValueError:
            offset = 0
        size = self.state.host.settings.journal.page_size
        start, end = filters.bounds(self.zone)
        extension = self.own_extension(request)
        found: list[VoiceMessage] = []
        if extension is None:
            found = await self.messages.list_voice_messages(
                start, end, filters.number, limit=size, offset=offset
            )
            total = await self.messages.count(start, end, filters.number)
        elif extension:
            where = self._own_where(extension, start, end, filters.number)
            ids, total = await self._own(where, size, offset)
            for number in ids:
                message = await self.messages.get(number)
                if message is not None:
                    found.append(message)
        else:
            total = 0

        def link(**changes: Any) -> str:
            values = filters.query(offset=offset or "")
            values.update({k: str(v) for k, v in changes.items()})
            return urlencode({k: v for k, v in values.items() if v not in ("", "0")})

        context = {
            "filters": filters,
            "periods": PERIODS,
            "found": found,
            "total": total,
            "offset": offset,
            "size": size,
            "own_only": extension is not None,
            "extension": extension,
            "query": link,
            "phone": phone,
            "seconds": seconds,
            "local": lambda moment: moment.astimezone(self.zone),
        }
        return render(request, "voicemail.html", context)

    # -- the file ----------------------------------------------------------------------------

    async def audio(self, request: web.Request) -> web.StreamResponse:
        number = int(request.match_info["id"])
        message = await self.messages.get(number)
        if message is None or not await self.may_hear(message, self.own_extension(request)):
            raise web.HTTPNotFound(text="Нет такого сообщения.")
        path = self.messages.path_of(message)
        if path is None:
            raise web.HTTPNotFound(text="Файла этого сообщения нет.")
        session = request[SESSION_KEY]
        download = request.query.get("download") == "1"
        if download:
            await self.state.record(request, "скачивание голосового сообщения", str(number))
        else:
            self._forget_old()
            seen = self._listened.get((session.token_hash, number))
            if seen is None or time.monotonic() - seen > LISTEN_AUDIT_S:
                await self.state.record(request, "прослушивание голосового сообщения", str(number))
            self._listened[(session.token_hash, number)] = time.monotonic()
        headers = {"Content-Type": "audio/ogg; codecs=opus"}
        if download:
            stamp = message.recorded_at.astimezone(self.zone)
            name = f"voicemail-{stamp:%Y%m%d-%H%M%S}-{number}.opus"
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return web.FileResponse(path, headers=headers)

    def _forget_old(self) -> None:
        if len(self._listened) > 10000:
            cutoff = time.monotonic() - LISTEN_AUDIT_S
            self._listened = {k: v for k, v in self._listened.items() if v > cutoff}


def add_routes(app: web.Application, state: Console) -> None:
    pages = VoicemailPages(state)
    app[VOICEMAIL] = pages
    app.router.add_get("/voicemail", page("missed")(pages.list))
    app.router.add_get("/voicemail/{id:[0-9]{1,12}}/audio", page("missed")(pages.audio))
