"""``python -m bot bench recognition``: how well the spoken order is understood, and what the
dialog makes of it.

Two voices say the same articles and quantities (:mod:`bot.tools.recognition_sets`):
``human`` — one speaker's Asterisk recordings put together as a PBX says numbers
(:mod:`bot.tools.human_voice`) — and ``festival`` (the synthetic voice, 8 kHz, μ-law round
trip). The demo catalog holds each article and one near neighbour.

1. **Single shot**: every phrase through the real path — 8 kHz audio ➜ the configured
   recognizer with the dialog's hint (``Hints(expect)``, as the call session passes it) ➜
   ``NluEngine.parse(text, expect)`` — scored per voice and per article style. With
   ``nbest`` the same phrases also go through Whisper with a beam search at the digit
   prompts (``voice.asr.options.beam_sizes``: ``single_shot_beam``, its best hypothesis only,
   as the session takes it today) and with its runner-up hypotheses read by the NLU against
   the catalog (``parse(…, alternatives=…)``: ``single_shot_nbest``, what the session gains
   once it passes them on).
2. **Simulated calls**: one whole call per article through the real voice session
   (:class:`~bot.tools.simulated_call.SimulatedCaller`, fast mode), the caller answering
   from what the bot just said (:class:`~bot.tools.recognition_caller.RecognitionCaller`),
   once honest and once always saying «да». Each call ends with exactly the intended order,
   a handoff, or something else; **wrong items** are items saved (in a draft or the order)
   that the caller never meant.

Writes ``bench/recognition.json`` and ``bench/recognition.png``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.shop_setup import open_shop
from bot.tools.bench_recognition_report import plot, score_article, score_quantity, summary
from bot.tools.human_voice import PbxVoice
from bot.tools.line_audio import line_audio
from bot.tools.recognition_caller import CallerVoice, Intent, RecognitionCaller
from bot.tools.recognition_sets import (
    Item,
    Product,
    Spoken,
    article_items,
    bench_catalog,
    draw_articles,
    draw_quantities,
    quantity_items,
    say_article,
    say_quantity,
)
from bot.tools.simulated_call import SimulatedCaller, replies
from bot.voice import VoiceServices
from connectors.shop.records import CatalogItem
from speech.asr import Hints, Recognizer
from speech.audio import Audio
from speech.tts import Synthesizer, create_synthesizer

SETS = ("human", "festival")
CALLER = "+79031112233"  # a demo caller (greeted by name)
CALLED = "78123098635"


@dataclass(frozen=True, slots=True)
class BenchOptions:
    per_style: int = 12  # articles of each style (4 styles)
    quantities: int = 30
    calls: int | None = None  # simulated calls per voice and caller (None: one per article)
    sets: tuple[str, ...] = SETS
    callers: tuple[str, ...] = ("honest", "always_yes")
    nbest: bool = True
    seed: int = 1  # the human voice's gaps


class VoiceUnderTest:
    """Says a set's words: ``render(spoken, attempt)`` ➜ 8 kHz line audio."""

    def __init__(self, name: str, festival: Synthesizer, seed: int) -> None:
        self.name = name
        self.festival = festival
        self.human = PbxVoice(seed=seed) if name == "human" else None
        self._cache: dict[str, Audio] = {}

    async def prepare(self, texts: Sequence[Spoken]) -> None:
        if self.human is None:
            for spoken in texts:
                await self._festival(spoken)

    async def _festival(self, spoken: Spoken) -> Audio:
        text = spoken.festival_text
        audio = self._cache.get(text)
        if audio is None:
            audio = line_audio(await self.festival.synthesize(text))
            self._cache[text] = audio
        return audio

    def render(self, spoken: Spoken) -> Audio:
        if self.human is not None:
            return self.human.say(spoken.groups)  # new gaps every time, as a person varies
        audio = self._cache.get(spoken.festival_text)
        if audio is None:  # not prepared: synthesize now (milliseconds in a warm Festival)
            audio = line_audio(self.festival.synthesize_sync(spoken.festival_text))
            self._cache[spoken.festival_text] = audio
        return audio


# -- single shot ----------------------------------------------------------------------------


async def single_shot(
    services: VoiceServices,
    recognizer: Recognizer,
    voice: VoiceUnderTest,
    items: Sequence[Item],
    *,
    alternatives: bool,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for item in items:
        audio = voice.render(item.spoken)
        transcript = await recognizer.transcribe(audio, Hints(item.kind))
        others: tuple[str, ...] = getattr(transcript, "alternatives", ()) if alternatives else ()
        parse = services.nlu.parse(transcript.text.strip(), item.kind, others)
        if transcript.confidence is not None:  # as the call session passes it to the dialog
            parse = dataclasses.replace(parse, heard_confidence=transcript.confidence)
        score = score_article if item.kind == "article" else score_quantity
        rows.append(
            {
                "kind": item.kind,
                "style": item.style,
                "value": item.value,
                "said": item.spoken.text,
                "heard": transcript.text.strip(),
                **score(parse, item.value),
            }
        )
    return summary(rows)


# -- simulated calls ------------------------------------------------------------------------


async def simulated_calls(
    services: VoiceServices,
    caller_voice: Synthesizer,
    voice: VoiceUnderTest,
    intents: Sequence[Intent],
    *,
    honest: bool,
    accepted: str,
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for n, intent in enumerate(intents):
        says = CallerVoice(
            article=_renderer(voice, say_article, intent, n),
            quantity=_renderer(voice, say_quantity, intent, n),
        )
        caller = RecognitionCaller(intent, says, honest=honest)
        simulated = SimulatedCaller(
            services,
            caller_voice,
            replies(caller.answer, 40),
            caller=CALLER,
            called=CALLED,
            fast=True,
            patience_s=20.0,
        )
        result = await simulated.run()
        results.append(call_outcome(result.log.events, intent, accepted, caller))
    return results


def _renderer(
    voice: VoiceUnderTest, say: Callable[..., Spoken], intent: Intent, n: int
) -> Callable[[int], Audio]:
    import random

    def render(attempt: int) -> Audio:
        rng = random.Random(n * 100 + attempt)
        if say is say_article:
            spoken = say_article(intent.article, intent.style, prefix=rng.random() < 0.5)
        else:
            spoken = say_quantity(intent.quantity, rng)
        return voice.render(spoken)

    return render


def call_outcome(
    events: Sequence[dict[str, Any]], intent: Intent, accepted: str, caller: RecognitionCaller
) -> dict[str, Any]:
    meant = (intent.article, intent.quantity)
    saved = [e for e in events if e["type"] in ("order", "draft")]
    items = {(i["article"], int(i["quantity"])) for e in saved for i in e.get("items", [])}
    orders = [e for e in events if e["type"] == "order"]
    final = orders[-1] if orders else None
    exact = (
        final is not None
        and final["status"] == accepted
        and [(i["article"], int(i["quantity"])) for i in final["items"]] == [meant]
    )
    transfers = [e["reason"] for e in events if e["type"] == "transfer"]
    outcome = "intended" if exact else "handoff" if transfers else "other"
    keys = [e["key"] for e in events if e["type"] == "say"]
    return {
        "article": intent.article,
        "style": intent.style,
        "quantity": intent.quantity,
        "outcome": outcome,
        "reason": transfers[-1] if transfers else "",
        "wrong_items": sorted(f"{a}×{q}" for a, q in items - {meant}),
        "turns": sum(1 for e in events if e["type"] == "caller_said"),
        "article_attempts": caller.article_attempts,
        "keypad": "utter_article_keypad" in keys or "utter_ask_quantity_keypad" in keys,
        "unanswered": caller.unknown,
    }


# -- the run --------------------------------------------------------------------------------


async def run_recognition_bench(
    settings: Settings, out: Path, options: BenchOptions | None = None
) -> dict[str, Any]:
    options = options or BenchOptions()
    started = time.perf_counter()
    articles = draw_articles(options.per_style)
    catalog = bench_catalog([a for a, _ in articles])
    names = {p.article: p.name for p in catalog}
    quantities = draw_quantities(options.quantities)
    items = article_items(articles) + quantity_items(quantities)
    count = len(articles) if options.calls is None else min(options.calls, len(articles))
    intents = [
        Intent(a, names[a], quantities[i % len(quantities)], style)
        for i, (a, style) in enumerate(articles[:count])
    ]
    work = Path(tempfile.mkdtemp(prefix="recognition-bench-"))
    settings = dataclasses.replace(
        settings,
        shop=dataclasses.replace(settings.shop, url=f"sqlite:///{work / 'shop.sqlite'}"),
        dialog=dataclasses.replace(settings.dialog, scenario="order"),
    )
    shop = await open_shop(settings)
    report: dict[str, Any] = {"sets": {}}
    try:
        await shop.db.replace_catalog([CatalogItem(p.article, p.name, "шт") for p in catalog])
        services = await VoiceServices.start(settings, settings.voice, shop)
        festival = create_synthesizer("festival", rate=16000)
        nbest = _nbest_recognizer(services) if options.nbest else None
        for name in options.sets:
            voice = VoiceUnderTest(name, festival, options.seed)
            await voice.prepare(_every_spoken(items, intents))
            print(f"{name}: single shot over {len(items)} phrases…", flush=True)
            entry: dict[str, Any] = {
                "single_shot": await single_shot(
                    services, services.recognizer, voice, items, alternatives=False
                )
            }
            if nbest is not None:
                entry["single_shot_beam"] = await single_shot(
                    services, nbest, voice, items, alternatives=False
                )
                entry["single_shot_nbest"] = await single_shot(
                    services, nbest, voice, items, alternatives=True
                )
            entry["calls"] = {}
            for kind in options.callers:
                print(f"{name}: {len(intents)} simulated calls, {kind} caller…", flush=True)
                calls = await simulated_calls(
                    services,
                    festival,
                    voice,
                    intents,
                    honest=kind == "honest",
                    accepted=settings.dialog.status_accepted,
                )
                entry["calls"][kind] = calls
            report["sets"][name] = entry
    finally:
        await shop.close()
    report = _finish(report, settings, options, catalog, time.perf_counter() - started)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    plot(report, out.with_suffix(".png"))
    return report


def _nbest_recognizer(services: VoiceServices) -> Recognizer | None:
    """Whisper as configured, with a beam search (and its n-best) at the digit prompts."""
    from speech.asr_whisper import DIGIT_BEAM_SIZES, WhisperRecognizer

    asr = services.voice.asr
    if asr.engine != "whisper":
        return None
    options = {**asr.options, "beam_sizes": DIGIT_BEAM_SIZES}
    return WhisperRecognizer(**options)


def _every_spoken(items: Sequence[Item], intents: Sequence[Intent]) -> list[Spoken]:
    import random

    spoken = [item.spoken for item in items]
    for n, intent in enumerate(intents):
        for attempt in range(1, 6):
            rng = random.Random(n * 100 + attempt)
            spoken.append(say_article(intent.article, intent.style, prefix=rng.random() < 0.5))
            rng = random.Random(n * 100 + attempt)
            spoken.append(say_quantity(intent.quantity, rng))
    return spoken


def _finish(
    report: dict[str, Any],
    settings: Settings,
    options: BenchOptions,
    catalog: Sequence[Product],
    seconds: float,
) -> dict[str, Any]:
    from bot.tools.bench_recognition_report import calls_summary

    for entry in report["sets"].values():
        entry["calls"] = {kind: calls_summary(calls) for kind, calls in entry["calls"].items()}
    return {
        "machine": {"cpus": len(os.sched_getaffinity(0))},
        "recognizer": {"engine": settings.voice.asr.engine, "options": settings.voice.asr.options},
        "catalog": {"articles": len(catalog) // 2, "products": len(catalog)},
        "options": dataclasses.asdict(options),
        "seconds": round(seconds, 1),
        **report,
    }
