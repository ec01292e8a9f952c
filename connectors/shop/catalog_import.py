"""Reading the product catalog from an ``.xlsx`` upload (Кейс 1, «Интерфейс»).

The first sheet must start with a header row naming the columns ``Артикул`` and
``Наименование`` and, optionally, ``Единица`` (any case; ``article`` / ``name`` / ``unit`` also
work). Every following non-empty row is one item. The file is read and checked completely
before anything is written, and the catalog is then replaced in one transaction: a bad file
leaves the old catalog untouched.

Uploads are untrusted. :mod:`connectors.shop.xlsx_guard` first streams the whole archive with
counters (shared strings, text, cells actually present, rows, elements, time) and refuses a
bomb before openpyxl loads anything; the sheet is then streamed in read-only mode with its
declared dimension ignored and only the needed columns built. One time budget covers both.
Articles are compared by :func:`~connectors.shop.articles.article_key` (case, spaces and
Latin/Cyrillic look-alikes do not matter: «A1», «А1» and «a 1» are one article, so a second
one is a duplicate). A formula in a column that is read is refused with its cell, since its
value is whatever the editor's Excel last computed.

Errors are :class:`CatalogError` with a Russian message for the editor, plus language-neutral
fields for programs: ``code``, ``row`` (1-based, as Excel shows it), ``column`` (the canonical
column name) and, for duplicates, ``first_row``.
"""

from __future__ import annotations

import asyncio
import math
import time as clock
from collections.abc import Generator, Iterator
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

from connectors.shop.articles import article_key
from connectors.shop.catalog_errors import CatalogError
from connectors.shop.database import ShopDatabase
from connectors.shop.records import CatalogItem
from connectors.shop.schema import ARTICLE_MAX, NAME_MAX
from connectors.shop.xlsx_guard import XlsxLimits, check_xlsx, out_of_time

__all__ = ["CatalogError", "XlsxLimits", "import_catalog", "read_catalog"]

MAX_BYTES = XlsxLimits.max_bytes
MAX_ROWS = XlsxLimits.max_rows
HEADER_MAX_COLUMNS = 256
"""Only the first this many columns are searched for the header names."""

COL_ARTICLE = "Артикул"
COL_NAME = "Наименование"
COL_UNIT = "Единица"
DEFAULT_UNIT = "шт"

_HEADER_ALIASES = {
    "артикул": COL_ARTICLE,
    "article": COL_ARTICLE,
    "наименование": COL_NAME,
    "name": COL_NAME,
    "единица": COL_UNIT,
    "единица измерения": COL_UNIT,
    "ед. изм.": COL_UNIT,
    "ед.изм.": COL_UNIT,
    "unit": COL_UNIT,
}


def _where(row: int, column: str, letter: str) -> str:
    return f"строка {row}, столбец «{column}» ({letter})"


def _article_text(value: Any) -> str | None:
    """The article as text: 123 -> "123", 123.0 -> "123", "007" stays "007"."""
    if value is None:
        return None
    if isinstance(value, bool | datetime | date | time):
        raise TypeError("not an article")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("not an article")
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text or None


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    return text or None


def _header_map(header: tuple[Any, ...]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, value in enumerate(header):
        if value is None:
            continue
        key = " ".join(str(value).split()).casefold()
        canonical = _HEADER_ALIASES.get(key)
        if canonical is None:
            continue
        if canonical in columns:
            raise CatalogError(
                f"Столбец «{canonical}» встречается в заголовке дважды "
                f"({get_column_letter(columns[canonical] + 1)} и "
                f"{get_column_letter(index + 1)}).",
                code="duplicate_column",
                row=1,
                column=canonical,
            )
        columns[canonical] = index
    for required in (COL_ARTICLE, COL_NAME):
        if required not in columns:
            raise CatalogError(
                f"В первой строке нет столбца «{required}». Нужны столбцы «{COL_ARTICLE}», "
                f"«{COL_NAME}» и по желанию «{COL_UNIT}».",
                code="missing_column",
                row=1,
                column=required,
            )
    return columns


class _Sheet:
    """The first sheet of a workbook opened read-only, its declared size ignored."""

    def __init__(self, path: Path) -> None:
        try:
            self.workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many kinds on a broken file
            raise CatalogError(
                "Не удалось открыть файл как книгу Excel .xlsx.", code="not_xlsx"
            ) from exc
        if not self.workbook.worksheets:
            self.workbook.close()
            raise CatalogError("В книге нет ни одного листа.", code="empty_sheet")
        sheet = self.workbook.worksheets[0]
        sheet.reset_dimensions()  # a file may declare A1:XFD1048576 and hold three cells
        self.sheet = sheet

    def rows(self, first: int, last: int | None, columns: int) -> Generator[tuple[Any, ...]]:
        yield from self.sheet.iter_rows(min_row=first, max_row=last, max_col=columns)

    def close(self) -> None:
        self.workbook.close()


def read_catalog(
    path: Path,
    *,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
    limits: XlsxLimits | None = None,
) -> list[CatalogItem]:
    """Read and fully check a catalog file; raise :class:`CatalogError` on any problem."""
    path = Path(path)
    limits = replace(limits or XlsxLimits(), max_bytes=max_bytes, max_rows=max_rows)
    deadline = clock.monotonic() + limits.time_budget
    check_xlsx(path, limits, deadline)
    sheet = _Sheet(path)
    try:
        header = next(sheet.rows(1, 1, HEADER_MAX_COLUMNS), None)
        values = tuple(c.value for c in header) if header else ()
        if not values or all(_cell_text(v) is None for v in values):
            raise CatalogError(
                "Первый лист пуст: в первой строке должны быть заголовки столбцов.",
                code="empty_sheet",
                row=1,
            )
        columns = _header_map(values)
        width = max(columns.values()) + 1
        return _read_items(sheet.rows(2, None, width), columns, max_rows, deadline)
    except CatalogError:
        raise
    except Exception as exc:  # a sheet that breaks while streaming is still a bad file
        raise CatalogError("Файл Excel повреждён и не читается.", code="not_xlsx") from exc
    finally:
        sheet.close()


def _cell(row: tuple[Any, ...], index: int | None) -> Any:
    if index is None or index >= len(row):
        return None
    return row[index]


def _formula(cell: Any, row: int, column: str) -> None:
    if getattr(cell, "data_type", None) == "f":
        ref = f"{get_column_letter(cell.column)}{row}"
        raise CatalogError(
            f"В ячейке {ref} формула: {_where(row, column, get_column_letter(cell.column))}. "
            "Сохраните в каталоге значения, а не формулы (Excel: «Вставить значения»).",
            code="formula",
            row=row,
            column=column,
        )


def _read_items(
    rows: Iterator[tuple[Any, ...]], columns: dict[str, int], max_rows: int, deadline: float
) -> list[CatalogItem]:
    a_index, n_index = columns[COL_ARTICLE], columns[COL_NAME]
    u_index = columns.get(COL_UNIT)
    a_letter, n_letter = get_column_letter(a_index + 1), get_column_letter(n_index + 1)
    names = {a_index: COL_ARTICLE, n_index: COL_NAME}
    if u_index is not None:
        names[u_index] = COL_UNIT
    items: list[CatalogItem] = []
    seen: dict[str, tuple[int, str]] = {}
    for row_number, cells in enumerate(rows, start=2):
        if row_number - 1 > max_rows:
            raise CatalogError(
                f"В файле больше {max_rows} строк с товарами.", code="too_many_rows", row=row_number
            )
        if row_number % 256 == 0 and clock.monotonic() > deadline:
            raise out_of_time()
        row = tuple(getattr(c, "value", None) for c in cells)
        if all(_cell_text(v) is None for v in row):
            continue
        for index, column in names.items():
            if index < len(cells):
                _formula(cells[index], row_number, column)
        try:
            article = _article_text(_cell(row, a_index))
        except TypeError:
            raise CatalogError(
                "Артикул должен быть числом или текстом: "
                f"{_where(row_number, COL_ARTICLE, a_letter)}.",
                code="bad_article",
                row=row_number,
                column=COL_ARTICLE,
            ) from None
        if article is None:
            raise CatalogError(
                f"Пустой артикул: {_where(row_number, COL_ARTICLE, a_letter)}.",
                code="empty_article",
                row=row_number,
                column=COL_ARTICLE,
            )
        if len(article) > ARTICLE_MAX:
            raise CatalogError(
                f"Артикул длиннее {ARTICLE_MAX} символов: "
                f"{_where(row_number, COL_ARTICLE, a_letter)}.",
                code="bad_article",
                row=row_number,
                column=COL_ARTICLE,
            )
        key = article_key(article)
        if key in seen:
            first_row, first = seen[key]
            same = (
                ""
                if first == article
                else f" (как «{first}»: регистр, пробелы и похожие русские и латинские буквы "
                "не различаются)"
            )
            raise CatalogError(
                f"Артикул «{article}» повторяется{same}: "
                f"{_where(row_number, COL_ARTICLE, a_letter)}; "
                f"впервые он встречается в строке {first_row}.",
                code="duplicate_article",
                row=row_number,
                column=COL_ARTICLE,
                first_row=first_row,
            )
        name = _cell_text(_cell(row, n_index))
        if name is None:
            raise CatalogError(
                f"Пустое наименование: {_where(row_number, COL_NAME, n_letter)}.",
                code="empty_name",
                row=row_number,
                column=COL_NAME,
            )
        if len(name) > NAME_MAX:
            raise CatalogError(
                f"Наименование длиннее {NAME_MAX} символов: "
                f"{_where(row_number, COL_NAME, n_letter)}.",
                code="bad_name",
                row=row_number,
                column=COL_NAME,
            )
        unit = _cell_text(_cell(row, u_index)) or DEFAULT_UNIT
        seen[key] = (row_number, article)
        items.append(CatalogItem(article=article, name=name, unit=unit[:32]))
    if not items:
        raise CatalogError("В файле есть заголовок, но нет ни одного товара.", code="no_rows")
    return items


async def import_catalog(
    db: ShopDatabase,
    path: Path,
    *,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
    limits: XlsxLimits | None = None,
) -> int:
    """Replace the catalog with the file's items; return how many were imported.

    Reading runs in a worker thread; on :class:`CatalogError` the old catalog stays.
    """
    items = await asyncio.to_thread(
        read_catalog, Path(path), max_bytes=max_bytes, max_rows=max_rows, limits=limits
    )
    return await db.replace_catalog(items)
