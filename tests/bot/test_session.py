"""The voice session with speech fakes on a lockstep line: no models, no real time.

Each test plays a caller against ``CallSession`` and checks what the bot said (the tone
synthesizer's texts and the call events), when its audio stopped (frames on the line) and
what was saved (the in-memory orders port).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from bot.call_log import CallLog
from bot.config import Settings
from bot.events import TurnTiming
from bot.session import CallSession
from bot.tools.simulated_call import SessionWatch
from bot.voice import VoiceServices
from bot.voice_settings import VadSettings, VoiceSettings
from dialogs.config import DialogSettings
from dialogs.responses import Responses
from nlu.engine import NluEngine
from speech.audio import Audio
from tests.conftest import DEMO_ARTICLES, ROOT
from tests.fakes.line import LockstepLine
from tests.fakes.shop_ports import MemoryOrders, MemoryShop, Product
from tests.fakes.speech import (
    NOISE,
    Codebook,
    CodedVoice,
    EnergyVad,
    ScriptedRecognizer,
    ToneSynthesizer,
)

# the caller's side of a whole order; the last «да» answers the read-back of the order
ORDER = ["хочу сделать заказ", "артикул один два три", "две штуки", "да", "нет", "да"]


@dataclass
class Call:
    """One test call: the line, the session, its watch, and the fakes behind them."""

    line: LockstepLine
    session: CallSession
    watch: SessionWatch
    voice: CodedVoice
    recognizer: ScriptedRecognizer
    synthesizer: ToneSynthesizer
    orders: MemoryOrders
    task: asyncio.Task[CallLog] = field(init=False)

    async def say(self, text: str) -> None:
        """Wait for the caller's turn, then say ``text``."""
        await self.listening()
        await self.talk(text)
        await self.watch.until(lambda: self.watch.state != "listening")

    async def talk(self, text: str) -> None:
        """Say ``text`` now, whatever the bot is doing (synthesized at once, so the line's
        audio time does not run on while the caller prepares)."""
        await self.line.say(self.voice.synthesize_sync(text))

    async def say_with_pause(self, first: str, second: str, pause_s: float) -> None:
        """«двенадцать … сорок пять»: two parts of one answer with a pause between them."""
        await self.listening()
        one, two = self.voice.synthesize_sync(first), self.voice.synthesize_sync(second)
        gap = bytes(int(pause_s * one.rate) * 2)
        await self.line.say(Audio(one.pcm + gap + two.pcm, one.rate))
        await self.watch.until(lambda: self.watch.state != "listening")

    def speech_turns(self) -> list[TurnTiming]:
        return [t for t in self.session.log.turns if t.source == "speech"]

    async def listening(self) -> None:
        await self.watch.until(lambda: self.watch.state == "listening")

    async def end(self, timeout: float = 5.0) -> CallLog:
        log = await asyncio.wait_for(self.task, timeout)
        await self.line.stop()
        return log

    def said(self) -> list[str]:
        return self.session.log.said()


Factory = Callable[..., Call]


@pytest.fixture
async def make_call(engine: NluEngine) -> AsyncIterator[Factory]:
    calls: list[Call] = []
    responses = Responses.load(ROOT / "data" / "responses.yml")

    def factory(
        *,
        voice: VoiceSettings | None = None,
        dialog: DialogSettings | None = None,
        asr_delay_s: float = 0.0,
        asr_fail: bool = False,
        asr_timeout_s: float = 10.0,
        tts_fail: bool = False,
        tts_ms_per_char: float = 10.0,
        orders_fail: bool = False,
        catalog: dict[str, Product] | None = None,
        tick_s: float = 0.0,
    ) -> Call:
        codebook = Codebook()
        settings = Settings()
        voice = voice or VoiceSettings()
        recognizer = ScriptedRecognizer(codebook, delay_s=asr_delay_s, fail=asr_fail)
        recognizer.call_timeout_s = asr_timeout_s
        synthesizer = ToneSynthesizer(fail=tts_fail, ms_per_char=tts_ms_per_char)
        orders = MemoryOrders(fail=orders_fail)
        services = VoiceServices(
            settings,
            voice,
            engine,
            recognizer,
            synthesizer,
            responses,
            MemoryShop(catalog).ports(),
            orders,
            vad=EnergyVad,
        )
        line = LockstepLine(tick_s=tick_s)
        session = CallSession(line, services, dialog=dialog, pace=False)
        watch = SessionWatch(patience_s=5.0)
        session.subscribe(watch)
        call = Call(line, session, watch, CodedVoice(codebook), recognizer, synthesizer, orders)
        line.start()
        call.task = asyncio.create_task(session.run())
        calls.append(call)
        return call

    yield factory
    for call in calls:
        call.task.cancel()
        await asyncio.gather(call.task, return_exceptions=True)
        await call.line.stop()


def frames_of(call: Call, from_tick: int = 0) -> int:
    return sum(1 for tick, _ in call.line.bot_frames if tick >= from_tick)


async def test_a_whole_order_by_voice(make_call: Factory) -> None:
    call = make_call()
    for text in ORDER:
        await call.say(text)
    log = await call.end()
    assert call.recognizer.heard == ORDER
    assert call.recognizer.hints[:3] == ["menu", "article", "quantity"]
    assert [(i.article, i.quantity) for i in call.orders.saved[0].items] == [("123", 2)]
    assert call.orders.saved[0].status == "принят успешно"
    assert log.said()[-2:] == ["utter_order_accepted", "utter_goodbye"]
    assert call.line.hung_up and log.end_reason == "bot_hangup"
    assert call.line.caller_names == ["Иван 2(3)"]
    speech = [t for t in log.turns if t.source == "speech"]
    assert [t.text for t in speech] == ORDER and all(t.gap_s is not None for t in speech)
    assert "«2 штуки»" not in " ".join(call.synthesizer.said)
    assert "две штуки" in " ".join(call.synthesizer.said), "numbers are spoken as words"


async def test_the_vad_in_its_threads_takes_the_same_order(make_call: Factory) -> None:
    call = make_call(voice=VoiceSettings(vad=VadSettings(threads=2)))  # off the event loop
    for text in ORDER:
        await call.say(text)
    await call.end()
    assert call.recognizer.heard == ORDER
    assert [(i.article, i.quantity) for i in call.orders.saved[0].items] == [("123", 2)]


async def test_a_quantity_heard_unsurely_is_asked_for_by_keys(make_call: Factory) -> None:
    call = make_call()
    for text in ORDER[:2]:
        await call.say(text)
    call.recognizer.confidence = 0.3  # the recognizer's own confidence reaches the dialog
    await call.say(ORDER[2])
    log = await call.end()  # no keys come: silences, then an operator
    said = log.said()
    assert "utter_confirm_quantity_keypad" in said and "utter_confirm_quantity" not in said
    assert all(not o.items for o in call.orders.saved)


async def test_barge_in_stops_the_menu_and_takes_the_turn(make_call: Factory) -> None:
    call = make_call()
    await call.watch.until(lambda: call.watch.state == "speaking")
    await call.watch.until(
        lambda: call.synthesizer.said[-1:] != [] and "заказ" in call.synthesizer.said[-1]
    )
    start = call.line.tick
    await call.talk("хочу сделать заказ")
    await call.watch.until(lambda: bool(call.session.log.turns))
    assert "utter_ask_article" in call.said()
    menu = call.synthesizer.said[1]
    full_frames = int(len(menu) * 10 / 20)  # 10 ms per character, 20 ms frames
    assert call.line.cleared, "the far end's buffer was cleared"
    stop = call.line.cleared[0]
    menu_frames = sum(1 for tick, _ in call.line.bot_frames if start <= tick <= stop)
    assert menu_frames < full_frames / 2, "the menu was cut off soon after the caller spoke"
    assert stop - start < 20, "within 0.4 s of the caller's first word"
    assert call.session.log.barge_ins and call.session.log.turns[-1].barge_in


async def test_speech_over_a_goodbye_is_not_a_barge_in(make_call: Factory) -> None:
    call = make_call(tts_ms_per_char=60.0)  # «До свидания!»: 0.72 s, 36 frames
    await call.say("до свидания")
    await call.watch.until(lambda: call.watch.state == "speaking")
    start = call.line.tick
    await call.talk("подождите ещё минутку")
    log = await call.end()
    assert log.said()[-1] == "utter_goodbye" and call.line.hung_up
    assert not call.line.cleared and not log.barge_ins
    assert frames_of(call, start) >= 35, "the goodbye played to its end"
    assert "подождите ещё минутку" not in call.recognizer.heard


async def test_keypad_digits_end_with_hash_and_with_the_pause(make_call: Factory) -> None:
    call = make_call()  # voice.dtmf_timeout: 2 s of audio
    await call.listening()
    await call.line.press("1")  # menu: order, ended by the pause
    await call.watch.until(lambda: "utter_ask_article" in call.said())
    await call.listening()
    await call.line.press("123#")
    await call.watch.until(lambda: "utter_ask_quantity" in call.said())
    await call.listening()
    await call.line.press("2#")
    await call.watch.until(lambda: "utter_confirm_quantity" in call.said())
    await call.listening()
    await call.line.press("1")
    await call.watch.until(lambda: "utter_ask_more" in call.said())
    await call.listening()
    await call.line.press("2")
    await call.watch.until(lambda: "utter_read_back" in call.said())
    await call.listening()
    await call.line.press("1")
    log = await call.end()
    typed = [t.text for t in log.turns if t.source == "dtmf"]
    assert typed == ["1", "123", "2", "1", "2", "1"]
    assert [(i.article, i.quantity) for i in call.orders.saved[0].items] == [("123", 2)]


async def test_no_answer_re_prompts_then_hands_off(make_call: Factory) -> None:
    voice = VoiceSettings(vad=dataclasses.replace(VoiceSettings().vad, no_input_ms=1000))
    call = make_call(voice=voice)
    log = await call.end()
    said = log.said()
    assert said.count("utter_silence") == 2 and said[-1] == "utter_transfer"
    assert call.line.transfers == ["operator"] and log.end_reason == "transfer:silence"
    assert [t.source for t in log.turns] == ["silence"] * 3


async def test_the_maximum_call_length_hands_off(make_call: Factory) -> None:
    vad = dataclasses.replace(VoiceSettings().vad, no_input_ms=10_000_000)
    call = make_call(voice=VoiceSettings(vad=vad, max_call_seconds=0.3))
    log = await call.end()
    assert call.line.transfers == ["operator"]
    assert log.end_reason == "transfer:max_call_length"


async def test_a_false_barge_in_replays_the_prompt_and_is_no_silence(make_call: Factory) -> None:
    vad = dataclasses.replace(VoiceSettings().vad, no_input_ms=20_000)
    call = make_call(voice=VoiceSettings(vad=vad))
    await call.say("хочу сделать заказ")
    await call.watch.until(lambda: call.watch.state == "speaking")
    await call.talk(NOISE)  # a cough over «Назовите артикул»
    await call.watch.until(
        lambda: any(e["type"] == "prompt_replayed" for e in call.session.log.events)
    )
    await call.say("артикул один два три")
    await call.watch.until(lambda: "utter_ask_quantity" in call.said())
    said = call.said()
    assert "utter_silence" not in said and "utter_not_understood" not in said
    assert call.line.cleared, "the prompt was stopped by the noise"
    ask = call.synthesizer.said.index(call.synthesizer.said[2])
    assert call.synthesizer.said[2].startswith("Назовите артикул") and ask == 2
    article_frames = int(len(call.synthesizer.said[2]) * 10 / 20)
    assert frames_of(call) >= article_frames, "the interrupted prompt was played again"
    assert call.recognizer.heard[:3] == ["хочу сделать заказ", "", "артикул один два три"]


async def test_a_recognition_time_out_hands_off_with_the_order_so_far(make_call: Factory) -> None:
    call = make_call(asr_timeout_s=0.2)
    for text in ORDER[:4]:
        await call.say(text)
    await call.watch.until(lambda: "utter_ask_more" in call.said())
    call.recognizer.delay_s = 0.6
    await call.say("артикул один два четыре пять")
    log = await call.end()
    assert call.line.transfers == ["operator"]
    assert log.end_reason == "recognition_timeout"
    assert [e["engine"] for e in log.of_type("engine_failed")] == ["asr"]
    assert call.orders.saved[0].status == "переведен на оператора"
    assert [(i.article, i.quantity) for i in call.orders.saved[0].items] == [("123", 2)]


async def test_an_engine_failure_hands_off_with_the_order_so_far(make_call: Factory) -> None:
    call = make_call()
    for text in ORDER[:4]:
        await call.say(text)
    await call.watch.until(lambda: "utter_ask_more" in call.said())
    call.recognizer.fail = True
    await call.say("артикул один два четыре пять")
    log = await call.end()
    assert call.line.transfers == ["operator"] and log.end_reason == "error"
    assert [(i.article, i.quantity) for i in call.orders.saved[0].items] == [("123", 2)]


async def test_a_synthesis_failure_hands_off_at_once(make_call: Factory) -> None:
    call = make_call(tts_fail=True)
    log = await call.end()
    assert call.line.transfers == ["operator"]
    assert log.end_reason == "tts_failed"
    assert {e["engine"] for e in log.of_type("engine_failed")} == {"tts"}
    assert not call.line.bot_frames, "nothing could be said"


async def to_the_confirmation(call: Call) -> None:
    for text in ORDER[:3]:
        await call.say(text)
    await call.watch.until(lambda: "utter_confirm_quantity" in call.said())


# a speculative recognition takes wall time: the line runs at 5× real time in these tests
FAST_LINE = 0.004
# where the test is about *when* the early answer comes: the speculative result (a hop to the
# speech pool) must be back within the 192 ms of audio between the lead and the full window;
# at 5× that is 38 ms of wall time, which a loaded CI machine once missed; at 2× it is 96 ms
TIMED_LINE = 0.01


async def test_a_yes_is_answered_in_the_pause_without_the_full_window(make_call: Factory) -> None:
    # the default yes/no early pause acts with the window itself (voice_settings): the
    # mechanism is shown with an early pause well before it
    vad = VadSettings(early_silence_ms={**VadSettings().early_silence_ms, "yes_no": 450})
    call = make_call(voice=VoiceSettings(vad=vad), tick_s=TIMED_LINE)
    await to_the_confirmation(call)
    await call.say("да")
    await call.watch.until(lambda: "utter_ask_more" in call.said())
    await call.watch.until(lambda: len(call.speech_turns()) >= 4)
    turn = call.speech_turns()[3]
    assert turn.text == "да" and turn.early, "answered during the pause"
    assert turn.eop_wait_s < 0.5, "before the yes/no window of 500 ms had passed"
    # recognised from 300 ms of silence on (the lead), answered at the 450 ms early pause
    assert turn.eop_wait_s >= 0.45 - 0.04, "not before the early pause itself"
    assert call.session.early.used >= 1
    assert call.recognizer.heard.count("да") == 1, "the speculative result was the only one"


async def test_a_speculation_skipped_for_a_busy_pool_starts_when_a_worker_is_free(
    make_call: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every speech worker busy at the lead and at the early pause: the speculation is not
    queued, but starts as soon as a worker is free, and the article is still answered
    before its 900 ms window."""
    checks = 0

    def busy_twice() -> bool:
        nonlocal checks
        checks += 1
        return checks <= 2

    call = make_call(tick_s=TIMED_LINE)
    await call.say("хочу сделать заказ")
    await call.watch.until(lambda: "utter_ask_article" in call.said())
    monkeypatch.setattr("bot.early_turn.pool_busy", busy_twice)
    await call.say("артикул один два три")
    await call.watch.until(lambda: len(call.speech_turns()) >= 2)
    turn = call.speech_turns()[1]
    assert checks > 2, "the pool was asked again after the skips"
    early = call.session.early
    assert early.skipped_busy >= 1 and early.retried == 1
    assert turn.early and turn.eop_wait_s < 0.9, "answered before the article's whole window"
    assert call.recognizer.heard.count("артикул один два три") == 1, "one recognition"


async def test_a_yes_by_default_is_answered_with_the_window_recognised_ahead(
    make_call: Factory,
) -> None:
    """Defaults: a yes/no answer waits for its 500 ms window (no early cut of «да …
    наверное»), but its recognition started 340 ms into the silence, so nothing waits for
    the recognizer when the window ends."""
    call = make_call(tick_s=TIMED_LINE)
    await to_the_confirmation(call)
    await call.say("да")
    await call.watch.until(lambda: len(call.speech_turns()) >= 4)
    turn = call.speech_turns()[3]
    assert turn.text == "да" and not turn.early
    assert 0.5 <= turn.eop_wait_s < 0.6, "the whole window, no more"
    assert turn.asr_s < 0.05, "the speculative transcript was used"
    assert call.recognizer.heard.count("да") == 1, "one recognition of the phrase"


async def test_a_dictated_article_with_a_pause_between_groups_is_not_cut(
    make_call: Factory,
) -> None:
    call = make_call(tick_s=FAST_LINE)
    await call.say("хочу сделать заказ")
    await call.watch.until(lambda: "utter_ask_article" in call.said())
    await call.say_with_pause("двенадцать", "сорок пять", pause_s=0.45)
    await call.watch.until(lambda: len(call.speech_turns()) >= 2)
    assert call.synthesizer.said[-1].startswith("Швабра с отжимом"), call.synthesizer.said
    turn = call.speech_turns()[-1]
    assert turn.text == "двенадцать сорок пять", "not cut at the pause between the groups"


async def test_an_article_a_longer_one_continues_waits_for_the_window(
    make_call: Factory, engine: NluEngine
) -> None:
    articles = ["123", "1245", "4512", "12"]
    engine.set_articles(articles)
    try:
        shop = {a: Product(a, f"Товар {a}") for a in articles}
        call = make_call(catalog=shop, tick_s=FAST_LINE)
        await call.say("хочу сделать заказ")
        await call.watch.until(lambda: "utter_ask_article" in call.said())
        await call.say_with_pause("один два", "четыре пять", pause_s=0.45)
        await call.watch.until(lambda: len(call.speech_turns()) >= 2)
        said = [e["text"] for e in call.session.log.of_type("say")]
        assert said[-1].startswith("Товар 1245."), "12 (a catalog article) was not taken"
    finally:
        engine.set_articles(DEMO_ARTICLES)


async def test_speculation_off_waits_for_the_full_window(make_call: Factory) -> None:
    call = make_call(voice=VoiceSettings(speculate=False), tick_s=FAST_LINE)
    await to_the_confirmation(call)
    await call.say("да")
    await call.watch.until(lambda: len(call.speech_turns()) >= 4)
    turn = call.speech_turns()[3]
    assert not turn.early and turn.eop_wait_s >= 0.5
    assert call.session.early.started == 0
