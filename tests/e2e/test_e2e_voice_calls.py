"""Whole calls with the real engines: Festival caller ➜ VAD ➜ Whisper ➜ NLU ➜ policy ➜ Festival.

The caller's voice is Festival too (the only offline Russian voice here); the phrases are
ones Whisper base transcribes reliably from it (see README «Voice» for the accuracy figures).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.shop_setup import Shop, open_shop
from bot.tools.simulated_call import SimulatedCaller, Turn
from bot.voice import VoiceServices
from speech.tts import Synthesizer, create_synthesizer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("voice")
    settings = Settings()
    settings.shop = dataclasses.replace(settings.shop, url=f"sqlite:///{folder / 'shop.sqlite'}")
    settings.nlu.model_dir = folder / "nlu"
    settings.voice.tts.cache_dir = str(folder / "tts")
    return settings


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[VoiceServices]:
    shop: Shop = await open_shop(settings)
    try:
        yield await VoiceServices.start(settings, settings.voice, shop)
    finally:
        await shop.close()


@pytest.fixture(scope="module")
def caller_voice() -> Synthesizer:
    return create_synthesizer("festival", rate=16000)


async def call(
    services: VoiceServices, voice: Synthesizer, turns: list[Turn], *, fast: bool = True
) -> SimulatedCaller:
    caller = SimulatedCaller(
        services, voice, turns, caller="+79607775577", called="78123098635", fast=fast
    )
    caller.result = await caller.run()  # type: ignore[attr-defined]
    return caller


def said(caller: SimulatedCaller) -> list[str]:
    return caller.result.log.said()  # type: ignore[attr-defined,no-any-return]


async def test_spoken_order_completes(services: VoiceServices, caller_voice: Synthesizer) -> None:
    turns = [
        Turn("say", "хочу сделать заказ"),
        Turn("say", "артикул один два три"),
        Turn("say", "две штуки"),
        Turn("say", "да"),
        Turn("say", "нет"),
        Turn("say", "да"),  # the order read back: right
    ]
    caller = await call(services, caller_voice, turns)
    result = caller.result  # type: ignore[attr-defined]
    assert result.caller_names == ["Иван 2(3)"]
    assert result.hung_up_by_bot, result.log.events
    order_id = result.log.order_ids[-1]
    assert services.shop is not None
    record = await services.shop.db.load_order(order_id)
    assert record is not None and record.status == "принят успешно"
    assert [(i.article, i.quantity) for i in record.items] == [("123", 2)]
    speech_turns = [t for t in result.log.turns if t.source == "speech"]
    assert len(speech_turns) == 6
    assert all(t.asr_s > 0 and t.text for t in speech_turns)
    # the bot's side is real audio: Festival speech, not silence
    assert result.bot_audio.duration > 5 and result.bot_audio.rms() > 200


async def test_keypad_beside_speech(services: VoiceServices, caller_voice: Synthesizer) -> None:
    turns = [
        Turn("dtmf", "1#"),
        Turn("dtmf", "4512#"),
        Turn("dtmf", "3#"),
        Turn("say", "да"),
        Turn("dtmf", "2#"),
        Turn("dtmf", "1"),  # the read-back: key 1 = yes
    ]
    caller = await call(services, caller_voice, turns)
    result = caller.result  # type: ignore[attr-defined]
    assert services.shop is not None
    record = await services.shop.db.load_order(result.log.order_ids[-1])
    assert record is not None
    assert [(i.article, i.quantity) for i in record.items] == [("4512", 3)]
    assert said(caller)[-2:] == ["utter_order_accepted", "utter_goodbye"]


async def test_silence_reprompts_then_hands_off(
    services: VoiceServices, caller_voice: Synthesizer
) -> None:
    turns = [Turn("silence"), Turn("silence"), Turn("silence")]
    caller = await call(services, caller_voice, turns)
    result = caller.result  # type: ignore[attr-defined]
    keys = said(caller)
    assert keys.count("utter_silence") == 2
    assert keys[-1] == "utter_transfer"
    assert result.transfers == ["operator"]
    assert result.log.end_reason == "transfer:silence"


async def test_barge_in_stops_the_prompt_fast(
    services: VoiceServices, caller_voice: Synthesizer
) -> None:
    """Real time: the caller talks over the long menu prompt; playback stops ≤ 200 ms after
    the VAD onset of the caller's speech, and the caller's words are understood."""
    turns = [Turn("barge", "хочу сделать заказ", barge_after_s=1.5), Turn("say", "оператор")]
    caller = await call(services, caller_voice, turns, fast=False)
    result = caller.result  # type: ignore[attr-defined]
    assert result.log.barge_ins, "the prompt was not interrupted"
    assert result.log.barge_ins[0] <= 0.2 + 0.05, result.log.barge_ins
    assert "utter_ask_article" in said(caller)
    first = next(t for t in result.log.turns if t.source == "speech")
    assert first.barge_in and first.intent == "make_order"
