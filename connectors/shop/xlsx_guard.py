"""A first, cheap pass over an ``.xlsx`` upload that refuses bombs before openpyxl sees them.

openpyxl keeps the whole shared-strings table and the styles in memory, and sizes a read-only
sheet by the dimension the file *declares*. So a 1 MB file whose shared strings unpack to
hundreds of megabytes, or a 5 KB file declaring ``A1:XFD1048576``, costs gigabytes or minutes.
This pass streams every XML part of the archive through expat in 64 KB chunks, counting as it
reads, and stops at the first limit passed:

- the archive: file size, number of entries (read from the end record before the entry list
  is loaded), declared unpacked size, compression method (stored/deflate), no encryption;
- XML: no DTD or entity declarations, nesting depth, elements per part;
- text: shared strings counted, characters of all cell text (shared, inline, values) capped,
  one cell's text at most 32 767 characters (Excel's own limit);
- sheets: the cells actually present (``<c>`` elements, not the declared dimension) and the
  highest row number;
- time: one deadline for this pass and the import after it.

Memory stays flat whatever the file (only counters are kept); the import after this pass
handles at most what the limits allow. Errors are :class:`~connectors.shop.catalog_import.
CatalogError` values with a Russian message for the editor.
"""

from __future__ import annotations

import re
import struct
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from connectors.shop.catalog_errors import CatalogError

CHUNK = 64 * 1024
CELL_TEXT_MAX = 32_767
_ROW_REF = re.compile(r"[A-Z]{1,3}(\d+)$")


@dataclass(frozen=True)
class XlsxLimits:
    """What an uploaded catalog may contain (the defaults fit 100 000 products easily)."""

    max_bytes: int = 20 * 1024 * 1024
    max_unpacked: int = 160 * 1024 * 1024
    max_entries: int = 1_000
    max_rows: int = 100_000
    max_cells: int = 1_000_000  # ten per row at max_rows; reading a million costs ~5 s of CPU
    max_shared_strings: int = 1_000_000
    max_text_chars: int = 20_000_000
    max_elements: int = 200_000
    max_depth: int = 64
    time_budget: float = 30.0


class _Stop(Exception):
    def __init__(self, error: CatalogError) -> None:
        self.error = error


def _too_much(message: str, code: str = "too_large", row: int | None = None) -> _Stop:
    return _Stop(CatalogError(message, code=code, row=row))


def _entry_count(path: Path) -> int | None:
    """Entries in the zip's end record (None when there is none to read)."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 65_557))
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    return int(struct.unpack("<4s4H2LH", tail[at : at + 22])[4])


class _Counter:
    """Counts what expat reports for one archive part; raises :class:`_Stop` at a limit."""

    def __init__(self, limits: XlsxLimits, totals: dict[str, int], kind: str) -> None:
        self.limits = limits
        self.totals = totals
        self.kind = kind  # "sheet", "strings" or "other"
        self.depth = 0
        self.elements = 0
        self.row = 0
        self.text_element = False
        self.text_len = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise _too_much("Файл Excel повреждён: слишком глубокая вложенность XML.", "not_xlsx")
        local = name.rpartition(":")[2]
        if self.kind == "sheet" and local == "c":
            self.totals["cells"] += 1
            if self.totals["cells"] > self.limits.max_cells:
                raise _too_much(
                    f"В файле больше {self.limits.max_cells} заполненных ячеек.", row=self.row
                )
            ref = _ROW_REF.match(attrs.get("r", ""))
            if ref and int(ref[1]) > self.row:
                self._row(int(ref[1]))
        elif self.kind == "sheet" and local == "row":
            number = attrs.get("r", "")
            self._row(int(number) if number.isdigit() else self.row + 1)
        elif self.kind == "strings" and local == "si":
            self.totals["strings"] += 1
            if self.totals["strings"] > self.limits.max_shared_strings:
                raise _too_much(f"В файле больше {self.limits.max_shared_strings} строк текста.")
        elif local not in ("v", "t", "f", "is", "r", "rPr", "si"):
            self.elements += 1
            if self.elements > self.limits.max_elements:
                raise _too_much("Файл Excel слишком сложный: слишком много элементов XML.")
        if local in ("t", "v", "f"):
            self.text_element = True
            self.text_len = 0

    def _row(self, number: int) -> None:
        self.row = number
        if number > self.limits.max_rows + 1:  # + the header row
            raise _Stop(
                CatalogError(
                    f"В файле больше {self.limits.max_rows} строк с товарами "
                    f"(есть строка {number}).",
                    code="too_many_rows",
                    row=number,
                )
            )

    def end(self, name: str) -> None:
        self.depth -= 1
        if name.rpartition(":")[2] in ("t", "v", "f"):
            self.text_element = False

    def text(self, data: str) -> None:
        if not self.text_element or self.kind == "other":
            return
        self.text_len += len(data)
        if self.text_len > CELL_TEXT_MAX:
            raise _too_much(
                f"В файле есть ячейка длиннее {CELL_TEXT_MAX} символов.", row=self.row or None
            )
        self.totals["chars"] += len(data)
        if self.totals["chars"] > self.limits.max_text_chars:
            raise _too_much(f"В файле больше {self.limits.max_text_chars} символов текста.")


def _no_dtd(*_args: object) -> None:
    raise _Stop(CatalogError("Файл Excel содержит недопустимый XML (DTD).", code="not_xlsx"))


def _scan_part(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    counter: _Counter,
    deadline: float,
) -> None:
    parser = expat.ParserCreate(namespace_separator=":")
    parser.buffer_text = True
    parser.StartElementHandler = counter.start
    parser.EndElementHandler = counter.end
    parser.CharacterDataHandler = counter.text
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            parser.Parse(chunk, False)
            if time.monotonic() > deadline:
                raise _Stop(out_of_time())
        parser.Parse(b"", True)


def out_of_time() -> CatalogError:
    return CatalogError(
        "Файл обрабатывается слишком долго; разбейте каталог или уберите лишние листы.",
        code="too_slow",
    )


def _kind(name: str) -> str | None:
    lower = name.lower()
    if not lower.endswith((".xml", ".rels", ".vml")):
        return None
    if "/worksheets/" in lower:
        return "sheet"
    if lower.endswith("sharedstrings.xml"):
        return "strings"
    return "other"


def check_xlsx(path: Path, limits: XlsxLimits, deadline: float) -> None:
    """Refuse the file (raise :class:`CatalogError`) if it passes any of ``limits``."""
    if not path.is_file():
        raise CatalogError("Файл каталога не найден.", code="not_found")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise CatalogError(
            f"Файл слишком большой: {size} байт, допустимо не больше {limits.max_bytes}.",
            code="too_large",
        )
    if not zipfile.is_zipfile(path):
        raise CatalogError(
            "Это не файл Excel .xlsx (файл повреждён или другого формата).", code="not_xlsx"
        )
    entries = _entry_count(path)
    if entries is None or entries > limits.max_entries:
        raise CatalogError("Это не файл Excel .xlsx (слишком много частей).", code="not_xlsx")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if sum(i.file_size for i in infos) > limits.max_unpacked:
                raise CatalogError(
                    "Файл слишком большой в распакованном виде "
                    f"(больше {limits.max_unpacked // (1024 * 1024)} МБ).",
                    code="too_large",
                )
            for info in infos:
                if info.flag_bits & 0x1:
                    raise CatalogError("Файл Excel зашифрован.", code="not_xlsx")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise CatalogError(
                        "Файл Excel сжат неподдерживаемым способом.", code="not_xlsx"
                    )
            totals = {"cells": 0, "strings": 0, "chars": 0}
            for info in infos:
                kind = _kind(info.filename)
                if kind is not None:
                    _scan_part(archive, info, _Counter(limits, totals, kind), deadline)
    except _Stop as stop:
        raise stop.error from None
    except (zipfile.BadZipFile, OSError, EOFError, expat.ExpatError) as exc:
        raise CatalogError("Это не файл Excel .xlsx (архив повреждён).", code="not_xlsx") from exc
