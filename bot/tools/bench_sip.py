"""``python -m bot bench sip``: the turn gap on the wire over SIP beside AudioSocket.

One real ``bot serve`` process (default engines) with its SIP and AudioSocket endpoints;
this process plays the callers from outside, with the same Festival caller voice and the
same whole orders by voice as ``bench wire`` (5 turns a call):

- AudioSocket: FastAGI + AudioSocket (:class:`bot.tools.wire_caller.WireCall`);
- SIP: an asyncio SIP/RTP phone (:class:`connectors.pbx.sip_client.SipCaller`): INVITE,
  PCMA both ways at one 20 ms packet per 20 ms, BYE.

The turn gap is measured the same way for both: the caller's last audible frame (RMS > 300)
of a phrase, when it was sent ➜ the bot's first audible frame after it, when it arrived.
1 call (``singles`` calls of each, one after another, the transports alternating) and 20
simultaneous calls (starts spread over 2 s), half of them SIP and half AudioSocket in the same
moment, two rounds (20 calls of each): the load of the machine weighs on both alike. Writes
``bench/sip.json``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.tools.bench_wire import ORDERS
from bot.tools.serve_process import ServeProcess, base_config, merge
from bot.tools.wire_caller import RATE, Phrase, WireCall, audible
from connectors.pbx.sip_client import SipCaller
from nlu.bench import percentile
from speech.tts import create_synthesizer


class SipWireCall:
    """A whole order by voice over SIP, timed like :class:`WireCall`."""

    def __init__(self, target: tuple[str, int], caller: str) -> None:
        self.phone = SipCaller(target, caller=caller, called="5555")
        self.phone.on_bot_audio = self._bot_audio
        self.phone.on_sent = self._sent
        self.bot_frames: list[tuple[float, bool]] = []
        self.phrases: list[Phrase] = []
        self._current: Phrase | None = None
        self.answered = False

    def _sent(self, at: float, frame: bytes) -> None:
        phrase = self._current
        if phrase is not None and audible(frame):
            phrase.first_audible = phrase.first_audible or at
            phrase.last_audible = at

    def _bot_audio(self, at: float, pcm: bytes) -> None:
        loud = audible(pcm)
        self.bot_frames.append((at, loud))
        phrase = self._current
        if not loud or phrase is None or not phrase.first_audible:
            return
        if self.phone.speaking:
            phrase.cut_off = True
        elif phrase.bot_answer is None and at > phrase.last_audible:
            phrase.bot_answer = at

    async def say(self, text: str, pcm: bytes) -> None:
        phrase = Phrase(text)
        self.phrases.append(phrase)
        self._current = phrase
        self.phone.say(pcm)
        while self.phone.speaking and not self.phone.closed.is_set():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.03)  # the last frame is on the wire

    async def bot_done(self, quiet_s: float = 0.35, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        start = len(self.bot_frames)
        while time.monotonic() < deadline and not self.phone.closed.is_set():
            heard = [t for t, loud in self.bot_frames[start:] if loud]
            if heard and time.monotonic() - heard[-1] >= quiet_s:
                return True
            await asyncio.sleep(0.02)
        return False

    async def run(self, order: list[str], voice: dict[str, bytes]) -> None:
        try:
            self.answered = await self.phone.call()
            if not self.answered:
                return
            for text in order:
                if not await self.bot_done():
                    return
                await asyncio.sleep(0.25)  # a caller takes a breath before answering
                await self.say(text, voice[text])
            await self.bot_done(timeout=15)
            async with asyncio.timeout(20):
                await self.phone.closed.wait()  # the bot says goodbye and hangs up
        except TimeoutError:
            pass
        finally:
            await self.phone.close()


async def _sip_call(target: tuple[str, int], n: int, voice: dict[str, bytes], delay: float) -> Any:
    await asyncio.sleep(delay)
    call = SipWireCall(target, f"7997{n:07d}")
    await call.run(ORDERS[n % len(ORDERS)], voice)
    return call


async def _audiosocket_call(
    agi: tuple[str, int], n: int, voice: dict[str, bytes], delay: float
) -> Any:
    await asyncio.sleep(delay)
    call = WireCall(agi[0], agi[1], caller=f"+7996{n:07d}")

    async def script(call: WireCall) -> None:
        for text in ORDERS[n % len(ORDERS)]:
            if not await call.bot_done():
                return
            await asyncio.sleep(0.25)
            await call.say(text, voice[text])
        await call.bot_done(timeout=15)

    await call.run(script)
    return call


def _summary(calls: list[Any], seconds: float) -> dict[str, Any]:
    phrases = [p for c in calls for p in c.phrases]
    gaps = [g for p in phrases if not p.cut_off and (g := p.gap_s) is not None]
    audio_gaps = []
    for call in calls:  # an audible frame of the bot's that came late (SIP also sends silence)
        pairs = itertools.pairwise(call.bot_frames)
        audio_gaps += [b - a for (a, _), (b, loud) in pairs if loud and 0.045 < b - a < 0.3]
    return {
        "calls": len(calls),
        "turns": len(gaps),
        "wire_gap_p50_s": round(percentile(gaps, 50), 3) if gaps else None,
        "wire_gap_p95_s": round(percentile(gaps, 95), 3) if gaps else None,
        "wire_gap_max_s": round(max(gaps), 3) if gaps else None,
        "unanswered_turns": sum(1 for p in phrases if p.gap_s is None),
        "cut_off_turns": sum(1 for p in phrases if p.cut_off),
        "bot_audible_frames_late_over_45ms": len(audio_gaps),
        "seconds": round(seconds, 1),
        "gaps": [round(g, 3) for g in gaps],
    }


def _runner(kind: str, bot: ServeProcess, voice: dict[str, bytes]) -> Any:
    if kind == "sip":
        host, port = bot.addresses["sip"].removeprefix("sip:").split(" ", 1)[0].rsplit(":", 1)
        target = (host, int(port))
        return lambda n, d: _sip_call(target, n, voice, d)
    agi = bot.agi()
    return lambda n, d: _audiosocket_call(agi, n, voice, d)


async def _singles(bot: ServeProcess, voice: dict[str, bytes], count: int) -> dict[str, Any]:
    """Single calls one after another, the two transports alternating (same load for both)."""
    done: dict[str, list[Any]] = {"audiosocket": [], "sip": []}
    seconds = dict.fromkeys(done, 0.0)
    for n in range(count):
        for kind in ("audiosocket", "sip") if n % 2 == 0 else ("sip", "audiosocket"):
            started = time.monotonic()
            done[kind].append(await _runner(kind, bot, voice)(n, 0.0))
            seconds[kind] += time.monotonic() - started
    return {kind: _summary(calls, seconds[kind]) for kind, calls in done.items()}


async def _simultaneous(bot: ServeProcess, calls: int, voice: dict[str, bytes]) -> dict[str, Any]:
    """``calls`` at once, half over each transport in the same moment (every call meets the
    same load), in two rounds: ``calls`` calls of each transport in all."""
    done: dict[str, list[Any]] = {"audiosocket": [], "sip": []}
    runners = {kind: _runner(kind, bot, voice) for kind in done}
    rng = random.Random(calls)
    started = time.monotonic()
    for round_ in range(2):
        print(f"  round {round_ + 1}: {calls} simultaneous calls, half SIP…", flush=True)
        kinds = [("audiosocket", "sip")[(n + round_) % 2] for n in range(calls)]
        results = await asyncio.gather(
            *(runners[kind](n, rng.uniform(0, 2.0)) for n, kind in enumerate(kinds))
        )
        for kind, call in zip(kinds, results, strict=True):
            done[kind].append(call)
        await asyncio.sleep(1.0)
    seconds = time.monotonic() - started
    return {kind: _summary(calls_, seconds) for kind, calls_ in done.items()}


async def run_sip_bench(
    out: Path, *, levels: tuple[int, ...] = (1, 20), singles: int = 3
) -> dict[str, Any]:
    texts = [t for order in ORDERS for t in order]
    synthesizer = create_synthesizer("festival", rate=RATE)
    voice = {t: (await synthesizer.synthesize(t)).pcm for t in dict.fromkeys(texts)}
    synthesizer.close()
    work = Path(tempfile.mkdtemp(prefix="sip-bench-"))
    config = merge(
        base_config(work, mail_port=1),
        {
            "server": {
                "sip": {"enabled": True, "port": 0},
                "http": {"enabled": False},
                "max_calls": max(levels) + 10,
                "routes": [{"called": "5555", "scenario": "order"}],
            }
        },
    )
    result: dict[str, Any] = {
        "machine": {"cpus": len(os.sched_getaffinity(0))},
        "method": "caller's last audible frame sent ➜ bot's first audible frame received "
        "(RMS > 300), whole orders by voice (Festival caller), same server for both",
        "levels": {},
    }
    bot = ServeProcess(work, config)
    try:
        await bot.started(timeout=240)
        for calls in levels:
            result.setdefault("load_average_at_start", {})[str(calls)] = os.getloadavg()[0]
            if calls == 1:
                print(f"{singles} single calls per transport, alternating…", flush=True)
                result["levels"]["1"] = await _singles(bot, voice, singles)
                continue
            result["levels"][str(calls)] = await _simultaneous(bot, calls, voice)
    finally:
        await bot.stop()
    for level in result["levels"].values():
        a, s = level.get("audiosocket", {}), level.get("sip", {})
        level["sip_minus_audiosocket_s"] = {
            key: round(s[key] - a[key], 3)
            for key in ("wire_gap_p50_s", "wire_gap_p95_s")
            if s.get(key) is not None and a.get(key) is not None
        }
        diffs = level["sip_minus_audiosocket_s"]
        level["within_50ms"] = len(diffs) == 2 and all(abs(v) <= 0.05 for v in diffs.values())
    if out.exists():  # levels measured before and not now are kept (``--levels 20`` alone)
        earlier = json.loads(out.read_text("utf-8")).get("levels", {})
        result["levels"] = {**earlier, **result["levels"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return result


def add_sip_bench_parser(commands: Any) -> None:
    bench = commands.add_parser("sip", help="wire turn gap over SIP beside AudioSocket (1, 20)")
    bench.add_argument("--out", type=Path, default=Path("bench/sip.json"))
    bench.add_argument("--levels", default="1,20", help="simultaneous calls to measure")
    bench.add_argument("--singles", type=int, default=6, help="single calls in a row (level 1)")


def cmd_sip_bench(args: Any) -> int:
    levels = tuple(int(n) for n in args.levels.split(",") if n.strip())
    result = asyncio.run(run_sip_bench(args.out, levels=levels, singles=args.singles))
    for calls, level in result["levels"].items():
        for kind in ("audiosocket", "sip"):
            data = level[kind]
            print(
                f"{calls:>3} call(s) {kind:11}: wire gap p50 {data['wire_gap_p50_s']} s, "
                f"p95 {data['wire_gap_p95_s']} s ({data['turns']} turns)"
            )
        print(f"    SIP − AudioSocket: {level['sip_minus_audiosocket_s']}")
    print(f"wrote {args.out}")
    return 0
