"""The catalog behind the console: check an upload (every error with its row and column),
preview it, replace the catalog, browse, search, download as ``.xlsx``, versions as JSON.

The check is the CLI's (:func:`connectors.shop.catalog_import.read_catalog`, with the upload
guard of :mod:`connectors.shop.xlsx_guard`). It stops at the first bad row; to show the
editor every bad row at once the same row check runs again over the sheet's rows kept in
memory, each bad row blanked in turn (blank rows are skipped), up to :data:`MAX_ERRORS`.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import openpyxl
import sqlalchemy as sa
from openpyxl.cell import WriteOnlyCell

from connectors.shop import catalog_import as ci
from connectors.shop.catalog_errors import CatalogError
from connectors.shop.database import ShopDatabase
from connectors.shop.records import CatalogItem
from connectors.shop.schema import catalog as catalog_table
from connectors.shop.xlsx_guard import XlsxLimits, check_xlsx

MAX_ERRORS = 20
PREVIEW_ROWS = 15


@dataclass(frozen=True, slots=True)
class RowError:
    message: str
    row: int | None
    column: str | None
    code: str


@dataclass(frozen=True, slots=True)
class Checked:
    items: list[CatalogItem]
    errors: list[RowError]


@dataclass(frozen=True, slots=True)
class Changes:
    added: int
    removed: int
    changed: int


def _error(exc: CatalogError) -> RowError:
    return RowError(exc.message, exc.row, exc.column, exc.code)


def check_upload(path: Path, max_bytes: int) -> Checked:
    """Read ``path`` as the CLI does; on a bad row, collect every bad row (runs in a thread)."""
    limits = replace(XlsxLimits(), max_bytes=max_bytes)
    try:
        return Checked(ci.read_catalog(path, max_bytes=max_bytes, limits=limits), [])
    except CatalogError as first:
        if first.row is None or first.row < 2 or first.code in ("too_many_rows", "timeout"):
            return Checked([], [_error(first)])
        return Checked([], _all_row_errors(path, limits) or [_error(first)])


def _all_row_errors(path: Path, limits: XlsxLimits) -> list[RowError]:
    deadline = time.monotonic() + limits.time_budget
    check_xlsx(path, limits, deadline)
    sheet = ci._Sheet(path)
    try:
        header = next(sheet.rows(1, 1, ci.HEADER_MAX_COLUMNS), None)
        columns = ci._header_map(tuple(c.value for c in header) if header else ())
        width = max(columns.values()) + 1
        rows = list(sheet.rows(2, None, width))
    finally:
        sheet.close()
    blank: set[int] = set()
    errors: list[RowError] = []

    def feed() -> Iterator[tuple[Any, ...]]:
        for number, cells in enumerate(rows, start=2):
            yield () if number in blank else cells

    while len(errors) < MAX_ERRORS:
        try:
            ci._read_items(feed(), columns, limits.max_rows, deadline + 30)
            break
        except CatalogError as exc:
            if exc.code == "no_rows" or exc.row is None or exc.row in blank:
                break
            errors.append(_error(exc))
            blank.add(exc.row)
    return errors


def changes(old: list[CatalogItem], new: list[CatalogItem]) -> Changes:
    before = {i.article: i for i in old}
    after = {i.article: i for i in new}
    changed = sum(1 for a, i in after.items() if a in before and before[a] != i)
    return Changes(len(after.keys() - before.keys()), len(before.keys() - after.keys()), changed)


async def current_items(db: ShopDatabase) -> list[CatalogItem]:
    def _read(conn: sa.Connection) -> list[CatalogItem]:
        t = catalog_table.c
        rows = conn.execute(sa.select(t.article, t.name, t.unit).order_by(t.article))
        return [CatalogItem(str(a), str(n), str(u)) for a, n, u in rows]

    return await db.read(_read)


def search(items: list[CatalogItem], query: str) -> list[CatalogItem]:
    words = query.casefold().split()
    if not words:
        return items
    return [
        i for i in items if all(w in i.article.casefold() or w in i.name.casefold() for w in words)
    ]


def to_json(items: list[CatalogItem]) -> bytes:
    rows = [[i.article, i.name, i.unit] for i in items]
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()


def from_json(content: bytes) -> list[CatalogItem]:
    return [CatalogItem(str(a), str(n), str(u)) for a, n, u in json.loads(content)]


def to_xlsx(items: list[CatalogItem]) -> bytes:
    """The catalog as the upload expects it; articles are text cells (``007`` stays)."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Каталог")
    sheet.append([ci.COL_ARTICLE, ci.COL_NAME, ci.COL_UNIT])
    for item in items:
        article = WriteOnlyCell(sheet, value=item.article)
        article.number_format = "@"
        sheet.append([article, item.name, item.unit])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
