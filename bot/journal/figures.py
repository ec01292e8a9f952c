"""The dashboard's figures for a period: calls per hour or day by outcome, outcomes, handoff
reasons, order conversion, the articles the bot did not understand most often, turn gaps
(p50/p95) per day and the recognition confidence.

The rows of the period are read once (a few short columns per call) and counted here in
Python, in the journal's local time zone, so the same code serves SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

import numpy as np
import sqlalchemy as sa

from bot.journal.queries import Filters, Scope, conditions
from bot.journal.store import MISSED_ARTICLE_KEYS, MISSED_ARTICLE_REASON
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import bot_call_events, bot_call_turns, bot_calls, parse_time

OUTCOMES = ("order", "transfer", "hangup", "error")
MAX_BUCKETS = 62
CONFIDENCE_BINS = 10


@dataclass(slots=True)
class Figures:
    buckets: list[str] = field(default_factory=list)  # hour or day labels
    hourly: bool = False
    by_outcome: dict[str, list[int]] = field(default_factory=dict)  # outcome ➜ per bucket
    outcomes: dict[str, int] = field(default_factory=dict)
    reasons: list[tuple[str, int]] = field(default_factory=list)
    calls: int = 0
    orders: int = 0
    days: list[str] = field(default_factory=list)
    conversion: list[float] = field(default_factory=list)  # per day, percent
    gap_p50: list[float | None] = field(default_factory=list)  # per day, seconds
    gap_p95: list[float | None] = field(default_factory=list)
    gaps: int = 0
    missed: list[tuple[str, int]] = field(default_factory=list)  # what the caller said
    confidence_bins: list[int] = field(default_factory=list)
    confidence_mean: float | None = None

    @property
    def conversion_total(self) -> float:
        return 100.0 * self.orders / self.calls if self.calls else 0.0


def _buckets(
    start: datetime | None, end: datetime, first: datetime | None, zone: tzinfo
) -> tuple[list[datetime], bool]:
    """Hours when the period is at most two days, else days (the last ``MAX_BUCKETS``)."""
    begin = (start or first or end).astimezone(zone)
    hourly = end - begin <= timedelta(days=2)
    if hourly:
        cursor, step = begin.replace(minute=0, second=0, microsecond=0), timedelta(hours=1)
    else:
        earliest = end.astimezone(zone) - timedelta(days=MAX_BUCKETS - 1)
        cursor, step = max(begin, earliest), timedelta(days=1)
        cursor = cursor.replace(hour=0, minute=0, second=0, microsecond=0)
    marks: list[datetime] = []
    while cursor < end and len(marks) < MAX_BUCKETS:
        marks.append(cursor)
        cursor += step
    return marks or [cursor], hourly


async def figures(
    db: ShopDatabase, filters: Filters, scope: Scope, zone: tzinfo, now: datetime | None = None
) -> Figures:
    now = (now or datetime.now(zone)).astimezone(zone)
    where = conditions(filters, scope, zone, now)
    start, end = filters.bounds(zone, now)
    end = end or now

    def _read(conn: sa.Connection) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        t = bot_calls.c
        calls = conn.execute(
            sa.select(t.id, t.started_at, t.result, t.handoff_reason).where(*where)
        ).all()
        ids = sa.select(t.id).where(*where).scalar_subquery()
        e, u = bot_call_events.c, bot_call_turns.c
        missed = conn.execute(
            sa.select(e.heard, sa.func.count())
            .where(
                e.call.in_(ids),
                e.heard != "",
                sa.or_(
                    e.key.in_(sorted(MISSED_ARTICLE_KEYS)),
                    sa.and_(e.type == "transfer", e.data.like(f'%"{MISSED_ARTICLE_REASON}"%')),
                ),
            )
            .group_by(e.heard)
            .order_by(sa.func.count().desc(), e.heard)
            .limit(20)
        ).all()
        gaps = conn.execute(
            sa.select(t.started_at, u.gap_s)
            .join(bot_calls, bot_calls.c.id == u.call)
            .where(*where, u.source == "speech", u.gap_s.is_not(None))
        ).all()
        confidences = conn.execute(
            sa.select(e.confidence).where(
                e.call.in_(ids), e.type == "caller_said", e.source == "speech"
            )
        ).all()
        return list(calls), list(missed), list(gaps), list(confidences)

    calls, missed, gaps, confidences = await db.read(_read)
    out = Figures()
    stamps = [(parse_time(str(c[1])).astimezone(zone), str(c[2]), str(c[3])) for c in calls]
    first = min((s[0] for s in stamps), default=None)
    marks, out.hourly = _buckets(start, end, first, zone)
    fmt = "%H:00" if out.hourly else "%d.%m"
    out.buckets = [m.strftime(fmt) for m in marks]
    out.by_outcome = {o: [0] * len(marks) for o in OUTCOMES}
    day_calls: Counter[str] = Counter()
    day_orders: Counter[str] = Counter()
    for moment, result, _reason in stamps:
        index = _index(marks, moment)
        outcome = result if result in OUTCOMES else "error"
        if index is not None:
            out.by_outcome[outcome][index] += 1
        day = moment.strftime("%d.%m")
        day_calls[day] += 1
        day_orders[day] += result == "order"
    out.calls = len(stamps)
    out.outcomes = Counter(s[1] if s[1] in OUTCOMES else "error" for s in stamps)
    out.orders = out.outcomes.get("order", 0)
    out.reasons = Counter(s[2] for s in stamps if s[2]).most_common()
    out.days = [d.strftime("%d.%m") for d in sorted({s[0].date() for s in stamps})]
    out.conversion = [100.0 * day_orders[d] / day_calls[d] for d in out.days]
    by_day: dict[str, list[float]] = {}
    for started, gap in gaps:
        day = parse_time(str(started)).astimezone(zone).strftime("%d.%m")
        by_day.setdefault(day, []).append(float(gap))
    out.gaps = sum(len(v) for v in by_day.values())
    for day in out.days:
        values = by_day.get(day)
        out.gap_p50.append(float(np.percentile(values, 50)) if values else None)
        out.gap_p95.append(float(np.percentile(values, 95)) if values else None)
    out.missed = [(str(text), int(count)) for text, count in missed]
    values = [float(c[0]) for c in confidences if c[0] is not None]
    histogram, _ = np.histogram(values, bins=CONFIDENCE_BINS, range=(0.0, 1.0))
    out.confidence_bins = [int(v) for v in histogram]
    out.confidence_mean = float(np.mean(values)) if values else None
    return out


def _index(marks: list[datetime], moment: datetime) -> int | None:
    if not marks or moment < marks[0]:
        return None
    low, high = 0, len(marks) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if marks[middle] <= moment:
            low = middle
        else:
            high = middle - 1
    return low
