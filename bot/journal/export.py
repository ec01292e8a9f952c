"""«Скачать отчёт»: the journal's filtered list as ``.xlsx`` (openpyxl) or ``.csv``.

The same rows, in the same order (newest first), as the journal shows for those filters.
The CSV is UTF-8 with a byte-order mark and ``;`` between fields, as Excel in a Russian
locale opens it by a double click. Cells that start like a formula are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook

from bot.journal.queries import CallRow

HEADERS = (
    "Начало",
    "Кто звонил",
    "Куда звонил",
    "Имя",
    "Маршрут",
    "Результат",
    "Причина перевода",
    "Переведён на",
    "Ожидание, с",
    "Длительность, с",
    "Заказ",
    "Статус заказа",
    "Окончание",
    "Запись",
    "Звонок",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cells(row: CallRow, now: datetime | None = None) -> list[object]:
    return [
        row.started.replace(tzinfo=None, microsecond=0),
        row.caller,
        row.called,
        row.caller_name,
        row.route,
        row.result_title(now),
        row.reason_title,
        row.handoff_target,
        round(row.wait_s, 1) if row.wait_s is not None else None,
        round(row.duration_s, 1) if row.duration_s is not None else None,
        row.order_id,
        row.order_status,
        row.end_reason,
        "да" if row.recording else "нет",
        row.id,
    ]


def _safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_xlsx(rows: Sequence[CallRow]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Звонки")
    sheet.append(list(HEADERS))
    for row in rows:
        sheet.append([_safe(v) for v in cells(row)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_csv(rows: Sequence[CallRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in rows:
        values = cells(row)
        values[0] = row.started.strftime("%Y-%m-%d %H:%M:%S")
        writer.writerow(["" if v is None else _safe(v) for v in values])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
