"""``python -m bot bench faults``: the fault and load suite, written to ``bench/faults.json``.

Against real ``bot serve`` child processes sharing one SQLite shop (in ``--folder``) and an
SMTP server of the benchmark's own, with keypad-driven Asterisk calls (no ASR load):

1. slow clients: 300 slow-header and 30 slow-body HTTP connections, 60 idle FastAGI and 60
   idle AudioSocket connections; ``/healthz`` and an order call meanwhile; all of them cut;
2. malformed inputs: ``--fuzz-cases`` seeded mutations per endpoint (FastAGI, AudioSocket,
   raw HTTP, Telphin, Twilio, mod_audio_fork, browser), then an order call;
3. ``kill -9`` with six calls that each have a confirmed item; the restarted server
   finishes and mails their drafts;
4. the database locked when callers confirm their orders (apology, operator, BOT_RESULT=error,
   the journal writes them after the lock); a new call's greeting meanwhile;
5. the SMTP server down, then up: the e-mails go out once it is back;
6. the database read-only (the same), then writable again after a restart;
7. with ``--minutes`` > 0: ``--calls`` simultaneous callers ordering for that long, the
   server's RSS sampled every 5 s (the soak; a benchmark, not part of ``make test``).

The figures: orders confirmed (the caller heard the bot go on after «да») vs saved vs
mailed, duplicates, crashes (a server that died unasked, a traceback in a log), silent
hang-ups (the bot let a caller go without a word after their last key, or the dialplan
got no result), the log checked for the secret and the callers' numbers, RSS start/end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

from bot.file_budget import raise_soft_limit
from bot.server_settings import ServerSettings
from bot.tools import fault_phases as phases
from bot.tools.fault_ledger import MailCounter
from bot.tools.fault_phases import Run

TRACEBACK = "Traceback (most recent call last)"


def add_faults_parser(bench_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    faults = bench_commands.add_parser("faults", help="faults, malformed input, load: faults.json")
    faults.add_argument("--out", type=Path, default=Path("bench/faults.json"))
    faults.add_argument("--folder", type=Path, default=Path("var/bench-faults"))
    faults.add_argument("--fuzz-cases", type=int, default=1000, help="per endpoint")
    faults.add_argument("--minutes", type=float, default=0.0, help="soak length (0: no soak)")
    faults.add_argument("--calls", type=int, default=50, help="simultaneous calls in the soak")
    faults.add_argument("--seed", type=int, default=1)
    faults.add_argument(
        "--fuzz-max-calls", type=int, default=0, help="server.max_calls while fuzzing (0: same)"
    )
    faults.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config key of every server, e.g. recordings.enabled=false (YAML value)",
    )
    faults.add_argument("--soak-only", action="store_true", help="only the soak (--minutes)")


def cmd_faults(args: argparse.Namespace) -> int:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the SMTP server's chatter
    result = asyncio.run(
        run_fault_suite(
            args.out,
            folder=args.folder,
            fuzz_cases=args.fuzz_cases,
            minutes=args.minutes,
            calls=args.calls,
            seed=args.seed,
            fuzz_max_calls=args.fuzz_max_calls,
            overrides=parse_overrides(args.set),
            soak_only=args.soak_only,
        )
    )
    if args.soak_only:
        soak = result["soak"]
        print(json.dumps({k: v for k, v in soak.items() if k != "rss_samples"}, indent=1))
        return 0 if result["ok"] else 1
    orders = result["orders"]
    print(
        f"orders confirmed {orders['confirmed']}, saved {orders['saved']}, mailed "
        f"{orders['mailed']}, duplicates {orders['duplicates']}; crashes {result['crashes']}, "
        f"silent hang-ups {result['silent_hangups']}, fuzz cases {result['fuzz']['cases']} "
        f"({result['fuzz']['failures']} failures); wrote {args.out}"
    )
    return 0 if result["ok"] else 1


# the soak's server keeps the shipped limits: more calls than max_calls, or a loop running
# late, go straight to an operator (the other phases lift them to see every call through)
SOAK_SERVER = {
    "server": {
        "max_calls": ServerSettings().max_calls,
        "overload_lag_ms": ServerSettings().overload_lag_ms,
    }
}


async def run_fault_suite(
    out: Path | None,
    *,
    folder: Path,
    fuzz_cases: int = 1000,
    minutes: float = 0.0,
    calls: int = 50,
    seed: int = 1,
    fuzz_max_calls: int = 0,
    overrides: dict[str, Any] | None = None,
    soak_only: bool = False,
) -> dict[str, Any]:
    """Run every phase (see the module docstring); write ``out`` unless it is None.

    The malformed inputs go to a server of their own with ``server.max_calls`` =
    ``fuzz_max_calls`` (0: the same as the others): with a small number most fuzzed calls
    go straight to an operator, which keeps the run short (a call session costs ~80 ms of
    CPU to set up) while the parsers still see every case.
    """
    raise_soft_limit()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    mail = MailCounter(free_port())
    mail.start()
    run = Run(folder, mail, seed=seed, max_calls=max(60, calls + 10), overrides=overrides or {})
    started = time.monotonic()
    result: dict[str, Any] = {"seed": seed, "fuzz_cases_per_endpoint": fuzz_cases}
    if overrides:
        result["overrides"] = overrides
    try:
        if soak_only:
            bot = await run.server("soak", SOAK_SERVER)
            result["soak"] = await phases.soak(run, bot, calls, minutes)
            return _finish(run, result, out, started)
        first = await run.server("first")
        result["start_s"] = round(first.start_seconds, 1)
        rss_start = first.rss_mb()
        result["slow_clients"] = await phases.slow_clients(run, first)
        limit = {"server": {"max_calls": fuzz_max_calls}} if fuzz_max_calls else None
        fuzzed = await run.server("fuzz", limit)
        result["fuzz"] = await phases.fuzz(run, fuzzed, fuzz_cases)
        result["fuzz"]["max_calls"] = fuzz_max_calls or run.max_calls
        await fuzzed.stop()
        second = await phases.kill_mid_call(run, first)
        result["kill_9"] = await phases.wait_until_saved(run, "kill")
        result["database_locked"] = await phases.database_locked(run, second)
        result["smtp_down"] = await phases.smtp_down(run, second)
        last, result["database_read_only"] = await phases.read_only(run, second)
        result["rss_mb"] = {"start": round(rss_start, 1), "end": round(last.rss_mb(), 1)}
        if minutes > 0:  # on a server as shipped: its call limit and overload protection
            await last.stop()
            soaked = await run.server("soak", SOAK_SERVER)
            result["soak"] = await phases.soak(run, soaked, calls, minutes)
        await phases.wait_until_saved(run, "fuzz")
    finally:
        for bot in run.servers:
            await bot.stop()
        mail.stop()
    return _finish(run, result, out, started)


def _finish(run: Run, result: dict[str, Any], out: Path | None, started: float) -> dict[str, Any]:
    result.update(_totals(run, result))
    result["seconds"] = round(time.monotonic() - started, 1)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return result


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``a.b=value`` pairs as a nested mapping (values parsed as YAML)."""
    import yaml

    tree: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set wants KEY=VALUE, got {pair!r}")
        node = tree
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(raw)
    return tree


def _totals(run: Run, result: dict[str, Any]) -> dict[str, Any]:
    orders = run.ledger.check(run.db, run.mail)
    logs = {bot.name: bot.log_text() for bot in run.servers}
    died = [
        bot.name
        for bot in run.servers
        if bot.name not in run.killed and bot.process is not None and bot.process.returncode
    ]
    tracebacks = {name: text.count(TRACEBACK) for name, text in logs.items()}
    exceptions = [e for text in logs.values() for e in traceback_summaries(text)]
    silent = [
        caller
        for phase, caller, call in run.ledger.calls
        if phase != "kill" and call.silent_hangup and call.bot_hung_up
    ]
    numbers = [re.escape(caller[-10:]) for _, caller, _ in run.ledger.calls]
    leaks = sum(
        text.count(run.secret) + len(re.findall("|".join(numbers), text)) if numbers else 0
        for text in logs.values()
    )
    crashes = len(died) + sum(tracebacks.values())
    ok = (
        not orders["lost"]
        and orders["duplicates"] == 0
        and orders["mailed"] == orders["confirmed"]
        and crashes == 0
        and not silent
        and leaks == 0
        and result.get("fuzz", {}).get("failures", 0) == 0
    )
    return {
        "orders": orders,
        "crashes": crashes,
        "crash_details": {"died": died, "tracebacks": tracebacks, "exceptions": exceptions},
        "silent_hangups": len(silent),
        "log_leaks": leaks,
        "ok": ok,
    }


def traceback_summaries(log: str) -> list[str]:
    """One line per traceback in a log: the log line before it and the exception."""
    found = []
    lines = log.splitlines()
    for index, line in enumerate(lines):
        if TRACEBACK not in line:
            continue
        end = index
        while end + 1 < len(lines) and lines[end + 1].startswith("  | "):
            end += 1
        head = lines[index - 1].split(": ", 1)[-1] if index else ""
        found.append(f"{lines[end].removeprefix('  | ').strip()} (after: {head[:80]})")
    return found


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
