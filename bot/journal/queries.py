"""What the journal's pages read: the filtered list of calls, one call with its transcript,
and who may see which calls.

Filters (:class:`Filters`, from the page's query string): a period (today, yesterday, the
last 7 or 30 days, a custom range of dates, or everything), a fragment of the caller's or the
called number, the result (order accepted, transferred, no order, error, in progress), the
handoff reason and the route. Days are the journal's local days (``journal.timezone``).
:class:`Scope` is the viewer's right: everything, or only the calls transferred to one
extension (a manager).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bot.journal.store import MISSED_ARTICLE_KEYS
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import bot_call_events, bot_call_turns, bot_calls, parse_time, utc_text

PERIODS = {
    "today": "сегодня",
    "yesterday": "вчера",
    "week": "неделя",
    "month": "месяц",
    "custom": "период",
    "all": "всё время",
}
RESULTS = {
    "order": "заказ принят",
    "transfer": "переведён",
    "hangup": "без заказа",
    "error": "ошибка",
    "active": "идёт / прервался",
}
REASONS = {
    "article_not_recognized": "не понял артикул",
    "quantity_not_confirmed": "не подтвердил количество",
    "order_not_confirmed": "не подтвердил заказ",
    "not_understood": "не понял ответ",
    "caller_request": "попросил оператора",
    "silence": "молчание",
    "error": "ошибка сохранения",
    "engine_error": "сбой речи",
    "recognition_timeout": "распознавание не успело",
    "max_call_length": "слишком долгий звонок",
    "shutdown": "остановка сервера",
    "rasa_unavailable": "Rasa недоступна",
    "greeting_done": "поздоровался, дальше по схеме АТС",  # Telphin Call Interactive
    "status_done": "назвал статус, дальше по схеме АТС",
}
# past the longest call (voice.max_call_seconds, 600 s) a call still «active» was cut off by a
# crash of its server
INTERRUPTED_AFTER_S = 660.0


@dataclass(frozen=True, slots=True)
class Scope:
    """Which calls a viewer sees: all (``extension`` None) or those handed to an extension."""

    extension: str | None = None

    def where(self) -> sa.ColumnElement[bool] | None:
        if self.extension is None:
            return None
        target = bot_calls.c.handoff_target
        ext = self.extension
        if not ext:
            return sa.false()
        return sa.or_(target == ext, target.like(f"%/{ext}"))


@dataclass(slots=True)
class Filters:
    period: str = "week"
    start: date | None = None  # custom period, local dates, inclusive
    end: date | None = None
    number: str = ""  # digits
    result: str = ""
    reason: str = ""
    route: str = ""
    offset: int = 0

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Filters:
        period = query.get("period", "week")
        filters = cls(period=period if period in PERIODS else "week")
        filters.start = _date(query.get("from", ""))
        filters.end = _date(query.get("to", ""))
        filters.number = re.sub(r"\D", "", query.get("number", ""))[:15]
        result = query.get("result", "")
        filters.result = result if result in RESULTS else ""
        filters.reason = query.get("reason", "")[:64]
        filters.route = query.get("route", "")[:64]
        try:
            filters.offset = max(0, int(query.get("offset", "0")))
        except ValueError:
            filters.offset = 0
        return filters

    def query(self, **changes: object) -> dict[str, str]:
        """The filters as query parameters (for links: pages, export)."""
        values: dict[str, Any] = {
            "period": self.period,
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "number": self.number,
            "result": self.result,
            "reason": self.reason,
            "route": self.route,
            "offset": str(self.offset) if self.offset else "",
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}

    def bounds(self, zone: tzinfo, now: datetime | None = None) -> tuple[datetime | None, ...]:
        """The period as [start, end) aware datetimes (None: open)."""
        now = (now or datetime.now(zone)).astimezone(zone)
        today = datetime.combine(now.date(), time(), zone)
        if self.period == "today":
            return today, None
        if self.period == "yesterday":
            return today - timedelta(days=1), today
        if self.period == "week":
            return today - timedelta(days=6), None
        if self.period == "month":
            return today - timedelta(days=29), None
        if self.period == "custom":
            start = datetime.combine(self.start, time(), zone) if self.start else None
            end = datetime.combine(self.end, time(), zone) + timedelta(days=1) if self.end else None
            return start, end
        return None, None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def zone_of(name: str) -> tzinfo:
    if name:
        return ZoneInfo(name)
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local


def conditions(
    filters: Filters, scope: Scope, zone: tzinfo, now: datetime | None = None
) -> list[sa.ColumnElement[bool]]:
    t = bot_calls.c
    where: list[sa.ColumnElement[bool]] = []
    start, end = filters.bounds(zone, now)
    if start is not None:
        where.append(t.started_at >= utc_text(start))
    if end is not None:
        where.append(t.started_at < utc_text(end))
    if filters.number:
        like = f"%{filters.number}%"
        where.append(sa.or_(t.caller.like(like), t.called.like(like)))
    if filters.result:
        where.append(t.result == filters.result)
    if filters.reason:
        where.append(t.handoff_reason == filters.reason)
    if filters.route:
        where.append(t.route == ("" if filters.route == "-" else filters.route))
    scoped = scope.where()
    if scoped is not None:
        where.append(scoped)
    return where


@dataclass(frozen=True, slots=True)
class CallRow:
    id: str
    call_id: str
    connector: str
    route: str
    scenario: str
    caller: str
    called: str
    caller_name: str
    started: datetime
    answered: datetime | None
    ended: datetime | None
    duration_s: float | None
    end_reason: str
    result: str
    handoff_reason: str
    handoff_target: str
    order_id: int | None
    order_status: str
    turns: int
    recording: str | None
    recording_bytes: int | None
    recording_s: float | None

    @property
    def wait_s(self) -> float | None:
        """From the call's start to the bot's first audio (the seed's «ожидание»)."""
        if self.answered is None:
            return None
        return max(0.0, (self.answered - self.started).total_seconds())

    def result_title(self, now: datetime | None = None) -> str:
        if self.result == "active":
            age = ((now or datetime.now(self.started.tzinfo)) - self.started).total_seconds()
            return "прервался" if age > INTERRUPTED_AFTER_S else "идёт сейчас"
        return RESULTS.get(self.result, self.result)

    @property
    def reason_title(self) -> str:
        return REASONS.get(self.handoff_reason, self.handoff_reason)


def _row(mapping: Any, zone: tzinfo) -> CallRow:
    def moment(value: object) -> datetime | None:
        return parse_time(str(value)).astimezone(zone) if value else None

    values = {name: mapping[name] for name in CallRow.__slots__ if name in mapping}
    started = moment(mapping["started_at"])
    assert started is not None
    return CallRow(
        **values,
        started=started,
        answered=moment(mapping["answered_at"]),
        ended=moment(mapping["ended_at"]),
    )


@dataclass(slots=True)
class Page:
    calls: list[CallRow]
    total: int
    offset: int
    size: int
    routes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


async def list_calls(
    db: ShopDatabase,
    filters: Filters,
    scope: Scope,
    zone: tzinfo,
    *,
    limit: int,
    now: datetime | None = None,
) -> Page:
    where = conditions(filters, scope, zone, now)

    def _read(conn: sa.Connection) -> Page:
        t = bot_calls.c
        stmt = sa.select(bot_calls).where(*where).order_by(t.started_at.desc(), t.id)
        rows = conn.execute(stmt.limit(limit).offset(filters.offset))
        calls = [_row(r._mapping, zone) for r in rows]
        total = conn.execute(sa.select(sa.func.count()).select_from(bot_calls).where(*where))
        scoped = scope.where()
        base = [scoped] if scoped is not None else []
        routes = conn.execute(sa.select(t.route).where(*base).distinct()).scalars()
        reasons = conn.execute(
            sa.select(t.handoff_reason).where(*base, t.handoff_reason != "").distinct()
        ).scalars()
        return Page(
            calls,
            int(total.scalar() or 0),
            filters.offset,
            limit,
            sorted(str(r) for r in routes),
            sorted(str(r) for r in reasons),
        )

    return await db.read(_read)


async def export_rows(
    db: ShopDatabase, filters: Filters, scope: Scope, zone: tzinfo, limit: int
) -> list[CallRow]:
    where = conditions(filters, scope, zone)

    def _read(conn: sa.Connection) -> list[CallRow]:
        t = bot_calls.c
        stmt = sa.select(bot_calls).where(*where).order_by(t.started_at.desc(), t.id)
        return [_row(r._mapping, zone) for r in conn.execute(stmt.limit(limit))]

    return await db.read(_read)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the transcript as a chat: who, what, when (seconds into the call)."""

    who: str  # caller | bot | note
    text: str
    at: float  # where it starts in the recording
    kind: str
    detail: str = ""
    missed: bool = False


@dataclass(slots=True)
class CallDetail:
    call: CallRow
    lines: list[Line]
    turns: list[dict[str, Any]]
    items: list[dict[str, Any]]


async def call_detail(db: ShopDatabase, key: str, scope: Scope, zone: tzinfo) -> CallDetail | None:
    scoped = scope.where()

    def _read(conn: sa.Connection) -> CallDetail | None:
        where = [bot_calls.c.id == key] + ([scoped] if scoped is not None else [])
        row = conn.execute(sa.select(bot_calls).where(*where)).first()
        if row is None:
            return None
        call = _row(row._mapping, zone)
        events = conn.execute(
            sa.select(bot_call_events)
            .where(bot_call_events.c.call == key)
            .order_by(bot_call_events.c.seq)
        )
        turns = conn.execute(
            sa.select(bot_call_turns)
            .where(bot_call_turns.c.call == key)
            .order_by(bot_call_turns.c.seq)
        )
        turn_rows = [dict(r._mapping) for r in turns]
        lines, items = _transcript([dict(e._mapping) for e in events], turn_rows)
        return CallDetail(call, lines, turn_rows, items)

    return await db.read(_read)


async def recording_of(db: ShopDatabase, key: str, scope: Scope) -> str | None:
    """The relative path of a call's recording, if the viewer may see the call."""
    scoped = scope.where()

    def _read(conn: sa.Connection) -> str | None:
        where = [bot_calls.c.id == key] + ([scoped] if scoped is not None else [])
        value = conn.execute(sa.select(bot_calls.c.recording).where(*where)).scalar()
        return str(value) if value else None

    return await db.read(_read)


def _transcript(
    events: list[dict[str, Any]], turns: list[dict[str, Any]]
) -> tuple[list[Line], list[dict[str, Any]]]:
    """Events as chat lines; a caller's line starts where the turn's speech began."""
    spoken = [t for t in turns if t["source"] in ("speech", "dtmf")]
    lines: list[Line] = []
    items: list[dict[str, Any]] = []
    for event in events:
        kind, t = str(event["type"]), float(event["t"])
        data = json.loads(event["data"] or "{}")
        if kind == "caller_said":
            turn = spoken.pop(0) if spoken else None
            start = t
            if turn is not None:
                start = max(0.0, float(turn["at"]) - turn["eop_wait_s"] - turn["speech_s"])
            confidence = event["confidence"]
            detail = event["intent"] or ""
            if confidence is not None and event["source"] != "keys":
                detail += f" · {float(confidence):.2f}"
            text = event["text"] if event["source"] != "keys" else f"клавиши: {event['text']}"
            lines.append(Line("caller", text, start, kind, detail))
        elif kind == "say":
            missed = event["key"] in MISSED_ARTICLE_KEYS
            lines.append(Line("bot", event["text"], t, kind, event["key"], missed))
        elif kind in ("order", "draft"):
            items = list(data.get("items", []))
            if kind == "order":
                lines.append(Line("note", f"Заказ №{data.get('order_id')}", t, kind,
                                  str(data.get("status", ""))))  # fmt: skip
        elif kind == "transfer":
            reason = str(data.get("reason", ""))
            note = f"Перевод на {data.get('target', '')}: {REASONS.get(reason, reason)}"
            lines.append(Line("note", note, t, kind, missed=reason == "article_not_recognized"))
        elif kind == "set_caller_name":
            lines.append(Line("note", f"Имя для оператора: {data.get('name', '')}", t, kind))
        elif kind == "hangup":
            who = "бот" if data.get("by", "bot") == "bot" else "абонент"
            lines.append(Line("note", f"Трубку положил {who}", t, kind))
        elif kind == "barge_in":
            lines.append(Line("note", "Абонент перебил бота", t, kind))
        elif kind in ("order_failed", "engine_failed"):
            lines.append(Line("note", f"Сбой: {data.get('reason', '')}", t, kind))
        elif kind == "call_ended":
            lines.append(Line("note", f"Конец звонка ({data.get('reason', '')})", t, kind))
    return lines, items
