"""One simulated voice call through both Rasa engines (``nlu.engine`` and ``dialog.engine``
``rasa``), with the real speech engines: a Festival caller ➜ Silero VAD ➜ Whisper ➜ Rasa's
NLU and our numbers ➜ the Rasa assistant and our actions ➜ Festival. The caller talks over
the menu (barge-in), then orders in real time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.rasa.nlu import RasaNluEngine
from bot.rasa.settings import RasaSettings
from bot.shop_setup import Shop, open_shop
from bot.tools.simulated_call import SimulatedCaller, Turn
from bot.voice import VoiceServices
from connectors.shop.settings import ShopSettings
from dialogs.config import DialogSettings
from speech.tts import create_synthesizer
from tests.rasa.conftest import RasaStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture
async def services(rasa_stack: RasaStack, tmp_path: Path) -> AsyncIterator[VoiceServices]:
    settings = Settings()
    settings.shop = ShopSettings(url=rasa_stack.shop_url)
    settings.demo = dataclasses.replace(settings.demo, enabled=False)
    settings.nlu = dataclasses.replace(settings.nlu, engine="rasa", model_dir=tmp_path / "nlu")
    settings.dialog = DialogSettings(engine="rasa")
    settings.rasa = RasaSettings(url=rasa_stack.rasa_url)
    settings.voice.tts.cache_dir = str(tmp_path / "tts")
    shop: Shop = await open_shop(settings)
    try:
        yield await VoiceServices.start(settings, settings.voice, shop)
    finally:
        await shop.close()


async def test_a_voice_call_through_both_rasa_engines(
    services: VoiceServices, rasa_stack: RasaStack
) -> None:
    assert isinstance(services.nlu, RasaNluEngine)
    turns = [
        Turn("barge", "хочу сделать заказ", barge_after_s=1.5),
        Turn("say", "артикул один два три"),
        Turn("say", "две штуки"),
        Turn("say", "да"),
        Turn("say", "нет"),
        Turn("say", "да"),  # the order read back: right
    ]
    voice = create_synthesizer("festival", rate=16000)
    caller = SimulatedCaller(services, voice, turns, caller="+79607775577", called="78123098635")
    result = await caller.run()
    log = result.log
    assert result.caller_names == ["Иван 2(3)"]
    assert log.barge_ins and log.barge_ins[0] <= 0.25, log.barge_ins
    assert not [e for e in log.events if e.get("type") == "nlu_fallback"], "Rasa parsed each turn"
    speech = [t for t in log.turns if t.source == "speech"]
    assert [t.intent for t in speech] == [
        "make_order",
        "inform",
        "inform",
        "affirm",
        "deny",
        "affirm",
    ]
    assert log.said()[-2:] == ["utter_order_accepted", "utter_goodbye"]
    assert result.hung_up_by_bot
    assert services.shop is not None
    record = await services.shop.db.load_order(log.order_ids[-1])
    assert record is not None and record.status == "принят успешно"
    assert [(i.article, i.quantity) for i in record.items] == [("123", 2)]
    # the dialogue was the assistant's: its tracker of this call ran our actions
    url = f"{rasa_stack.rasa_url}/conversations/{log.call_id}/tracker"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        tracker = await response.json()
    actions = [e.get("name") for e in tracker["events"] if e.get("event") == "action"]
    assert "action_check_article" in actions and "action_read_back_answer" in actions
