"""Catalog ``.xlsx`` import: happy path, every kind of bad file, all-or-nothing replace."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa

from connectors.shop.catalog_import import CatalogError, import_catalog, read_catalog
from connectors.shop.database import ShopDatabase
from connectors.shop.demo import write_demo_catalog
from connectors.shop.records import CatalogItem
from tests.connectors.shop.conftest import DEMO_CATALOG


def _xlsx(path: Path, rows: list[list[Any]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


async def test_demo_catalog_imports(db: ShopDatabase, tmp_path: Path) -> None:
    count = await import_catalog(db, DEMO_CATALOG)
    assert count == 30
    assert len(await db.articles()) == 30


def test_write_demo_catalog_matches_committed_file(tmp_path: Path) -> None:
    fresh = read_catalog(write_demo_catalog(tmp_path / "catalog.xlsx"))
    assert fresh == read_catalog(DEMO_CATALOG)
    articles = [item.article for item in fresh]
    assert articles[:9] == ["123", "1245", "007", "7715", "4512", "555", "10", "2024", "31337"]


def test_articles_are_normalised_to_text(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "c.xlsx",
        [
            ["Артикул", "Наименование", "Единица"],
            [123, "Ведро", None],
            [124.0, "Таз", "шт"],
            ["007", "Губка", "упак"],
            ["  55 ", "  Щётка   для   обуви ", ""],
            [None, None, None],  # blank rows are skipped
            ["A-12", "Лампа", "шт"],
        ],
    )
    assert read_catalog(path) == [
        CatalogItem("123", "Ведро", "шт"),
        CatalogItem("124", "Таз", "шт"),
        CatalogItem("007", "Губка", "упак"),
        CatalogItem("55", "Щётка для обуви", "шт"),
        CatalogItem("A-12", "Лампа", "шт"),
    ]


def test_header_is_case_insensitive_and_accepts_english(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "c.xlsx",
        [["NAME", "extra", "ARTICLE", "Unit"], ["Ведро", "x", 1, "шт"]],
    )
    assert read_catalog(path) == [CatalogItem("1", "Ведро", "шт")]
    path = _xlsx(tmp_path / "d.xlsx", [["артикул", "НАИМЕНОВАНИЕ"], [2, "Таз"]])
    assert read_catalog(path) == [CatalogItem("2", "Таз", "шт")]


# --- bad files: each one is refused with a clear place and leaves the old catalog ---------


def _wrong_columns(tmp: Path) -> Path:
    return _xlsx(tmp / "bad.xlsx", [["Код", "Наименование"], [1, "Ведро"]])


def _missing_name(tmp: Path) -> Path:
    return _xlsx(tmp / "bad.xlsx", [["Артикул", "Цена"], [1, 100]])


def _empty_article(tmp: Path) -> Path:
    return _xlsx(
        tmp / "bad.xlsx",
        [["Артикул", "Наименование"], [1, "Ведро"], [None, "Таз"], [3, "Швабра"]],
    )


def _empty_name(tmp: Path) -> Path:
    return _xlsx(tmp / "bad.xlsx", [["Наименование", "Артикул"], ["Ведро", 1], ["", 2]])


def _duplicate_article(tmp: Path) -> Path:
    return _xlsx(
        tmp / "bad.xlsx",
        [["Артикул", "Наименование"], [123, "Ведро"], [5, "Таз"], [123.0, "Ведро снова"]],
    )


def _not_xlsx(tmp: Path) -> Path:
    path = tmp / "bad.xlsx"
    path.write_text("Артикул;Наименование\n1;Ведро\n", encoding="utf-8")
    return path


def _zip_not_xlsx(tmp: Path) -> Path:
    path = tmp / "bad.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return path


def _empty_sheet(tmp: Path) -> Path:
    return _xlsx(tmp / "bad.xlsx", [])


def _header_only(tmp: Path) -> Path:
    return _xlsx(tmp / "bad.xlsx", [["Артикул", "Наименование"]])


def _date_article(tmp: Path) -> Path:
    import datetime

    return _xlsx(
        tmp / "bad.xlsx", [["Артикул", "Наименование"], [datetime.date(2024, 1, 1), "Ведро"]]
    )


BAD_FILES: list[tuple[str, Callable[[Path], Path], str, int | None, str | None]] = [
    ("wrong columns", _wrong_columns, "missing_column", 1, "Артикул"),
    ("missing name column", _missing_name, "missing_column", 1, "Наименование"),
    ("empty article", _empty_article, "empty_article", 3, "Артикул"),
    ("empty name", _empty_name, "empty_name", 3, "Наименование"),
    ("duplicate article", _duplicate_article, "duplicate_article", 4, "Артикул"),
    ("text renamed .xlsx", _not_xlsx, "not_xlsx", None, None),
    ("zip that is no workbook", _zip_not_xlsx, "not_xlsx", None, None),
    ("empty sheet", _empty_sheet, "empty_sheet", 1, None),
    ("header only", _header_only, "no_rows", None, None),
    ("date as article", _date_article, "bad_article", 2, "Артикул"),
]


@pytest.mark.parametrize(
    ("make", "code", "row", "column"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
async def test_bad_file_is_refused_and_old_catalog_stays(
    db: ShopDatabase,
    tmp_path: Path,
    make: Callable[[Path], Path],
    code: str,
    row: int | None,
    column: str | None,
) -> None:
    before = await db.articles()
    assert len(before) == 30
    with pytest.raises(CatalogError) as info:
        await import_catalog(db, make(tmp_path))
    error = info.value
    assert error.code == code
    assert error.row == row
    assert error.column == column
    assert str(error)  # a readable message for the editor
    if row is not None and row > 1:
        assert f"строка {row}" in str(error)
    if column is not None:
        assert column in str(error)
    assert await db.articles() == before


async def test_duplicate_names_both_rows(db: ShopDatabase, tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as info:
        await import_catalog(db, _duplicate_article(tmp_path))
    assert info.value.row == 4
    assert info.value.first_row == 2
    assert "строка 4" in str(info.value) and "строке 2" in str(info.value)


async def test_too_large_file_is_refused(db: ShopDatabase, tmp_path: Path) -> None:
    before = await db.articles()
    with pytest.raises(CatalogError) as info:
        await import_catalog(db, DEMO_CATALOG, max_bytes=1000)
    assert info.value.code == "too_large"
    assert await db.articles() == before


async def test_too_many_rows_is_refused(db: ShopDatabase, tmp_path: Path) -> None:
    before = await db.articles()
    with pytest.raises(CatalogError) as info:
        await import_catalog(db, DEMO_CATALOG, max_rows=10)
    assert info.value.code == "too_many_rows"
    assert info.value.row == 12
    assert await db.articles() == before


async def test_missing_file_is_refused(db: ShopDatabase, tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as info:
        await import_catalog(db, tmp_path / "nope.xlsx")
    assert info.value.code == "not_found"


async def test_new_file_replaces_whole_catalog(db: ShopDatabase, tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "new.xlsx", [["Артикул", "Наименование"], [1, "Ведро"], [2, "Таз"]])
    assert await import_catalog(db, path) == 2
    assert await db.articles() == ["1", "2"]
    assert await db.find_article("123") is None


async def test_replace_is_one_transaction(db: ShopDatabase) -> None:
    """If the INSERT fails after the DELETE, the DELETE is rolled back too."""
    before = await db.articles()
    broken = [CatalogItem("1", "Ведро"), CatalogItem("2", None)]  # type: ignore[arg-type]
    with pytest.raises(sa.exc.IntegrityError):
        await db.replace_catalog(broken)
    assert await db.articles() == before
