"""Пропущенные: the missed-call journal of the manual (``004_*.txt``, «Журнал пропущенных»).

The list, newest first, with when the call was missed, from which number, to which number,
the source (an external number, a queue, an employee's extension, the bot's own handoff),
the wait, the call-back status with its Russian label (:mod:`bot.missed.statuses`) and when
it was set; filters by period (today, yesterday, the last 7 or 30 days, custom dates, all),
by a fragment of the number, by status and by source; «Скачать отчёт» ``.xlsx`` / ``.csv``
(:mod:`bot.web.missed_export`) of the filtered list; a row's page with what happened to the
call (the call-back attempts, when the client called again, who talked with the client).

Rights (:mod:`bot.web.layout`): ``missed`` (admins, supervisors, managers) reads the journal;
a role without ``missed_all`` (a manager) sees only the calls missed on the extension set on
the users page, as the call journal shows a manager only the calls handed to that extension;
other calls are «not found». Every export and every row opened is audited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from aiohttp import web
from multidict import MultiMapping

from bot.config import Settings
from bot.journal import queries
from bot.journal.queries import PERIODS, Filters
from bot.missed.statuses import LABELS, STATUSES, label
from bot.missed.store import MissedCall, MissedCallStore
from bot.web import missed_export
from bot.web.app import Console
from bot.web.layout import SESSION_KEY, can, page, render
from bot.web.missed_details import ATTEMPT_TITLES, details_of
from bot.web.pages_journal import phone, seconds
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import bot_calls, missed_calls

MISSED = web.AppKey("missed_pages", object)
NUMBER_MAX = 15
SOURCES_MAX = 200


@dataclass(slots=True)
class MissedFilters:
    """The journal's filters, from the page's query string (bad values fall back quietly)."""

    period: str = "week"
    start: date | None = None  # custom period, local dates, inclusive
    end: date | None = None
    number: str = ""  # digits of the caller's or the called number
    statuses: list[str] = field(default_factory=list)
    source: str = ""  # kind:source, e.g. "queue:sales"
    offset: int = 0

    @classmethod
    def parse(cls, query: MultiMapping[str] | Mapping[str, str]) -> MissedFilters:
        base = Filters.parse({k: query.get(k, "") or "" for k in ("period", "from", "to")})
        wanted = query.getall("status", []) if isinstance(query, MultiMapping) else []
        if not wanted and query.get("status"):
            wanted = [str(query.get("status"))]
        try:
            offset = max(0, int(query.get("offset", "0") or "0"))
        except ValueError:
            offset = 0
        return cls(
            period=base.period,
            start=base.start,
            end=base.end,
            number=fragment(str(query.get("number", ""))),
            statuses=[s for s in STATUSES if s in wanted],
            source=str(query.get("source", "")).strip()[:100],
            offset=offset,
        )

    def query(self, **changes: object) -> list[tuple[str, str]]:
        """The filters as query parameters (for links: pages, export)."""
        values: dict[str, Any] = {
            "period": self.period,
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "number": self.number,
            "status": self.statuses,
            "source": self.source,
            "offset": str(self.offset) if self.offset else "",
        }
        values.update(changes)
        pairs: list[tuple[str, str]] = []
        for key, value in values.items():
            for item in value if isinstance(value, list) else [value]:
                if item not in ("", None):
                    pairs.append((key, str(item)))
        return pairs

    def bounds(self, zone: tzinfo, now: datetime | None = None) -> tuple[datetime | None, ...]:
        """The period as [start, end) aware datetimes (None: open), as the call journal's."""
        return Filters(period=self.period, start=self.start, end=self.end).bounds(zone, now)


def missed_zone(settings: Settings) -> tzinfo:
    """The shop's time zone for missed calls: ``missed.timezone``, else ``journal.timezone``,
    else the server's (as the intake reads the PBX's times)."""
    return queries.zone_of(settings.missed.timezone or settings.journal.timezone)


def fragment(text: str) -> str:
    """The digits of a number fragment. The numbers are stored as their last 10 digits, so a
    country prefix goes: ``+7 916…``, ``8 916…``, ``8(916)…``, or 11 digits from 7 or 8."""
    digits = "".join(c for c in text if c.isdigit())
    start = text.strip()
    prefixed = start.startswith("+7") or (start[:1] in "78" and start[1:2] in (" ", "(", "-"))
    if digits and (prefixed or (len(digits) == 11 and digits[0] in "78")):
        digits = digits[1:]
    return digits[:NUMBER_MAX]


@dataclass(slots=True)
class Shown:
    """One page of the list."""

    calls: list[MissedCall]
    total: int
    offset: int
    size: int


class MissedPages:
    def __init__(self, state: Console) -> None:
        self.state = state
        self._store: MissedCallStore | None = None

    @property
    def zone(self) -> tzinfo:
        return missed_zone(self.state.host.settings)

    @property
    def store(self) -> MissedCallStore:
        if self._store is None:
            self._store = MissedCallStore(self.state.db)
        return self._store

    def own_extension(self, request: web.Request) -> str | None:
        """None: the viewer sees every missed call; else only those on this extension."""
        session = request[SESSION_KEY]
        if can(session, "missed_all"):
            return None
        return session.user.extension or ""

    def visible(self, call: MissedCall, extension: str | None) -> bool:
        if extension is None:
            return True
        return bool(extension) and call.source_kind == "extension" and call.source == extension

    def _criteria(self, filters: MissedFilters, extension: str | None) -> dict[str, Any]:
        start, end = filters.bounds(self.zone)
        kind, _sep, source = filters.source.partition(":")
        if extension is not None:  # a manager: the own extension only
            kind, source = "extension", extension
        return {
            "period_from": start,
            "period_to": end,
            "number_fragment": filters.number,
            "statuses": filters.statuses or None,
            "source": source or None,
            "source_kind": kind or None,
        }

    async def sources(self) -> list[tuple[str, str]]:
        """The sources seen (``kind:source`` and its title), for the filter's list."""

        def seen(conn: sa.Connection) -> list[tuple[str, str]]:
            t = missed_calls.c
            query = (
                sa.select(t.source_kind, t.source)
                .distinct()
                .order_by(t.source_kind, t.source)
                .limit(SOURCES_MAX)
            )
            return [(str(k), str(v)) for k, v in conn.execute(query)]

        found = await self.state.db.read(seen)
        return [(f"{k}:{v}", missed_export.source_title(k, v)) for k, v in found]

    async def _rows(
        self, filters: MissedFilters, extension: str | None, limit: int, offset: int
    ) -> tuple[list[MissedCall], int]:
        if extension == "":
            return [], 0  # a manager without an extension: nothing is theirs
        criteria = self._criteria(filters, extension)
        calls = await self.store.list(**criteria, limit=limit, offset=offset)
        total = await self.store.count(**criteria)
        return calls, total

    # -- the list ----------------------------------------------------------------------------

    async def journal(self, request: web.Request) -> web.StreamResponse:
        filters = MissedFilters.parse(request.query)
        size = self.state.host.settings.journal.page_size
        extension = self.own_extension(request)
        calls, total = await self._rows(filters, extension, size, filters.offset)
        context = {
            "filters": filters,
            "shown": Shown(calls, total, filters.offset, size),
            "periods": PERIODS,
            "labels": LABELS,
            "own_only": extension is not None,
            "extension": extension,
            "query": lambda **changes: urlencode(filters.query(**changes)),
            "phone": phone,
            "seconds": seconds,
            "label": label,
            "local": lambda value: missed_export.moment(value, self.zone),
            "source_title": missed_export.source_title,
            "sources": [] if extension is not None else await self.sources(),
        }
        return render(request, "missed.html", context)

    async def export(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        filters = MissedFilters.parse(request.query)
        limit = self.state.host.settings.journal.export_max_rows
        calls, _total = await self._rows(filters, self.own_extension(request), limit, 0)
        if kind == "xlsx":
            body = await asyncio.to_thread(missed_export.to_xlsx, calls, self.zone)
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            body = await asyncio.to_thread(missed_export.to_csv, calls, self.zone)
            content_type = "text/csv; charset=utf-8"
        await self.state.record(
            request, "выгрузка пропущенных", f".{kind}", "", f"{len(calls)} звонков"
        )
        name = f"missed-{datetime.now(self.zone):%Y%m%d-%H%M}.{kind}"
        return web.Response(
            body=body,
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )

    # -- one row -----------------------------------------------------------------------------

    async def detail(self, request: web.Request) -> web.StreamResponse:
        number = int(request.match_info["id"])
        call = await self.store.get(number)
        if call is None or not self.visible(call, self.own_extension(request)):
            raise web.HTTPNotFound(text="Нет такого пропущенного звонка.")
        await self.state.record(request, "просмотр пропущенного", str(number))
        context = {
            "call": call,
            "details": details_of(call, self.zone),
            "phone": phone,
            "seconds": seconds,
            "label": label,
            "local": lambda value: missed_export.moment(value, self.zone),
            "source_title": missed_export.source_title,
            "intakes": missed_export.INTAKES,
            "titles": ATTEMPT_TITLES,
            "journal_key": await self._journal_key(call.call_id),
        }
        return render(request, "missed_call.html", context)

    async def _journal_key(self, call_id: str | None) -> str | None:
        """The call journal's key of the bot's call (a bot handoff nobody answered)."""
        if not call_id:
            return None

        def find(conn: sa.Connection) -> str | None:
            query = sa.select(bot_calls.c.id).where(bot_calls.c.call_id == call_id).limit(1)
            return conn.execute(query).scalar_one_or_none()

        return await self.state.db.read(find)


WAIT_PERIODS = (("today", "сегодня"), ("week", "неделя"), ("month", "месяц"))


async def wait_tile(
    db: ShopDatabase, settings: Settings, now: datetime | None = None
) -> list[tuple[str, str, str]]:
    """The dashboard's «Время ожидания ответа»: how long the missed callers waited, today,
    the last 7 and the last 30 days (:meth:`MissedCallStore.wait_figures`), in the shop's
    days (:func:`missed_zone`)."""
    store = MissedCallStore(db)
    zone = missed_zone(settings)
    tile = []
    for period, title in WAIT_PERIODS:
        start, _end = Filters(period=period).bounds(zone, now)
        assert start is not None
        figures = await store.wait_figures(start)
        if figures["count"]:
            text = (
                f"в среднем {seconds(figures['avg_s'])}, дольше всех {seconds(figures['max_s'])}"
                f" · пропущенных {figures['count']}"
            )
        else:
            text = "пропущенных нет"
        tile.append((period, title, text))
    return tile


def add_routes(app: web.Application, state: Console) -> None:
    pages = MissedPages(state)
    app[MISSED] = pages
    app.router.add_get("/missed", page("missed")(pages.journal))
    app.router.add_get("/missed/export.{kind:xlsx|csv}", page("missed")(pages.export))
    app.router.add_get("/missed/calls/{id:[0-9]{1,12}}", page("missed")(pages.detail))
