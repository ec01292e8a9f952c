"""Calls for the journal's tests: written through the real call store (events ➜ rows), with
recordings made by the real Ogg/Opus writer, at times relative to now.

    calls = await seed_calls(host.shop.db, tmp_path / "recordings")
    calls["order"]      # the journal key of the order call of today, …
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from bot.events import (
    BotSaid,
    CallBegan,
    CallEnded,
    CallerNameSet,
    CallerSaid,
    EventBus,
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
from connectors.shop.database import ShopDatabase
from dialogs.context import CallContext

RATE = 8000


def voice_file(path: Path, seconds: float, *, caller_hz: float = 220.0) -> None:
    """A stereo recording: the caller's tone on the left at 0–2 s, the bot's on the right."""
    t = np.arange(int(seconds * RATE)) / RATE
    left = np.where(t < 2.0, np.sin(2 * np.pi * caller_hz * t) * 9000, 0)
    right = np.where(t >= 2.0, np.sin(2 * np.pi * 440 * t) * 6000, 0)
    writer = OggOpusWriter(path, RATE)
    writer.write(np.stack([left, right], axis=1).astype(np.int16))
    writer.close()


def _bus(
    store: CallStore, call_id: str, caller: str, started: datetime
) -> tuple[EventBus, CallJournal]:
    context = CallContext(call_id, caller, "78123098635", started, "asterisk")
    journal = store.open_call(context)
    bus = EventBus(call_id)
    bus.subscribe(journal)
    return bus, journal


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
        bus, journal = _bus(store, f"pbx-{name}", caller, started)
        keys[name] = journal.key
        if recorded:
            relative = f"{started:%Y/%m/%d}/{name}.opus"
            voice_file(recordings / relative, 4.0)
            journal.set_recording(relative)
        bus.publish(CallBegan(connector="asterisk", route="routes[0]" if target else ""))
        bus.publish(StateChanged(state="speaking"))
        if name == "order":
            bus.publish(CallerNameSet(name="Иван 2(3)"))
        bus.publish(BotSaid(text="Назовите артикул товара.", key="utter_ask_article"))
        said = "артикул сто сорок два" if kind == "transfer" else "артикул один два три"
        bus.publish(CallerSaid(text=said, intent="give_article", confidence=0.42))
        timing = TurnTiming(at=1.8, source="speech", text=said, speech_s=1.2, gap_s=0.7)
        if kind == "transfer":
            bus.publish(BotSaid(text="Не понял, повторите.", key="utter_article_not_found"))
            bus.publish(TurnTimed(timing=timing))
            bus.publish(Transferred(target=target, reason="article_not_recognized"))
            bus.publish(CallEnded(reason="transfer:article_not_recognized", seconds=25.0))
        elif kind == "order":
            bus.publish(BotSaid(text="Заказ принят. До свидания!", key="utter_order_accepted"))
            bus.publish(TurnTimed(timing=timing))
            item = {"article": "123", "name": "Чайник", "quantity": 2}
            bus.publish(
                OrderSaved(
                    order_id=41 if name == "order" else 40, status="принят успешно",
                    caller=caller, called="78123098635", call_time=started.isoformat(),
                    items=(item,),
                )
            )  # fmt: skip
            bus.publish(HungUp(by="bot"))
            bus.publish(CallEnded(reason="bot_hangup", seconds=40.0))
        else:
            bus.publish(HungUp(by="caller"))
            bus.publish(CallEnded(reason="caller_hangup", seconds=8.0))
    await store.flush()
    await store.stop()
    return keys
