"""Regenerate ``data/catalog.xlsx``: ``python -m connectors.shop.make_demo_catalog [path]``."""

from __future__ import annotations

import sys
from pathlib import Path

from connectors.shop.demo import DEFAULT_CATALOG, write_demo_catalog


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = write_demo_catalog(Path(args[0]) if args else DEFAULT_CATALOG)
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
