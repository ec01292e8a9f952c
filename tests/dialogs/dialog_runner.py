"""``run_dialog(script)``: play a YAML dialog script through the real NLU, policy and shop.

A script (``tests/dialogs/scripts/*.yml``)::

    name: what it shows
    caller: "+79607775577"          # as the PBX gives it
    called: "78123098635"
    dialog: {max_article_failures: 2}   # optional DialogSettings overrides
    dadata: auto                    # optional: clean names with the local dadata fake
    turns:
      - start:                      # or  say: text | dtmf: "12#" | silence: | hangup:
                                    # (say: with heard: 0.4, as speech heard that surely)
        expect:                     # the bot's events for this turn, in order
          - {type: set_caller_name, name: "Иван 2(3)"}
          - {type: say, text: "Здравствуйте, Иван!"}
          - {type: say, key: utter_main_menu}
    orders:                         # optional: the bot_orders rows after the call
      - {status: принят успешно, items: [{article: "123", quantity: 2}]}
    drafts: true                    # optional: compare "draft" events too (else skipped)
    said:                           # optional: articles/quantities the caller really meant,
      - {article: "123", quantity: 2}   # checked by the wrong-items test of the suite

An expected event matches when every key it names equals the actual event's
(``text_contains`` checks a substring of ``text``); the number of events must match too.
``draft`` events (the order so far, saved after every confirmed change) are left out of the
comparison unless the script sets ``drafts: true``; every event is kept in
``conversation.events``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from bot.call_context import console_context
from bot.conversation import TextConversation
from bot.shop_setup import OfflineNameCleaner
from connectors.shop.dadata import DadataNameCleaner, DadataSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.demo import create_demo_shop
from connectors.shop.settings import ShopSettings
from dialogs.config import DialogSettings
from dialogs.ports import NameCleaner, ShopPorts
from dialogs.responses import Responses
from nlu.engine import NluEngine
from tests.conftest import ROOT
from tests.fakes.dadata_server import SECRET, TOKEN, FakeDadata

SCRIPTS = ROOT / "tests" / "dialogs" / "scripts"


def load_script(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and data.get("turns"), f"{path}: needs turns"
    return data


def matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    for key, value in expected.items():
        if key == "text_contains":
            if value not in actual.get("text", ""):
                return False
        elif actual.get(key) != value:
            return False
    return True


async def run_dialog(script: dict[str, Any], nlu: NluEngine, workdir: Path) -> TextConversation:
    url = create_demo_shop(workdir / "shop.sqlite")
    db = await ShopDatabase.open(ShopSettings(url=url))
    nlu.set_articles(await db.articles())
    settings = dataclasses.replace(DialogSettings(), **script.get("dialog", {}))
    fake: FakeDadata | None = None
    cleaner: NameCleaner = OfflineNameCleaner()
    dadata: DadataNameCleaner | None = None
    if "dadata" in script:
        fake = await FakeDadata(script["dadata"], hang_seconds=5.0).start()
        timeout = float(script.get("dadata_timeout", 1.0))
        dadata = DadataNameCleaner(DadataSettings(TOKEN, SECRET, fake.url, timeout))
        cleaner = dadata
    try:
        responses = Responses.load(ROOT / "data" / "responses.yml")
        conversation = TextConversation(
            console_context(
                str(script.get("caller", "")), str(script.get("called", "78123098635"))
            ),
            nlu,
            db,
            ShopPorts(catalog=db, customers=db, names=cleaner),
            responses,
            settings,
        )
        drafts = bool(script.get("drafts"))
        for number, turn in enumerate(script["turns"], start=1):
            events = [
                e for e in await _play(conversation, turn) if drafts or e.get("type") != "draft"
            ]
            expected = turn.get("expect", [])
            where = f"{script.get('name')}: turn {number} ({_describe(turn)})"
            assert len(events) == len(expected) and all(
                matches(e, a) for e, a in zip(expected, events, strict=True)
            ), f"{where}\n expected: {expected}\n actual:   {events}"
        if "orders" in script:
            await _check_orders(db, conversation, script["orders"])
        if script.get("ended") is not None:
            assert conversation.ended == script["ended"]
        return conversation
    finally:
        if dadata is not None:
            await dadata.close()
        if fake is not None:
            await fake.stop()
        await db.close()


async def _play(conversation: TextConversation, turn: dict[str, Any]) -> list[dict[str, Any]]:
    if "start" in turn:
        return await conversation.start()
    if "say" in turn:
        return await conversation.say(str(turn["say"]), turn.get("heard"))
    if "dtmf" in turn:
        return await conversation.keys(str(turn["dtmf"]))
    if "silence" in turn:
        return await conversation.silence()
    if "hangup" in turn:
        return await conversation.hangup()
    raise AssertionError(f"unknown turn {turn}")


def _describe(turn: dict[str, Any]) -> str:
    return next(f"{k}: {v}" if v is not None else k for k, v in turn.items() if k != "expect")


async def _check_orders(
    db: ShopDatabase, conversation: TextConversation, expected: list[dict[str, Any]]
) -> None:
    assert len(conversation.order_ids) == len(expected), conversation.order_ids
    for order_id, want in zip(conversation.order_ids, expected, strict=True):
        record = await db.load_order(order_id)
        assert record is not None
        assert record.status == want["status"]
        got_items = [{"article": i.article, "quantity": i.quantity} for i in record.items]
        assert got_items == want.get("items", []), got_items
        if "caller" in want:
            assert record.caller == want["caller"]
