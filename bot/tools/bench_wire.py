"""``python -m bot bench wire``: turn gaps as a caller hears them, false cut-offs, capacity.

A real ``bot serve`` runs in its own process (default engines: Silero VAD, Whisper base,
Festival); this process plays Asterisk (FastAGI + AudioSocket, :mod:`bot.tools.wire_caller`)
with a Festival caller voice, in real time. Measured on the wire:

1. **turn gap**: the caller's last audible frame of a phrase ➜ the bot's first audible frame
   (RMS > 300), for N simultaneous calls (1, 8, 20, then more for the capacity), each call a
   whole order by voice (5 caller turns; call starts spread over 2 s);
2. **gaps in the bot's audio**: two consecutive bot frames of one reply more than 45 ms apart;
3. **false cut-offs**: phrases with natural pauses inside (articles dictated in groups, «да …
   наверное», a quantity with its unit after a pause; pauses of 300, 450 and 600 ms): the bot
   began to answer before the caller had finished. Measured with the early end of turn
   (``voice.speculate``) and with the fixed windows alone, each phrase at four places on the
   VAD's 32 ms chunk grid (``PHASES``): a pause near a window's edge is cut or not by where
   the chunks fall, which chance decided before (one phrase flipped between the modes from run
   to run), so both modes now meet the same four places;
4. **capacity**: the most simultaneous calls with p95 turn gap ≤ 1.2 s and no gaps in the
   bot's audio (``max_calls_p95_1_2s``).

Writes ``bench/wire.json`` and ``bench/wire.png``, and the headline keys (``wire_gap_p50_s``,
``wire_gap_p95_s`` per concurrency, ``false_cutoff_rate``, ``max_calls_p95_1_2s``) into
``bench/voice.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.tools.wire_caller import RATE, Phrase, WireCall
from nlu.bench import percentile
from speech.tts import create_synthesizer

ORDERS = [
    ["артикул один два три", "две штуки", "да", "нет", "да"],
    ["артикул двенадцать сорок пять", "пять штук", "да", "нет", "да"],
    ["артикул семь семь один пять", "три штуки", "да", "нет", "да"],
    ["артикул пятьсот пятьдесят пять", "десять штук", "да", "нет", "да"],
]
# (what the bot asks first, the words before the pause, after it); a setup reaches the prompt
PAUSED = [
    ("article", "двенадцать", "сорок пять"),
    ("article", "сорок пять", "двенадцать"),
    ("article", "семь семь", "один пять"),
    ("article", "сто двадцать", "три"),
    ("quantity", "пять", "штук"),
    ("quantity", "две", "штуки"),
    ("quantity", "двадцать", "пять штук"),
    ("yes_no", "да", "наверное"),
    ("yes_no", "нет", "пожалуй"),
]
# what the bot's first reply must show it understood (or it asks again): else the cut harmed
INTENDED = {
    "двенадцать … сорок пять": "швабра с отжимом",
    "сорок пять … двенадцать": "перчатки хозяйственные",
    "семь семь … один пять": "средство для мытья посуды",
    "сто двадцать … три": "ведро пластиковое",
    "пять … штук": "заказать 5 штук",
    "две … штуки": "заказать 2 штуки",
    "двадцать … пять штук": "заказать 25 штук",
    "да … наверное": "другой товар",
    "нет … пожалуй": "количество ещё раз",
}
ASKS_AGAIN = ("повторите", "не понял", "ещё раз", "еще раз", "назовите")
PAUSES_S = (0.3, 0.45, 0.6)
# where a paused phrase starts on the VAD's grid: frame k of every PHASE_CYCLE (20 ms frames
# against 32 ms chunks repeat every 160 ms), so 0, 2, 4, 6 put its start 0, 8, 16 and 24 ms
# into a chunk
PHASE_CYCLE = 8
PHASES = (0, 2, 4, 6)
SETUP = {
    "article": [],
    "quantity": ["артикул один два три"],
    "yes_no": ["артикул один два три", "две штуки"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m bot serve`` on free ports with a fresh demo shop, in its own process."""

    def __init__(self, work: Path, *, speculate: bool, max_calls: int) -> None:
        self.agi_port = _free_port()
        # the server's output goes to a file: a pipe nobody reads fills up (64 KiB) and
        # then every log line blocks the server's event loop (a 30-call run stalled so)
        self.log_path = work / "serve.log"
        mail_port = str(_free_port())
        self.env = {
            **os.environ,
            "BOT_SHOP__URL": f"sqlite:///{work / 'shop.sqlite'}",
            "BOT_SHOP__ORDERS__JOURNAL": str(work / "journal.jsonl"),
            "BOT_SERVER__ASTERISK__AGI_PORT": str(self.agi_port),
            "BOT_SERVER__ASTERISK__AUDIOSOCKET_PORT": str(_free_port()),
            "BOT_SERVER__HTTP__PORT": str(_free_port()),
            "BOT_SERVER__MAX_CALLS": str(max_calls),
            "BOT_SERVER__OVERLOAD_LAG_MS": "0",  # every call served: capacity is measured here
            "BOT_SERVER__TRANSCRIPTS_DIR": str(work / "transcripts"),
            "BOT_SERVER__ROUTES": '[{"called": "5555", "scenario": "order"}]',
            "BOT_SERVER__MANAGERS_FILE": "null",
            "BOT_SERVER__SIP__ENABLED": "false",
            "BOT_VOICE__SPECULATE": "true" if speculate else "false",
            "BOT_DEMO__MAIL_SINK_PORT": mail_port,
            "BOT_DEMO__MAIL_FOLDER": str(work / "mail"),
            "BOT_MAIL__PORT": mail_port,
        }
        self.process: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> ServerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = self.log_path.read_text("utf-8", "replace")
                raise RuntimeError(f"bot serve exited:\n{out[-2000:]}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.agi_port)
                writer.close()
                return self
            await asyncio.sleep(0.5)
        raise TimeoutError("bot serve did not start within 180 s")

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.process.wait, 60)
            if self.process.poll() is None:
                self.process.kill()


async def _voice(texts: list[str]) -> dict[str, bytes]:
    synthesizer = create_synthesizer("festival", rate=RATE)
    return {t: (await synthesizer.synthesize(t)).pcm for t in dict.fromkeys(texts)}


async def _order_call(port: int, n: int, voice: dict[str, bytes], delay: float) -> WireCall:
    await asyncio.sleep(delay)
    call = WireCall("127.0.0.1", port, caller=f"+7999{n:07d}")

    async def script(call: WireCall) -> None:
        for text in ORDERS[n % len(ORDERS)]:
            if not await call.bot_done():
                return
            await asyncio.sleep(0.25)  # a caller takes a breath before answering
            await call.say(text, voice[text])
        await call.bot_done(timeout=15)

    await call.run(script)
    return call


def _bot_audio_gaps(calls: list[WireCall]) -> list[float]:
    gaps = []
    for call in calls:
        times = [t for t, _ in call.bot_frames]
        gaps += [(b - a) * 1000 for a, b in itertools.pairwise(times) if 0.045 < b - a < 0.3]
    return gaps


async def _level(port: int, calls: int, voice: dict[str, bytes]) -> dict[str, Any]:
    rng = random.Random(calls)
    started = time.monotonic()
    done = await asyncio.gather(
        *(_order_call(port, n, voice, rng.uniform(0, 2.0)) for n in range(calls))
    )
    phrases = [p for c in done for p in c.phrases]
    gaps = [g for p in phrases if not p.cut_off and (g := p.gap_s) is not None]
    audio_gaps = _bot_audio_gaps(list(done))
    return {
        "calls": calls,
        "turns": len(gaps),
        "wire_gap_p50_s": round(percentile(gaps, 50), 3) if gaps else None,
        "wire_gap_p95_s": round(percentile(gaps, 95), 3) if gaps else None,
        "wire_gap_max_s": round(max(gaps), 3) if gaps else None,
        "unanswered_turns": sum(1 for p in phrases if p.gap_s is None),
        "bot_audio_gaps_over_45ms": len(audio_gaps),
        "orders_completed": sum(1 for c in done if c.variables.get("BOT_RESULT") == "hangup"),
        "seconds": round(time.monotonic() - started, 1),
        "gaps": [round(g, 3) for g in gaps],
    }


@dataclass(slots=True)
class PausedResult:
    prompt: str
    pause_s: float
    phrase: Phrase
    call_id: str
    phase: int = 0  # the frame (of PHASE_CYCLE) it started at

    @property
    def key(self) -> str:
        return f"{self.phrase.text}@{self.pause_s}#{self.phase}"


async def _paused_call(
    port: int,
    n: int,
    case: tuple[str, str, str],
    pause_s: float,
    voice: dict[str, bytes],
    phase: int = 0,
) -> PausedResult | None:
    prompt, first, second = case
    call = WireCall("127.0.0.1", port, caller=f"+7998{n:07d}")
    result: list[Phrase] = []
    gap = bytes(int(pause_s * RATE) * 2)

    async def script(call: WireCall) -> None:
        for text in SETUP[prompt]:
            if not await call.bot_done():
                return
            await asyncio.sleep(0.25)
            await call.say(text, voice[text])
        if not await call.bot_done():
            return
        await asyncio.sleep(0.25)
        pcm = voice[first] + gap + voice[second]
        result.append(await call.say(f"{first} … {second}", pcm, (phase, PHASE_CYCLE)))
        await call.bot_done(timeout=10)

    await call.run(script)
    if not result:
        return None
    return PausedResult(prompt, pause_s, result[0], call.call_id, phase)


async def _cutoffs(port: int, voice: dict[str, bytes], at_once: int = 9) -> list[PausedResult]:
    cases = [(case, pause, phase) for phase in PHASES for case in PAUSED for pause in PAUSES_S]
    done: list[PausedResult] = []
    for start in range(0, len(cases), at_once):
        batch = cases[start : start + at_once]
        results = await asyncio.gather(
            *(
                _paused_call(port, start + i, c, p, voice, phase)
                for i, (c, p, phase) in enumerate(batch)
            )
        )
        done += [r for r in results if r is not None]
        print(f"  {len(done)}/{len(cases)} paused phrases", flush=True)
    return done


def _first_reply(transcripts: Path, call_id: str, turn: int) -> str:
    """What the bot said first after the caller's ``turn``-th phrase (0-based), per the
    server's transcript of the call."""
    for path in transcripts.glob("*.json"):
        data = json.loads(path.read_text("utf-8"))
        if data.get("call_id") != call_id:
            continue
        said = 0
        for event in data["events"]:
            if event["type"] == "caller_said":
                said += 1
            elif event["type"] == "say" and said == turn + 1:
                return str(event["text"])
    return ""


def _harmful(text: str, reply: str) -> bool:
    """The bot's reply shows something other than what the caller meant (asking again is
    not harm)."""
    said = reply.casefold()
    return INTENDED[text] not in said and not any(word in said for word in ASKS_AGAIN)


def _cutoff_summary(results: list[PausedResult], transcripts: Path) -> dict[str, Any]:
    """Cut-offs (the bot began before the caller finished) and harmful ones: the bot's first
    reply to the phrase shows it understood something else than the caller meant."""
    cut = [r for r in results if r.phrase.cut_off]
    replies = {r.key: _first_reply(transcripts, r.call_id, len(SETUP[r.prompt])) for r in results}
    harmful = [k for k, v in replies.items() if _harmful(k.split("@")[0], v)]
    tried = Counter(f"{r.phrase.text} (pause {r.pause_s:.2f} s)" for r in results)
    cut_by_phrase = Counter(f"{r.phrase.text} (pause {r.pause_s:.2f} s)" for r in cut)
    return {
        "phrases": len(results),
        "distinct_phrases": len(tried),
        "cut_off": len(cut),
        "false_cutoff_rate": round(len(cut) / max(len(results), 1), 3),
        # a phrase cut at some of the places on the VAD's grid: "cut/tried"
        "cut_off_phrases": {k: f"{v}/{tried[k]}" for k, v in cut_by_phrase.items()},
        "by_prompt": {
            kind: f"{sum(1 for r in cut if r.prompt == kind)}/"
            f"{sum(1 for r in results if r.prompt == kind)}"
            for kind in ("article", "quantity", "yes_no")
        },
        "replies": replies,
        "harmful": harmful,  # the reply shows a wrong understanding (not just a cut)
    }


async def run_wire_bench(
    out: Path, *, levels: tuple[int, ...] = (1, 8, 20), capacity: tuple[int, ...] = (30, 40, 50)
) -> dict[str, Any]:
    texts = [t for order in ORDERS for t in order] + [t for s in SETUP.values() for t in s]
    texts += [w for _, first, second in PAUSED for w in (first, second)]
    voice = await _voice(texts)
    work = Path(tempfile.mkdtemp(prefix="wire-bench-"))
    result: dict[str, Any] = {"machine": {"cpus": len(os.sched_getaffinity(0))}, "levels": {}}
    cutoffs: dict[str, list[PausedResult]] = {}
    for speculate in (False, True):
        mode = "early" if speculate else "fixed"
        folder = work / mode
        folder.mkdir()
        async with ServerProcess(
            folder, speculate=speculate, max_calls=max((*levels, *capacity)) + 10
        ) as bot:
            print(
                f"[{mode}] false cut-offs over {len(PAUSED) * len(PAUSES_S)} paused phrases "
                f"at {len(PHASES)} places on the VAD's grid…"
            )
            cutoffs[mode] = await _cutoffs(bot.agi_port, voice)
            for calls in levels if speculate else (1,):
                print(f"[{mode}] {calls} simultaneous call(s)…")
                result["levels" if speculate else "fixed_levels"] = result.get(
                    "levels" if speculate else "fixed_levels", {}
                ) | {str(calls): await _level(bot.agi_port, calls, voice)}
            if speculate:
                result["max_calls_p95_1_2s"] = await _capacity(
                    bot.agi_port, voice, result, capacity
                )
        await asyncio.sleep(0.5)  # the transcripts are written as the calls end
    for mode, results in cutoffs.items():
        result[f"cutoffs_{mode}"] = _cutoff_summary(results, work / mode / "transcripts")
    _write(out, result)
    return result


async def _capacity(
    port: int, voice: dict[str, bytes], result: dict[str, Any], capacity: tuple[int, ...]
) -> int:
    best = 0
    for calls, level in sorted((int(k), v) for k, v in result["levels"].items()):
        if _meets(level):
            best = max(best, calls)
    for calls in capacity:
        if calls <= best:
            continue
        print(f"[capacity] {calls} simultaneous calls…")
        level = await _level(port, calls, voice)
        result["levels"][str(calls)] = level
        if not _meets(level):
            break
        best = calls
    return best


def _meets(level: dict[str, Any]) -> bool:
    p95 = level.get("wire_gap_p95_s")
    return p95 is not None and p95 <= 1.2 and level["bot_audio_gaps_over_45ms"] == 0


# what this benchmark writes into ``bench/voice.json`` beside ``bench voice``'s own figures
HEADLINE_KEYS = (
    "wire",
    "false_cutoff_rate",
    "false_cutoff_rate_fixed_windows",
    "harmful_cutoffs",
    "harmful_cutoffs_fixed_windows",
    "max_calls_p95_1_2s",
)


def _write(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    voice_json = out.with_name("voice.json")
    headline: dict[str, Any] = (
        json.loads(voice_json.read_text("utf-8")) if voice_json.exists() else {}
    )
    headline["wire"] = {
        calls: {
            k: level[k] for k in ("wire_gap_p50_s", "wire_gap_p95_s", "bot_audio_gaps_over_45ms")
        }
        for calls, level in result["levels"].items()
    }
    headline["false_cutoff_rate"] = result["cutoffs_early"]["false_cutoff_rate"]
    headline["false_cutoff_rate_fixed_windows"] = result["cutoffs_fixed"]["false_cutoff_rate"]
    headline["harmful_cutoffs"] = len(result["cutoffs_early"]["harmful"])
    headline["harmful_cutoffs_fixed_windows"] = len(result["cutoffs_fixed"]["harmful"])
    headline["max_calls_p95_1_2s"] = result["max_calls_p95_1_2s"]
    voice_json.write_text(json.dumps(headline, ensure_ascii=False, indent=2) + "\n", "utf-8")
    _plot(result, out.with_suffix(".png"))


def _plot(result: dict[str, Any], path: Path) -> None:
    from bot.tools.plots import plt

    levels = sorted((int(k), v) for k, v in result["levels"].items())
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ax = axes[0]
    ax.boxplot([v["gaps"] or [0] for _, v in levels], tick_labels=[str(k) for k, _ in levels])
    ax.axhline(1.2, color="red", linestyle="--", linewidth=1, label="p95 target under load 1.2 s")
    ax.axhline(0.5, color="green", linestyle="--", linewidth=1, label="p50 target 0.5 s")
    ax.set_xlabel("simultaneous calls")
    ax.set_ylabel("turn gap on the wire, s")
    ax.set_title("caller's last audible frame ➜ bot's first audible frame")
    ax.legend(fontsize=8)
    ax = axes[1]
    modes = [
        ("early end of turn", result["cutoffs_early"]),
        ("fixed windows", result["cutoffs_fixed"]),
    ]
    kinds = ["article", "quantity", "yes_no", "all"]
    width = 0.38
    for i, (mode, cut) in enumerate(modes):
        shares = []
        for kind in kinds:
            if kind == "all":
                shares.append(100 * cut["false_cutoff_rate"])
                continue
            done, tried = (int(x) for x in cut["by_prompt"][kind].split("/"))
            shares.append(100 * done / max(tried, 1))
        xs = [k + (i - 0.5) * width for k in range(len(kinds))]
        bars = ax.bar(xs, shares, width, label=mode)
        ax.bar_label(bars, fmt="%.0f%%", fontsize=8)
    ax.set_xticks(range(len(kinds)), ["article", "quantity", "yes / no", "all"])
    ax.set_ylabel("% of phrases with a pause inside cut off")
    first = modes[0][1]
    ax.set_title(
        f"false cut-offs ({first.get('distinct_phrases', first['phrases'])} phrases"
        f" × {len(PHASES)} places on the VAD's grid)"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
