"""Where the bot finds its shop: the catalog's articles for the NLU."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings

DEMO_CATALOG = Path("data/catalog.xlsx")


def catalog_articles(settings: Settings) -> list[str]:
    if not DEMO_CATALOG.exists():
        return []
    from connectors.shop.catalog_import import read_catalog

    return [item.article for item in read_catalog(DEMO_CATALOG)]
