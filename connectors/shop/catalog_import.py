"""Reading the product catalog from an ``.xlsx`` upload (Кейс 1, «Интерфейс»).

The first sheet must start with a header row naming the columns ``Артикул`` and
``Наименование`` and, optionally, ``Единица`` (any case; ``article`` / ``name`` / ``unit`` also
work). Every following non-empty row is one item. The file is read and checked completely
before anything is written, and the catalog is then replaced in one transaction: a bad file
leaves the old catalog untouched.

Errors are :class:`CatalogError` with a Russian message for the editor, plus language-neutral
fields for programs: ``code``, ``row`` (1-based, as Excel shows it), ``column`` (the canonical
column name) and, for duplicates, ``first_row``.
"""

from __future__ import annotations

import asyncio
import math
import zipfile
from collections.abc import Generator, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

from connectors.shop.database import ShopDatabase
from connectors.shop.records import CatalogItem
from connectors.shop.schema import ARTICLE_MAX, NAME_MAX

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
UNPACKED_FACTOR = 20
"""An .xlsx may unpack to at most this many times ``max_bytes`` (zip-bomb guard)."""

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


class CatalogError(Exception):
    """A catalog file that cannot be imported; nothing was changed."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        row: int | None = None,
        column: str | None = None,
        first_row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.row = row
        self.column = column
        self.first_row = first_row

    def __str__(self) -> str:
        return self.message


def _where(row: int, column: str, letter: str) -> str:
    return f"строка {row}, столбец «{column}» ({letter})"


def _check_file(path: Path, max_bytes: int) -> None:
    if not path.is_file():
        raise CatalogError("Файл каталога не найден.", code="not_found")
    size = path.stat().st_size
    if size > max_bytes:
        raise CatalogError(
            f"Файл слишком большой: {size} байт, допустимо не больше {max_bytes}.",
            code="too_large",
        )
    if not zipfile.is_zipfile(path):
        raise CatalogError(
            "Это не файл Excel .xlsx (файл повреждён или другого формата).", code="not_xlsx"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise CatalogError("Это не файл Excel .xlsx (архив повреждён).", code="not_xlsx") from exc
    if unpacked > max_bytes * UNPACKED_FACTOR:
        raise CatalogError("Файл слишком большой в распакованном виде.", code="too_large")


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


def _rows(path: Path) -> Generator[tuple[Any, ...], None, None]:
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a broken file
        raise CatalogError(
            "Не удалось открыть файл как книгу Excel .xlsx.", code="not_xlsx"
        ) from exc
    try:
        if not workbook.worksheets:
            raise CatalogError("В книге нет ни одного листа.", code="empty_sheet")
        yield from workbook.worksheets[0].iter_rows(values_only=True)
    finally:
        workbook.close()


def _cell(row: tuple[Any, ...], index: int | None) -> Any:
    if index is None or index >= len(row):
        return None
    return row[index]


def read_catalog(
    path: Path, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> list[CatalogItem]:
    """Read and fully check a catalog file; raise :class:`CatalogError` on any problem."""
    path = Path(path)
    _check_file(path, max_bytes)
    rows = _rows(path)
    try:
        header = next(rows, None)
        if header is None or all(_cell_text(v) is None for v in header):
            raise CatalogError(
                "Первый лист пуст: в первой строке должны быть заголовки столбцов.",
                code="empty_sheet",
                row=1,
            )
        columns = _header_map(header)
        return _read_items(rows, columns, max_rows)
    except CatalogError:
        raise
    except Exception as exc:  # a sheet that breaks while streaming is still a bad file
        raise CatalogError("Файл Excel повреждён и не читается.", code="not_xlsx") from exc
    finally:
        rows.close()


def _read_items(
    rows: Iterator[tuple[Any, ...]], columns: dict[str, int], max_rows: int
) -> list[CatalogItem]:
    a_index, n_index = columns[COL_ARTICLE], columns[COL_NAME]
    u_index = columns.get(COL_UNIT)
    a_letter, n_letter = get_column_letter(a_index + 1), get_column_letter(n_index + 1)
    items: list[CatalogItem] = []
    seen: dict[str, int] = {}
    for row_number, row in enumerate(rows, start=2):
        if row_number - 1 > max_rows:
            raise CatalogError(
                f"В файле больше {max_rows} строк с товарами.", code="too_many_rows", row=row_number
            )
        if all(_cell_text(v) is None for v in row):
            continue
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
        if article in seen:
            raise CatalogError(
                f"Артикул «{article}» повторяется: {_where(row_number, COL_ARTICLE, a_letter)}; "
                f"впервые он встречается в строке {seen[article]}.",
                code="duplicate_article",
                row=row_number,
                column=COL_ARTICLE,
                first_row=seen[article],
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
        seen[article] = row_number
        items.append(CatalogItem(article=article, name=name, unit=unit[:32]))
    if not items:
        raise CatalogError("В файле есть заголовок, но нет ни одного товара.", code="no_rows")
    return items


async def import_catalog(
    db: ShopDatabase, path: Path, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> int:
    """Replace the catalog with the file's items; return how many were imported.

    Reading runs in a worker thread; on :class:`CatalogError` the old catalog stays.
    """
    items = await asyncio.to_thread(
        read_catalog, Path(path), max_bytes=max_bytes, max_rows=max_rows
    )
    return await db.replace_catalog(items)
