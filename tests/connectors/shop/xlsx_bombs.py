"""Hostile ``.xlsx`` files for the catalog import tests, built at test time.

Each starts as a real workbook written by openpyxl (header + two products) and then has one
part replaced or edited inside the zip, so everything but the attack is a valid file.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl

SST_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)
MB = 1024 * 1024


def base_workbook(path: Path, rows: list[list[object]] | None = None) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows or [["Артикул", "Наименование"], ["A-1", "Ведро"], [2, "Таз"]]:
        sheet.append(row)
    workbook.save(path)
    return path


def _rewrite(
    source: Path, target: Path, replace: dict[str, Callable[[zipfile.ZipFile], None]]
) -> Path:
    """Copy ``source`` to ``target``; the parts named in ``replace`` are written by the
    given functions instead (each gets the open output archive)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename in replace:
                replace[info.filename](new)
            else:
                new.writestr(info, old.read(info.filename))
        for name, write in replace.items():
            if name not in old.namelist():
                write(new)
    return target


def _deflated(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _stream(archive: zipfile.ZipFile, name: str, head: bytes, unit: bytes, total: int) -> None:
    with archive.open(_deflated(name), "w", force_zip64=total > 2000 * MB) as part:
        part.write(head)
        chunk = unit * max(1, (4 * MB) // len(unit))
        written = 0
        while written < total:
            part.write(chunk)
            written += len(chunk)
        part.write(b"</sst>")


def shared_strings_bomb(tmp: Path, unpacked_mb: int) -> Path:
    """Shared strings of ``unpacked_mb`` MB of long text, in a file of about a megabyte."""
    base = base_workbook(tmp / "base.xlsx")
    unit = b"<si><t>" + b"\xd0\x96" * 16_000 + b"</t></si>"  # 16 000 × «Ж» per string
    return _rewrite(
        base,
        tmp / f"strings-{unpacked_mb}mb.xlsx",
        {
            "xl/sharedStrings.xml": lambda a: _stream(
                a, "xl/sharedStrings.xml", SST_HEAD, unit, unpacked_mb * MB
            )
        },
    )


def lying_sizes(source: Path, target: Path, member: str, declared: int) -> Path:
    """A copy of ``source`` whose central directory declares ``member`` unpacks to
    ``declared`` bytes (the real data is much larger)."""
    data = bytearray(source.read_bytes())
    name = member.encode()
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == name:
            struct.pack_into("<L", data, at + 24, declared)
        at += 4
    target.write_bytes(bytes(data))
    return target


def declared_dimension(tmp: Path, far_cell: bool) -> Path:
    """A tiny file whose sheet declares A1:XFD1048576; with ``far_cell`` the bottom-right
    cell really exists."""
    base = base_workbook(tmp / "base.xlsx")
    with zipfile.ZipFile(base) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    sheet = re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:XFD1048576"/>', sheet)
    if far_cell:
        sheet = sheet.replace(
            "</sheetData>",
            '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
            "</sheetData>",
        )
    name = "far-cell.xlsx" if far_cell else "declared.xlsx"
    return _rewrite(
        base,
        tmp / name,
        {"xl/worksheets/sheet1.xml": lambda a: a.writestr("xl/worksheets/sheet1.xml", sheet)},
    )


def many_cells(tmp: Path, cells: int) -> Path:
    """A sheet of ``cells`` real (inline string) cells in a compact file."""
    base = base_workbook(tmp / "base.xlsx")
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>"
    )

    def write(archive: zipfile.ZipFile) -> None:
        with archive.open(_deflated("xl/worksheets/sheet1.xml"), "w") as part:
            part.write(head)
            per_row = 1000
            for row in range(1, cells // per_row + 2):
                part.write(
                    f'<row r="{row}">'.encode()
                    + b'<c t="inlineStr"><is><t>1</t></is></c>' * per_row
                    + b"</row>"
                )
            part.write(b"</sheetData></worksheet>")

    return _rewrite(base, tmp / "many-cells.xlsx", {"xl/worksheets/sheet1.xml": write})


def entity_bomb(tmp: Path) -> Path:
    """«Billion laughs»: entity declarations in the shared strings."""
    base = base_workbook(tmp / "base.xlsx")
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        b"]>"
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<si><t>&c;</t></si></sst>"
    )
    return _rewrite(
        base,
        tmp / "laughs.xlsx",
        {"xl/sharedStrings.xml": lambda a: a.writestr("xl/sharedStrings.xml", laughs)},
    )
