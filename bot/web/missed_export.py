"""«Скачать отчёт» of the missed-call journal: the filtered list as ``.xlsx`` or ``.csv``.

The same rows, in the same order (newest first), as «Пропущенные» shows for those filters,
with the columns of the missed-call manual (``004_*.txt``): when the call was missed, from
which number, to which number, the source, the wait, the call-back status (its Russian label)
and when it was set, how many call-back attempts were made. Times are the shop's local time
(``journal.timezone``), without the offset, as Excel wants them. The CSV is UTF-8 with a
byte-order mark and ``;`` between fields (Excel in a Russian locale opens it by a double
click); cells that start like a formula are prefixed with ``'``, as the call journal's
export does (:mod:`bot.journal.export`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime, tzinfo

from openpyxl import Workbook

from bot.missed.statuses import label
from bot.missed.store import MissedCall

HEADERS = (
    "Время пропущенного",
    "Кто звонил",
    "Куда звонил",
    "Источник",
    "Ожидание, с",
    "Статус",
    "Время статуса",
    "Попыток перезвона",
    "Откуда узнали",
    "№",
)
SOURCE_KINDS = {
    "number": "номер",
    "queue": "очередь",
    "extension": "добавочный",
    "bot": "бот",
}
INTAKES = {"http": "HTTP", "ami": "Asterisk AMI", "telphin": "Телфин", "bot": "бот"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET = "Пропущенные"


def moment(value: object, zone: tzinfo) -> datetime | None:
    """A stored time (aware ``datetime`` or ISO text) in the shop's zone, or None."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is None:
        return when
    return when.astimezone(zone)


def source_title(kind: str, source: str) -> str:
    """``queue`` + ``sales`` ➜ ``очередь sales``."""
    title = SOURCE_KINDS.get(kind, kind)
    return f"{title} {source}".strip()


def cells(call: MissedCall, zone: tzinfo) -> list[object]:
    """One missed call as the export's row (times naive, local)."""
    missed = moment(call.missed_at, zone)
    status_at = moment(call.status_at, zone)
    return [
        missed.replace(tzinfo=None, microsecond=0) if missed else None,
        call.caller or "скрыт",
        call.called,
        source_title(call.source_kind, call.source),
        round(float(call.wait_s), 1),
        label(call.status),
        status_at.replace(tzinfo=None, microsecond=0) if status_at else None,
        int(call.attempts),
        INTAKES.get(call.intake, call.intake),
        int(call.id),
    ]


def _safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_xlsx(calls: Sequence[MissedCall], zone: tzinfo) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    sheet.append(list(HEADERS))
    for call in calls:
        sheet.append([_safe(v) for v in cells(call, zone)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_csv(calls: Sequence[MissedCall], zone: tzinfo) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    for call in calls:
        values = cells(call, zone)
        for index in (0, 6):
            when = values[index]
            values[index] = when.strftime("%Y-%m-%d %H:%M:%S") if isinstance(when, datetime) else ""
        writer.writerow(["" if v is None else _safe(v) for v in values])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
