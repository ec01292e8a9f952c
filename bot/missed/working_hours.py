"""Working intervals of the call-back rules (the missed-call manual): weekdays and hours,
several a day; no intervals = round the clock, an interval without hours = the whole day.

:func:`next_allowed` gives the first moment at or after ``at`` inside the intervals, in the
shop's time zone; days are local wall-clock days (a DST change keeps 10:00 at 10:00).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    **{d: i for i, d in enumerate(DAYS)},
    **{d: i for i, d in enumerate(("пн", "вт", "ср", "чт", "пт", "сб", "вс"))},
}


@dataclass(frozen=True, slots=True)
class Interval:
    """Days (0 = Monday) and hours ``start``–``end``; ``None`` hours: the whole day. An
    ``end`` of 24:00 or before the start runs to midnight / past it into the next day."""

    days: tuple[int, ...]
    start: time | None = None
    end: time | None = None

    def windows(self, day: datetime) -> list[tuple[datetime, datetime]]:
        """This interval's windows that begin on the local date of ``day``."""
        if day.weekday() not in self.days:
            return []
        midnight = day.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.start is None or self.end is None:
            return [(midnight, _add_local(midnight, days=1))]
        begin = _at(midnight, self.start)
        end_day = midnight if self.end > self.start else _add_local(midnight, days=1)
        finish = _at(end_day, self.end) if self.end != time(0) else _add_local(midnight, days=1)
        return [(begin, finish)]


def _at(midnight: datetime, moment: time) -> datetime:
    return datetime.combine(midnight.date(), moment, midnight.tzinfo)


def _add_local(moment: datetime, *, days: int) -> datetime:
    """Calendar days in local time (a DST change keeps the wall clock)."""
    return datetime.combine(moment.date() + timedelta(days=days), moment.time(), moment.tzinfo)


def next_allowed(at: datetime, intervals: Sequence[Interval], tz: ZoneInfo) -> datetime:
    """The first moment at or after ``at`` inside one of ``intervals`` (in ``tz``); no
    intervals = round the clock. The answer is in ``tz``; ``at`` must be aware."""
    if at.tzinfo is None:
        raise ValueError("next_allowed needs an aware datetime")
    local = at.astimezone(tz)
    if not intervals:
        return local
    best: datetime | None = None
    for offset in range(-1, 8):  # yesterday's window may run past midnight
        day = _add_local(local.replace(hour=12, minute=0, second=0, microsecond=0), days=offset)
        for interval in intervals:
            for begin, end in interval.windows(day):
                if end <= local:
                    continue
                candidate = max(begin, local)
                if best is None or candidate < best:
                    best = candidate
        if best is not None:  # a later day's windows all begin later
            break
    if best is None:  # pragma: no cover - validated intervals always have a day
        raise ValueError("intervals without days")
    return best.astimezone(tz)


def allowed(at: datetime, intervals: Sequence[Interval], tz: ZoneInfo) -> bool:
    return next_allowed(at, intervals, tz) == at.astimezone(tz)
