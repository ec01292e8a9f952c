"""Calls for the journal's tests: written through the real call store (events ➜ rows), with
recordings made by the real Ogg/Opus writer (tones where each side speaks), at times
relative to now.

    calls = await seed_calls(host.shop.db, tmp_path / "recordings")
    calls["order"]      # the journal key of today's order call, …
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from bot.events import (
    BotSaid,
    CallBegan,
    CallEnded,
    CallerNameSet,
    CallerSaid,
    CallEvent,
    HungUp,
    OrderSaved,
    StateChanged,
    Transferred,
    TurnTimed,
    TurnTiming,
)
from bot.journal.ogg_opus import OggOpusWriter
from bot.journal.settings import JournalSettings
from bot.journal.store import CallJournal, CallStore
from bot.routing import Managers, Router
from bot.shop_setup import load_language, open_shop
from connectors.shop.database import ShopDatabase
from dialogs.context import CallContext
from tests.web.conftest import FakeSynthesizer, Host, console_settings

RATE = 8000
# (t, who, text, key or intent) of today's order call: what the bot said and heard, when
ORDER_DIALOG = [
    (0.4, "bot", "Здравствуйте, Иван! Вы позвонили в магазин.", "utter_greet_name"),
    (3.0, "bot", "Чтобы сделать заказ, скажите «заказ» или нажмите 1.", "utter_main_menu"),
    (6.2, "caller", "хочу сделать заказ", "make_order"),
    (8.0, "bot", "Назовите артикул товара.", "utter_ask_article"),
    (10.6, "caller", "артикул сто сорок два", "give_article"),
    (12.4, "bot", "Не понял, повторите номер артикула товара еще раз.", "utter_article_not_found"),
    (16.0, "caller", "артикул один два три", "give_article"),
    (17.8, "bot", "Чайник электрический. Сколько штук?", "utter_ask_quantity"),
    (20.5, "caller", "две штуки", "give_quantity"),
    (22.0, "bot", "Вы хотите заказать две штуки?", "utter_confirm_quantity"),
    (24.4, "caller", "да", "affirm"),
    (25.6, "bot", "Что-нибудь ещё?", "utter_ask_more"),
    (27.4, "caller", "нет", "deny"),
    (28.6, "bot", "Заказ принят. До свидания!", "utter_order_accepted"),
]
ORDER_SECONDS = 32.0


def voice_file(path: Path, seconds: float, dialog: list[tuple[float, str, str, str]]) -> None:
    """A stereo recording: a tone on the left while the caller speaks, on the right while
    the bot does (about 1.5 s from each line's time)."""
    t = np.arange(int(seconds * RATE)) / RATE
    left, right = np.zeros_like(t), np.zeros_like(t)
    for at, who, _text, _key in dialog:
        span = (t >= at) & (t < at + 1.5)
        if who == "caller":
            left[span] = np.sin(2 * np.pi * 220 * t[span]) * 9000
        else:
            right[span] = np.sin(2 * np.pi * 440 * t[span]) * 6000
    writer = OggOpusWriter(path, RATE)
    writer.write(np.stack([left, right], axis=1).astype(np.int16))
    writer.close()


def _emit(journal: CallJournal, event: CallEvent, t: float) -> None:
    journal(dataclasses.replace(event, call_id=journal.context.call_id, t=t))


def _dialog(journal: CallJournal, dialog: list[tuple[float, str, str, str]]) -> None:
    for at, who, text, key in dialog:
        if who == "bot":
            _emit(journal, BotSaid(text=text, key=key), at)
        else:
            _emit(journal, CallerSaid(text=text, intent=key, confidence=0.86), at + 1.2)
            timing = TurnTiming(at=at + 1.2, source="speech", text=text, intent=key,
                                speech_s=0.9, eop_wait_s=0.3, asr_s=0.25, gap_s=0.78)  # fmt: skip
            _emit(journal, TurnTimed(timing=timing), at + 1.7)


async def seed_calls(db: ShopDatabase, recordings: Path) -> dict[str, str]:
    """Five calls: today an order (recorded), a transfer to manager 103 about an article, a
    transfer to 104; yesterday a hang-up; 10 days ago an old recorded order."""
    store = CallStore(db, JournalSettings(flush_s=0.02))
    store.start()
    now = datetime.now().astimezone()
    keys: dict[str, str] = {}
    plans = [
        ("order", "9607775577", now - timedelta(minutes=30), "order", "", True),
        ("to103", "9161234567", now - timedelta(minutes=20), "transfer", "103", False),
        ("to104", "9260000000", now - timedelta(minutes=10), "transfer", "104", False),
        ("hangup", "9990000001", now - timedelta(days=1), "hangup", "", False),
        ("old", "9607775577", now - timedelta(days=10), "order", "", True),
    ]
    for name, caller, started, kind, target, recorded in plans:
        context = CallContext(f"pbx-{name}", caller, "78123098635", started, "asterisk")
        journal = store.open_call(context)
        keys[name] = journal.key
        dialog = ORDER_DIALOG if kind == "order" else ORDER_DIALOG[2:6]
        if recorded:
            relative = f"{started:%Y/%m/%d}/{name}.opus"
            voice_file(recordings / relative, ORDER_SECONDS, dialog)
            journal.set_recording(relative)
        route = "routes[0]" if target else ""
        _emit(journal, CallBegan(connector="asterisk", route=route), 0.0)
        _emit(journal, StateChanged(state="speaking"), 0.4)
        if kind == "order":
            _emit(journal, CallerNameSet(name="Иван 2(3)"), 0.3)
        if kind == "transfer":
            _dialog(journal, dialog)
            _emit(journal, Transferred(target=target, reason="article_not_recognized"), 14.0)
            _emit(journal, CallEnded(reason="transfer:article_not_recognized", seconds=25.0), 25)
        elif kind == "order":
            _dialog(journal, dialog)
            item = {"article": "123", "name": "Чайник электрический", "quantity": 2}
            order = OrderSaved(
                order_id=41 if name == "order" else 40, status="принят успешно",
                caller=caller, called="78123098635", call_time=started.isoformat(),
                items=(item,),
            )  # fmt: skip
            _emit(journal, order, 28.5)
            _emit(journal, HungUp(by="bot"), 31.0)
            _emit(journal, CallEnded(reason="bot_hangup", seconds=ORDER_SECONDS), ORDER_SECONDS)
        else:
            _emit(journal, HungUp(by="caller"), 8.0)
            _emit(journal, CallEnded(reason="caller_hangup", seconds=8.0), 8.0)
    await store.flush()
    await store.stop()
    return keys


async def journal_host(folder: Path, model_dir: Path) -> Host:
    """:func:`tests.web.conftest.make_host` with a trained NLU model shared by the journal's
    tests (they never retrain), so each test does not train its own."""
    settings = console_settings(folder)
    settings.nlu.model_dir = model_dir
    settings.recordings.dir = folder / "recordings"
    shop = await open_shop(settings)
    nlu, responses = await load_language(settings, shop)
    services = SimpleNamespace(nlu=nlu, responses=responses, synthesizer=FakeSynthesizer())
    managers = Managers(Path(settings.server.managers_file or ""))
    return Host(settings, shop, services, Router([], settings.dialog, managers))
