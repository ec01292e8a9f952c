"""The error of a catalog upload that cannot be imported (nothing was changed)."""

from __future__ import annotations


class CatalogError(Exception):
    """A catalog file that cannot be imported; nothing was changed.

    ``message`` is Russian, for the editor, and names the place (row, column, cell) when
    there is one; ``code``, ``row`` (1-based, as Excel shows it), ``column`` (the canonical
    column name) and ``first_row`` (for duplicates) are for programs.
    """

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
