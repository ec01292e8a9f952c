"""Catalog ``.xlsx`` import: happy path, every kind of bad file, all-or-nothing replace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa

from connectors.shop.catalog_import import CatalogError, XlsxLimits, import_catalog, read_catalog
from connectors.shop.database import ShopDatabase
from connectors.shop.demo import write_demo_catalog
from connectors.shop.records import CatalogItem
from tests.connectors.shop import xlsx_bombs
from tests.connectors.shop.conftest import DEMO_CATALOG, REPO


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


# --- hostile files (issue 9): refused fast, with little memory, the old catalog kept ------


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bombs")
    huge = xlsx_bombs.shared_strings_bomb(tmp, 400)
    return {
        # 150 MB of shared strings: under the unpacked-size cap, so only counting stops it
        "strings": xlsx_bombs.shared_strings_bomb(tmp, 150),
        # the issue's bomb: hundreds of MB of shared strings in a file of ~0.5 MB
        "strings_huge": huge,
        # the same, its central directory lying that the strings unpack to 1 MB
        "strings_lying": xlsx_bombs.lying_sizes(
            huge, tmp / "lying.xlsx", "xl/sharedStrings.xml", 1_000_000
        ),
        "far_cell": xlsx_bombs.declared_dimension(tmp, far_cell=True),
        "cells": xlsx_bombs.many_cells(tmp, 1_100_000),
        "laughs": xlsx_bombs.entity_bomb(tmp),
    }


CHILD = """
import json, sys, time
from pathlib import Path
from connectors.shop.catalog_import import CatalogError, read_catalog
began = time.perf_counter()
try:
    read_catalog(Path(sys.argv[1]))
    code = "accepted"
except CatalogError as exc:
    code = exc.code
print(json.dumps({"code": code, "seconds": time.perf_counter() - began}))
"""


def _read_in_child(path: Path) -> tuple[str, float, float]:
    """(error code, CPU seconds, peak RSS in MB) of ``read_catalog`` in a fresh process.

    CPU time, not wall time: on a loaded test machine the wall clock says nothing about
    how much work a bomb cost (the child's start-up, ~1 s of imports, is included)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, output
    result = json.loads(output)
    return result["code"], usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


BOMBS = [
    ("strings", "too_large"),
    ("strings_huge", "too_large"),
    ("strings_lying", "not_xlsx"),
    ("far_cell", "too_many_rows"),
    ("cells", "too_large"),
    ("laughs", "not_xlsx"),
]


@pytest.fixture(scope="module")
def good_catalog_run() -> tuple[str, float, float]:
    return _read_in_child(DEMO_CATALOG)


@pytest.mark.parametrize(("bomb", "code"), BOMBS, ids=[b[0] for b in BOMBS])
def test_bombs_are_refused_fast_with_little_memory(
    bombs: dict[str, Path],
    good_catalog_run: tuple[str, float, float],
    bomb: str,
    code: str,
) -> None:
    path = bombs[bomb]
    got, seconds, peak_mb = _read_in_child(path)
    baseline, _, baseline_mb = good_catalog_run
    print(
        f"\n{bomb}: {path.stat().st_size // 1024} KB file refused ({got}) in {seconds:.2f} s CPU, "
        f"peak RSS {peak_mb:.0f} MB (a good catalog: {baseline_mb:.0f} MB)"
    )
    assert baseline == "accepted"
    assert got == code
    assert seconds < 10.0
    assert peak_mb < baseline_mb + 60


async def test_a_bomb_leaves_the_old_catalog(db: ShopDatabase, bombs: dict[str, Path]) -> None:
    before = await db.articles()
    for name in ("strings", "far_cell"):
        with pytest.raises(CatalogError):
            await import_catalog(db, bombs[name])
    assert await db.articles() == before


def test_a_declared_but_empty_dimension_costs_nothing(tmp_path: Path) -> None:
    """A tiny file declaring A1:XFD1048576 with two products is read by its real cells."""
    path = xlsx_bombs.declared_dimension(tmp_path, far_cell=False)
    began = time.perf_counter()
    items = read_catalog(path)
    assert time.perf_counter() - began < 1.0
    assert [i.article for i in items] == ["A-1", "2"]


def test_time_budget(tmp_path: Path) -> None:
    path = xlsx_bombs.many_cells(tmp_path, 300_000)
    with pytest.raises(CatalogError) as info:
        read_catalog(path, limits=XlsxLimits(time_budget=0.05))
    assert info.value.code == "too_slow"
    assert "долго" in str(info.value)


LOOKALIKES = [
    ("A1", "А1"),  # Latin A, Cyrillic А
    ("A1", "a1"),
    ("КМ-15", "km–15"),  # Cyrillic К М, en dash
    ("12 34", "1234"),
    ("ОРС", "opc"),
    ("x\u200b1", "X1"),  # a zero-width space
]


@pytest.mark.parametrize(("first", "second"), LOOKALIKES)
def test_look_alike_articles_are_duplicates(tmp_path: Path, first: str, second: str) -> None:
    path = _xlsx(
        tmp_path / "c.xlsx",
        [["Артикул", "Наименование"], [first, "Ведро"], [5, "Таз"], [second, "Другое ведро"]],
    )
    with pytest.raises(CatalogError) as info:
        read_catalog(path)
    error = info.value
    assert (error.code, error.row, error.first_row, error.column) == (
        "duplicate_article",
        4,
        2,
        "Артикул",
    )
    assert f"«{second}»" in str(error) and "строка 4" in str(error) and "строке 2" in str(error)
    if first != second:
        assert f"«{first}»" in str(error)


async def test_look_alike_articles_are_found_by_either_spelling(
    db: ShopDatabase, tmp_path: Path
) -> None:
    path = _xlsx(tmp_path / "c.xlsx", [["Артикул", "Наименование"], ["АВ-12", "Лампа"]])
    assert await import_catalog(db, path) == 1
    for spoken in ("АВ-12", "AB-12", "ab -12", "ав‑12"):
        item = await db.find_article(spoken)
        assert item is not None and item.article == "АВ-12", spoken
    assert await db.find_article("AB-13") is None


def test_the_three_a1s_of_the_issue(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "c.xlsx",
        [["Артикул", "Наименование"], ["A1", "Латинская"], ["А1", "Кириллица"], ["a1", "Малая"]],
    )
    with pytest.raises(CatalogError) as info:
        read_catalog(path)
    assert info.value.row == 3 and info.value.first_row == 2


@pytest.mark.parametrize(("cell", "column"), [("A3", "Артикул"), ("B2", "Наименование")])
def test_formulas_are_refused_with_their_cell(tmp_path: Path, cell: str, column: str) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Артикул", "Наименование", "Цена"])
    sheet.append([1, "Ведро", "=10*2"])  # a formula in a column that is not read is fine
    sheet.append([2, "Таз", 5])
    sheet[cell] = "=A2+1" if column == "Артикул" else '=HYPERLINK("http://x","Ведро")'
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    with pytest.raises(CatalogError) as info:
        read_catalog(path)
    error = info.value
    assert error.code == "formula"
    assert (error.row, error.column) == (int(cell[1:]), column)
    assert f"В ячейке {cell} формула" in str(error)


def test_text_that_looks_like_a_formula_is_plain_text(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Артикул", "Наименование"])
    sheet.append([1, "x"])
    sheet["B2"].value = "=не формула"
    sheet["B2"].data_type = "s"  # typed as text, as Excel stores '=…
    path = tmp_path / "t.xlsx"
    workbook.save(path)
    assert read_catalog(path) == [CatalogItem("1", "=не формула", "шт")]
