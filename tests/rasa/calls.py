"""Typed calls against the real Rasa stack: a :class:`TextConversation` with either engine."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.call_context import console_context
from bot.conversation import TextConversation
from bot.orders import DurableOrders
from bot.rasa.nlu import RasaNluEngine
from bot.rasa.settings import RasaSettings
from bot.shop_setup import OfflineNameCleaner
from connectors.shop.database import ShopDatabase
from connectors.shop.order_store import OrderStore
from connectors.shop.settings import ShopSettings
from dialogs.config import DialogSettings
from dialogs.ports import ShopPorts
from dialogs.responses import Responses
from nlu.engine import NluEngine
from nlu.training_data import load_training_data
from tests.conftest import DEMO_ARTICLES, ROOT
from tests.rasa.conftest import RasaStack

RESPONSES = Responses.load(ROOT / "data" / "responses.yml")
CALLED = "78123098635"


def rasa_nlu(engine: NluEngine, rasa: RasaSettings) -> RasaNluEngine:
    """Rasa parses; the session's embedded model is the fallback."""
    data = load_training_data(ROOT / "data" / "nlu.yml")
    articles = getattr(engine, "_sorted_articles", None) or DEMO_ARTICLES
    return RasaNluEngine(
        engine.model, data, rasa=rasa, threshold=engine.threshold, articles=articles
    )


@asynccontextmanager
async def text_call(
    stack: RasaStack,
    engine: NluEngine,
    *,
    caller: str = "+79607775577",
    nlu: str = "embedded",
    dialog: str = "rasa",
    rasa: dict[str, Any] | None = None,
    **dialog_settings: Any,
) -> AsyncIterator[tuple[TextConversation, ShopDatabase]]:
    db = await ShopDatabase.open(ShopSettings(url=stack.shop_url))
    before = list(getattr(engine, "_sorted_articles", DEMO_ARTICLES))
    try:
        settings = RasaSettings(url=stack.rasa_url, **(rasa or {}))
        engine.set_articles(await db.articles())  # the session's engine: given back below
        understanding = rasa_nlu(engine, settings) if nlu == "rasa" else engine
        ports = ShopPorts(catalog=db, customers=db, names=OfflineNameCleaner())
        dialog_config = dataclasses.replace(DialogSettings(), engine=dialog, **dialog_settings)
        conversation = TextConversation(
            console_context(caller, CALLED),
            understanding,
            db,
            ports,
            RESPONSES,
            dialog_config,
            orders=DurableOrders(OrderStore(db)),
            rasa=settings,
        )
        yield conversation, db
    finally:
        engine.set_articles(before)
        await db.close()


def said(events: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in events if e["type"] == "say"]


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]
