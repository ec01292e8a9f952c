"""Open the shop for the bot: database (demo on first run), outbox, order store, dialog ports.

``open_shop`` connects and migrates; nothing is written yet. A server then calls
``await shop.orders.start()`` (journal replay + recovery of crashed drafts) and runs
``shop.orders.run(stop)`` beside the outbox loop; ``shop.close()`` finishes this process's
leftover drafts, marks the worker stopped and disconnects.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from bot.config import Settings
from bot.rasa.engines import load_nlu
from connectors.shop.dadata import DadataNameCleaner
from connectors.shop.database import ShopDatabase
from connectors.shop.demo import create_demo_shop
from connectors.shop.engine import make_sqlite_folder
from connectors.shop.order_store import OrderStore
from connectors.shop.outbox import Outbox
from dialogs.policy import RESPONSES
from dialogs.ports import NameVerdict, ShopPorts
from dialogs.responses import Responses
from nlu.engine import NluEngine
from nlu.names import clean_name

log = logging.getLogger(__name__)
SHOP_TABLES = {"shop_orders", "shop_orders_status", "users"}


class OfflineNameCleaner:
    """pymorphy3 name cleaning (no network): the default when no dadata token is set."""

    async def clean(self, raw: str) -> NameVerdict:
        return clean_name(raw)


@dataclass(slots=True)
class Shop:
    db: ShopDatabase
    outbox: Outbox
    ports: ShopPorts
    dadata: DadataNameCleaner | None = None
    orders: OrderStore | None = None

    async def close(self) -> None:
        if self.dadata is not None:
            await self.dadata.close()
        if self.orders is not None:
            await self.orders.close()
        await self.db.close()


def _needs_demo(url: str) -> bool:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    make_sqlite_folder(parsed)
    engine = sa.create_engine(parsed)
    try:
        return not set(sa.inspect(engine).get_table_names()) >= SHOP_TABLES
    finally:
        engine.dispose()


async def open_shop(settings: Settings) -> Shop:
    demo = settings.demo
    if demo.enabled and await asyncio.to_thread(_needs_demo, settings.shop.url):
        log.info("creating the demo shop", extra={"url": settings.shop.url})
        await asyncio.to_thread(create_demo_shop, settings.shop.url, demo.source, demo.catalog)
    db = await ShopDatabase.open(settings.shop)
    outbox = Outbox(
        db,
        settings.mail,
        base_delay=settings.outbox.base_delay,
        max_delay=settings.outbox.max_delay,
    )
    dadata = DadataNameCleaner(settings.dadata) if settings.dadata.token else None
    names = dadata if dadata is not None else OfflineNameCleaner()
    ports = ShopPorts(catalog=db, customers=db, names=names)
    return Shop(db, outbox, ports, dadata, OrderStore(db, settings.shop.orders))


async def load_language(settings: Settings, shop: Shop) -> tuple[NluEngine, Responses]:
    """The NLU (retrained if nlu.yml changed, with the catalog's articles) and the phrases
    (every response the policy uses must exist): what the console and the server share."""
    responses = Responses.load(settings.dialog.responses)
    responses.require(RESPONSES)  # a missing utter_* stops the start, not a call
    nlu = await asyncio.to_thread(
        load_nlu,  # by nlu.engine: the embedded model, or Rasa with it as the fallback
        settings.nlu.engine,
        settings.nlu.data,
        settings.nlu.model_dir,
        settings.rasa,
        threshold=settings.nlu.threshold,
        articles=await shop.db.articles(),
    )
    return nlu, responses


async def catalog_articles(settings: Settings) -> list[str]:
    shop = await open_shop(settings)
    try:
        return await shop.db.articles()
    finally:
        await shop.close()
