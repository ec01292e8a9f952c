"""``python -m bot bench voice``: turn-taking latency, ASR speed, concurrency, memory, accuracy.

Runs on the default engines (Whisper base int8, Festival, Silero VAD) through the real call
session with simulated callers on 8 kHz lines, in real time:

1. single calls one after another: the turn gap (caller's last voiced audio ➜ first bot audio
   frame) split into end-of-phrase wait, ASR, NLU + policy and TTS;
2. ``concurrency`` simultaneous calls: turn gaps under load and gaps in the bot's outgoing
   audio: underruns (a frame sent after the far end needed it: the player sends 40 ms ahead)
   and frames more than 45 ms apart on the wire;
3. resident memory after warm-up, during one call and during the concurrent calls;
4. recognition accuracy: synthesized caller phrases with an article or a quantity through
   ASR (with the dialog's hint) and NLU, the share recognized exactly.

Writes ``bench/voice.json`` and ``bench/voice.png``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.events import TurnTiming
from bot.shop_setup import open_shop
from bot.tools.bench_wire import HEADLINE_KEYS
from bot.tools.line_audio import line_audio
from bot.tools.simulated_call import CallResult, SimulatedCaller, Turn
from bot.voice import VoiceServices
from nlu.bench import percentile
from nlu.verbalize import number_to_words
from speech.asr import Hints
from speech.tts import Synthesizer, create_synthesizer

ORDER_SCRIPTS = [
    ["артикул один два три", "две штуки", "да", "нет", "да"],
    ["артикул двенадцать сорок пять", "пять штук", "да", "нет", "да"],
    ["артикул семь семь один пять", "три штуки", "да", "нет", "да"],
    ["артикул пятьсот пятьдесят пять", "десять штук", "да", "нет", "да"],
]
QUANTITY_WORDS = [
    "одну",
    "две",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "десять",
    "двенадцать",
    "двадцать",
]


def _process_rss_mb(pid: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # the process ended meanwhile
        return None
    return None


def _children(pid: str) -> list[str]:
    found: list[str] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += (task / "children").read_text("ascii").split()
        except OSError:
            continue
    return found


def rss_mb() -> float:
    """Resident memory of this process and every process it started (the Whisper worker
    processes, ``voice.asr.options.processes``): what the bot takes of the machine. Pages the
    processes share count once per process, so this is an upper bound."""
    own = _process_rss_mb("self")
    if own is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total, todo = own, _children(str(os.getpid()))
    while todo:
        pid = todo.pop()
        total += _process_rss_mb(pid) or 0.0
        todo += _children(pid)
    return total


class MemoryWatch:
    """Samples RSS every 50 ms while running; ``peak`` is the highest seen."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            await asyncio.sleep(0.05)

    def __enter__(self) -> MemoryWatch:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def _call(
    services: VoiceServices, voice: Synthesizer, phrases: list[str], caller: str
) -> CallResult:
    turns = [Turn("say", p) for p in phrases]
    return await SimulatedCaller(services, voice, turns, caller=caller, called="78123098635").run()


def _gaps(results: list[CallResult]) -> list[TurnTiming]:
    return [t for r in results for t in r.log.turns if t.source == "speech" and t.gap_s is not None]


def _summary(turns: list[TurnTiming]) -> dict[str, Any]:
    def stat(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(percentile(values, 50), 3),
            "p95": round(percentile(values, 95), 3),
            "max": round(max(values, default=0.0), 3),
        }

    after = [t.gap_s - t.eop_wait_s for t in turns if t.gap_s is not None]
    return {
        "turns": len(turns),
        "gap_s": stat([t.gap_s for t in turns if t.gap_s is not None]),
        "after_end_of_phrase_s": stat(after),
        "eop_wait_s": stat([t.eop_wait_s for t in turns]),
        "asr_s": stat([t.asr_s for t in turns]),
        "nlu_policy_s": stat([t.nlu_policy_s for t in turns]),
        "tts_s": stat([t.tts_s for t in turns]),
        "phrase_s": stat([t.speech_s for t in turns]),
        "asr_rtf": stat([t.asr_s / max(t.speech_s, 0.1) for t in turns]),
    }


def _article_phrases(
    articles: list[str], rng: random.Random, n: int
) -> list[tuple[str, str, str, str]]:
    """(spoken text, expected value, expect, style): articles said as one cardinal
    («сто двадцать три»), in pairs («двенадцать сорок пять») or digit by digit."""
    items: list[tuple[str, str, str, str]] = []
    for article in articles:
        if article.startswith("0") or len(article) > 4:
            spoken, style = " ".join(number_to_words(int(d)) for d in article), "digits"
        elif rng.random() < 0.5 and len(article) == 4:
            pair = f"{number_to_words(int(article[:2]))} {number_to_words(int(article[2:]))}"
            spoken, style = pair, "pairs"
        else:
            spoken, style = number_to_words(int(article)), "cardinal"
        items.append((f"артикул {spoken}", article, "article", style))
    while len(items) < n:
        article = rng.choice(articles)
        spoken = " ".join(number_to_words(int(d)) for d in article)
        items.append((f"артикул {spoken}", article, "article", "digits"))
    return items[:n]


def _quantity_phrases(n: int) -> list[tuple[str, str, str, str]]:
    from nlu.numbers import parse_cardinal

    items = []
    for i in range(n):
        word = QUANTITY_WORDS[i % len(QUANTITY_WORDS)]
        unit = (
            "штуки" if word in ("две", "три", "четыре") else ("штуку" if word == "одну" else "штук")
        )
        value = str(parse_cardinal(word))
        items.append((f"{word} {unit}", value, "quantity", "quantity"))
    return items


async def _accuracy(services: VoiceServices, voice: Synthesizer, n: int) -> dict[str, Any]:
    rng = random.Random(7)
    assert services.shop is not None
    articles = await services.shop.db.articles()
    phrases = _article_phrases(articles, rng, n) + _quantity_phrases(n)
    right: dict[str, int] = {}
    total: dict[str, int] = {}
    misses: list[dict[str, str]] = []
    for text, expected, expect, style in phrases:
        audio = line_audio(await voice.synthesize(text))  # 8 kHz μ-law, the line's margins
        transcript = await services.recognizer.transcribe(audio, Hints(expect))
        parse = services.nlu.parse(transcript.text, expect, transcript.alternatives)
        entity = parse.first(expect) or parse.first("number")
        got = entity.value if entity else ""
        if expect == "article" and parse.first("article") is None:
            got = "".join(parse.values("number"))
        for key in (expect, f"style:{style}"):
            total[key] = total.get(key, 0) + 1
            right[key] = right.get(key, 0) + (got == expected)
        if got != expected:
            misses.append(
                {"said": text, "heard": transcript.text, "expected": expected, "got": got}
            )
    return {
        "phrases": len(phrases),
        "article_exact": round(right["article"] / max(total["article"], 1), 3),
        "quantity_exact": round(right["quantity"] / max(total["quantity"], 1), 3),
        "articles": total["article"],
        "quantities": total["quantity"],
        "by_style": {
            key.removeprefix("style:"): f"{right[key]}/{total[key]}"
            for key in sorted(total)
            if key.startswith("style:")
        },
        "misses": misses,
    }


async def run_voice_bench(
    settings: Settings, out: Path, *, calls: int = 4, concurrency: int = 8, phrases: int = 30
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="voice-bench-"))
    settings = dataclasses.replace(
        settings,
        shop=dataclasses.replace(settings.shop, url=f"sqlite:///{work / 'shop.sqlite'}"),
        dialog=dataclasses.replace(settings.dialog, scenario="order"),
    )
    shop = await open_shop(settings)
    try:
        started = time.perf_counter()
        services = await VoiceServices.start(settings, settings.voice, shop)
        startup_s = time.perf_counter() - started
        voice = create_synthesizer("festival", rate=16000)
        await voice.warm([p for script in ORDER_SCRIPTS for p in script])
        # the caller's voice is this benchmark's, not the bot's: its Festival process (~500 MB)
        # must not count in the bot's memory (the calls' phrases are cached by now)
        voice.close()
        rss_idle = rss_mb()
        print(f"services ready in {startup_s:.1f} s, RSS {rss_idle:.0f} MB; {calls} single calls…")
        single: list[CallResult] = []
        with MemoryWatch() as one_call:
            for i in range(calls):
                single.append(await _call(services, voice, ORDER_SCRIPTS[i % 4], "+79607775577"))
        print(f"{concurrency} simultaneous calls…")
        with MemoryWatch() as many:
            parallel = await asyncio.gather(
                *(
                    _call(services, voice, ORDER_SCRIPTS[i % 4], f"+7900000{i:04d}")
                    for i in range(concurrency)
                )
            )
        print(f"accuracy over {2 * phrases} phrases…")
        accuracy = await _accuracy(services, voice, phrases)
    finally:
        await shop.close()
    result: dict[str, Any] = {
        "machine": {"cpus": len(os.sched_getaffinity(0))},
        "engines": {
            "asr": settings.voice.asr.engine,
            "tts": settings.voice.tts.engine,
            "end_silence_ms": settings.voice.vad.end_silence_ms,
        },
        "startup_s": round(startup_s, 2),
        "single": _summary(_gaps(single)),
        "concurrent": {
            "calls": concurrency,
            **_summary(_gaps(list(parallel))),
            "outgoing_audio_underruns": sum(r.underruns for r in parallel),
            "frames_more_than_45ms_apart": sum(len(r.frame_gaps_ms) for r in parallel),
            "worst_frame_interval_ms": round(
                max((g for r in parallel for g in r.frame_gaps_ms), default=20.0), 1
            ),
            "completed_orders": sum(1 for r in parallel if r.log.order_ids),
        },
        "memory_mb": {
            "idle": round(rss_idle, 1),
            "one_call_peak": round(one_call.peak, 1),
            "concurrent_peak": round(many.peak, 1),
            "per_extra_call": round(
                max(0.0, many.peak - one_call.peak) / max(concurrency - 1, 1), 2
            ),
        },
        "accuracy": accuracy,
        "single_completed_orders": sum(1 for r in single if r.log.order_ids),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    result |= _wire_headline(out)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    _plot(_gaps(single), _gaps(list(parallel)), out.with_suffix(".png"))
    return result


def _wire_headline(out: Path) -> dict[str, Any]:
    """``bench wire``'s figures already in ``out`` (it writes them there too): kept."""
    try:
        old = json.loads(out.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: old[k] for k in HEADLINE_KEYS if k in old} if isinstance(old, dict) else {}


def _plot(single: list[TurnTiming], parallel: list[TurnTiming], path: Path) -> None:
    from bot.tools.plots import plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, turns, title in ((axes[0], single, "one call"), (axes[1], parallel, "8 calls at once")):
        parts = [
            ("end-of-phrase wait", [t.eop_wait_s for t in turns]),
            ("ASR", [t.asr_s for t in turns]),
            ("NLU + policy", [t.nlu_policy_s for t in turns]),
            ("TTS", [t.tts_s for t in turns]),
        ]
        bottom = [0.0] * len(turns)
        for label, values in parts:
            ax.bar(range(len(turns)), values, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.plot(range(len(turns)), [t.gap_s or 0 for t in turns], "k.", label="measured gap")
        ax.axhline(1.2, color="red", linestyle="--", linewidth=1, label="target p95 1.2 s")
        ax.set_title(f"turn gap, {title}")
        ax.set_xlabel("caller turn")
    axes[0].set_ylabel("seconds")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
