"""Shared fixtures of the shop connector tests: a demo shop in a temporary SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.shop.database import ShopDatabase
from connectors.shop.demo import create_demo_shop
from connectors.shop.settings import ShopSettings

REPO = Path(__file__).resolve().parents[3]
DEMO_SOURCE = REPO / "data" / "shop_demo.yml"
DEMO_CATALOG = REPO / "data" / "catalog.xlsx"


@pytest.fixture
def demo_url(tmp_path: Path) -> str:
    return create_demo_shop(tmp_path / "shop.sqlite", source=DEMO_SOURCE, catalog=DEMO_CATALOG)


@pytest.fixture
async def db(demo_url: str) -> AsyncIterator[ShopDatabase]:
    database = await ShopDatabase.open(ShopSettings(url=demo_url))
    try:
        yield database
    finally:
        await database.close()
