"""The phases of ``python -m bot bench faults``, each against real ``bot serve`` processes.

Calls are keypad-driven Asterisk calls (:mod:`bot.tools.keypad_call`), one caller number
each, so the :class:`~bot.tools.fault_ledger.Ledger` can find every confirmed order in the
database and in the mail afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.tools import fuzz_cases as cases
from bot.tools.fault_ledger import HeldLock, Ledger, MailCounter
from bot.tools.fuzz_run import (
    agi_case,
    audiosocket_case,
    healthy,
    http_case,
    run_cases,
    ws_case,
)
from bot.tools.keypad_call import CONFIRM_STEP, ORDER_KEYS, KeypadResult, keypad_call
from bot.tools.serve_process import ServeProcess, base_config, merge

TIMEOUTS = {  # short limits so that slow clients are cut quickly in the benchmark
    "server": {
        "http": {"header_timeout": 2.0, "body_timeout": 2.0},
        "asterisk": {"agi_header_timeout": 2.0, "link_timeout": 3.0, "first_frame_timeout": 2.0},
    }
}


@dataclass
class Run:
    folder: Path
    mail: MailCounter
    seed: int = 1
    secret: str = "bench-secret-0042"
    max_calls: int = 60
    ledger: Ledger = field(default_factory=Ledger)
    servers: list[ServeProcess] = field(default_factory=list)
    killed: set[str] = field(default_factory=set)  # servers we killed on purpose
    overrides: dict[str, Any] = field(default_factory=dict)  # config of every server (--set)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def db(self) -> Path:
        return self.folder / "shop" / "shop.sqlite"

    def caller(self) -> str:
        return f"+7999{self.seed % 100:02d}{next(self._numbers):05d}"

    def config(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        config = base_config(self.folder / "shop", mail_port=self.mail.port, secret=self.secret)
        config = merge(config, TIMEOUTS)
        config = merge(config, {"server": {"max_calls": self.max_calls}})
        return merge(merge(config, extra or {}), self.overrides)  # --set wins

    async def server(self, name: str, extra: dict[str, Any] | None = None) -> ServeProcess:
        bot = ServeProcess(self.folder / "shop", self.config(extra), name=name)
        self.servers.append(bot)
        bot.start()
        await bot.started()
        return bot

    async def call(
        self, phase: str, bot: ServeProcess, steps: tuple[str, ...] = ORDER_KEYS, **options: Any
    ) -> KeypadResult:
        caller = self.caller()
        result = options.pop("result", None) or KeypadResult()
        self.ledger.add(phase, caller, result)
        return await keypad_call(bot.agi(), steps, caller=caller, result=result, **options)


def call_summary(results: list[KeypadResult]) -> dict[str, Any]:
    results_seen: dict[str, int] = {}
    for r in results:
        results_seen[r.result or "-"] = results_seen.get(r.result or "-", 0) + 1
    return {
        "calls": len(results),
        "results": results_seen,
        "silent_hangups": sum(r.silent_hangup for r in results),
        "seconds_max": round(max((r.seconds for r in results), default=0.0), 1),
    }


async def wait_until_saved(run: Run, phase: str, timeout: float = 30.0) -> dict[str, Any]:
    """Until every confirmed order of ``phase`` is saved and mailed (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        figures = run.ledger.check(run.db, run.mail)["by_phase"].get(phase, {})
        done = figures.get("mailed", 0) >= figures.get("confirmed", 0)
        if done or time.monotonic() > deadline:
            return figures
        await asyncio.sleep(0.3)


# --- slow clients -------------------------------------------------------------------------


async def _hold_open(host: str, port: int, data: bytes, source: str = "127.0.0.1") -> Any:
    with contextlib.suppress(OSError):
        reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        writer.write(data)
        return reader, writer
    return None


async def slow_clients(run: Run, bot: ServeProcess) -> dict[str, Any]:
    """Slow headers, slow bodies, idle FastAGI and AudioSocket connections; meanwhile
    ``/healthz`` and an order call must work, and afterwards all of them are cut."""
    http_port = int(bot.http().rsplit(":", 1)[1])
    agi_host, agi_port = bot.agi()
    audio_port = int(bot.addresses["audiosocket"].rsplit(":", 1)[1])
    started = time.monotonic()
    slow_head = b"GET /healthz HTTP/1.1\r\nHost: bot\r\nX-Slow: "
    slow_body = (
        f"POST /telphin/{run.secret} HTTP/1.1\r\nHost: bot\r\nContent-Length: 500\r\n\r\nCall"
    ).encode()
    # one coroutine per connection: gather() runs a coroutine repeated in its arguments once
    groups = {
        "http_slow_headers": [
            _hold_open("127.0.0.1", http_port, slow_head, "127.0.0.2") for _ in range(300)
        ],
        "http_slow_bodies": [
            _hold_open("127.0.0.1", http_port, slow_body, "127.0.0.3") for _ in range(30)
        ],
        "fastagi_idle": [_hold_open(agi_host, agi_port, b"agi_network: yes\n") for _ in range(60)],
        "audiosocket_idle": [_hold_open("127.0.0.1", audio_port, b"\x01\x00") for _ in range(60)],
    }
    held: dict[str, list[Any]] = {}
    for name, openers in groups.items():
        held[name] = [c for c in await asyncio.gather(*openers) if c is not None]
    health = await healthy(bot.http())
    call = await run.call("slow_clients", bot)
    cut: dict[str, int] = {}
    not_cut: list[str] = []  # what a connection left open had received: for the next reader
    deadline = time.monotonic() + 8.0
    for name, connections in held.items():
        cut[name] = 0
        for reader, writer in connections:
            reset = False  # the server closed with the client's bytes unread: an RST, a cut too
            got = b""
            try:
                async with asyncio.timeout(max(0.05, deadline - time.monotonic())):
                    while chunk := await reader.read(4096):
                        got += chunk
            except ConnectionError:
                reset = True
            except TimeoutError:
                pass
            closed = reset or reader.at_eof() or writer.is_closing()
            cut[name] += int(closed)
            if not closed:
                not_cut.append(f"{name}: {got[:80]!r}")
            writer.close()
    return {
        "connections": {name: len(c) for name, c in held.items()},
        "cut_by_the_server": cut,
        "not_cut": not_cut,
        "healthz_during": health,
        "order_call_during": call.result == "hangup" and call.confirmed,
        "seconds": round(time.monotonic() - started, 1),
    }


# --- fuzzing ------------------------------------------------------------------------------


async def fuzz(run: Run, bot: ServeProcess, count: int) -> dict[str, Any]:
    """``count`` malformed inputs per endpoint; then ``/healthz`` and an order call."""
    http_port = int(bot.http().rsplit(":", 1)[1])
    audio = ("127.0.0.1", int(bot.addresses["audiosocket"].rsplit(":", 1)[1]))
    agi = bot.agi()
    ws_base = bot.http().replace("http://", "ws://") + "/ws"
    reports = {}
    seed = run.seed
    plans: list[tuple[str, list[Any], Any, int]] = [  # endpoint, cases, runner, at once
        ("fastagi", cases.agi_cases(count, seed), lambda c: agi_case(agi, c), 32),
        (
            "audiosocket",
            cases.audiosocket_cases(count, seed),
            lambda c: audiosocket_case(agi, audio, c, seed),
            16,
        ),
        ("http", cases.http_cases(count, seed, run.secret), lambda c: http_case(http_port, c), 32),
        (
            "telphin",
            cases.telphin_cases(count, seed, run.secret),
            lambda c: http_case(http_port, c),
            32,
        ),
    ]
    for kind in ("twilio", "audio_fork", "browser"):
        url = f"{ws_base}/{kind}/{run.secret}"
        runner = lambda c, url=url: ws_case(url, c)  # noqa: E731
        plans.append((kind, cases.ws_cases(kind, count, seed), runner, 16))
    for endpoint, endpoint_cases, runner, at_once in plans:
        report = await run_cases(endpoint, endpoint_cases, runner, at_once)
        if not await healthy(bot.http()):
            report.failures.append("the server stopped answering /healthz")
        reports[endpoint] = report.to_json()
    call = await run.call("fuzz", bot)
    return {
        "endpoints": reports,
        "cases": sum(r["cases"] for r in reports.values()),
        "failures": sum(r["failures"] for r in reports.values()),
        "order_call_after": call.result == "hangup" and call.confirmed,
    }


# --- kill -9 mid-call ---------------------------------------------------------------------


async def kill_mid_call(run: Run, bot: ServeProcess, calls: int = 6) -> ServeProcess:
    """Calls with a confirmed item (and one still at the menu) when the server gets SIGKILL;
    the next start finishes their drafts («прерван») and e-mails them."""
    hold = asyncio.Event()
    results = [KeypadResult() for _ in range(calls)]
    tasks = [
        asyncio.create_task(
            run.call("kill", bot, ORDER_KEYS[: CONFIRM_STEP + 1], hold=hold, result=r)
        )
        for r in results
    ]
    tasks.append(asyncio.create_task(run.call("kill", bot, ORDER_KEYS[:1], hold=hold)))
    deadline = time.monotonic() + 40
    while not all(r.confirmed for r in results) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    bot.kill()  # the moment the last caller heard the next prompt: nothing more to wait for
    run.killed.add(bot.name)
    hold.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return await run.server("after-kill")


# --- database locked, SMTP down, database read-only -----------------------------------------


async def database_locked(run: Run, bot: ServeProcess, calls: int = 3) -> dict[str, Any]:
    """The SQLite file locked (longer than the write retries) when the callers say the last
    «да»: they hear an apology and go to an operator with BOT_RESULT=error; the orders wait
    in the journal and are written once the lock is gone."""
    waiting = 0
    go = asyncio.Event()
    read_back = len(ORDER_KEYS) - 1

    async def before(index: int) -> None:
        nonlocal waiting
        if index == read_back:
            waiting += 1
            await go.wait()

    tasks = [
        asyncio.create_task(run.call("db_locked", bot, before_step=before)) for _ in range(calls)
    ]
    deadline = time.monotonic() + 60
    while waiting < calls and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    lock = HeldLock(run.db)
    lock.start()
    go.set()
    greeting = KeypadResult()
    began = time.monotonic()
    greet_task = asyncio.create_task(
        run.call("db_locked_greeting", bot, ORDER_KEYS[:1], result=greeting, hold=go)
    )
    while greeting.bot_audio_bytes == 0 and not greet_task.done():
        await asyncio.sleep(0.02)
        if time.monotonic() - began > 20:
            break
    greeting_wait = time.monotonic() - began
    results = await asyncio.gather(*tasks)
    lock.stop()
    greet_task.cancel()
    await asyncio.gather(greet_task, return_exceptions=True)
    figures = await wait_until_saved(run, "db_locked")
    return {
        **call_summary(results),
        "lock_held_s": round(lock.held_s, 1),
        "greeting_during_lock_s": round(greeting_wait, 2),
        "after_unlock": figures,
    }


async def smtp_down(run: Run, bot: ServeProcess, calls: int = 3) -> dict[str, Any]:
    run.mail.stop()
    results = await asyncio.gather(*(run.call("smtp_down", bot) for _ in range(calls)))
    await asyncio.sleep(1.0)
    mailed_while_down = run.ledger.check(run.db, run.mail)["by_phase"]["smtp_down"]["mailed"]
    run.mail.start()
    began = time.monotonic()
    figures = await wait_until_saved(run, "smtp_down")
    return {
        **call_summary(results),
        "mailed_while_down": mailed_while_down,
        "delivered_after_s": round(time.monotonic() - began, 1),
        "after_up": figures,
    }


async def read_only(
    run: Run, bot: ServeProcess, calls: int = 2
) -> tuple[ServeProcess, dict[str, Any]]:
    """The database opened read-only: orders cannot be written, the callers hear an apology
    and go to an operator with BOT_RESULT=error, the orders wait in the journal; a restart
    with a writable database writes and mails them."""
    stopped = await bot.stop()
    url = f"sqlite:///file:{run.db}?mode=ro&uri=true"
    ro = await run.server("read-only", {"shop": {"url": url, "migrate": False}})
    results = await asyncio.gather(*(run.call("read_only", ro) for _ in range(calls)))
    stopped_ro = await ro.stop()
    again = await run.server("writable-again")
    figures = await wait_until_saved(run, "read_only")
    return again, {
        **call_summary(results),
        "exit_codes": [stopped, stopped_ro],
        "after_restart": figures,
    }


# --- soak ---------------------------------------------------------------------------------


SOAK_REDIAL_S = 5.0  # a caller the bot handed to an operator calls again this much later


async def soak(run: Run, bot: ServeProcess, calls: int, minutes: float) -> dict[str, Any]:
    """``calls`` callers placing order after order for ``minutes``; RSS sampled every 5 s."""
    stop_at = time.monotonic() + minutes * 60
    samples: list[tuple[float, float]] = [(0.0, bot.rss_mb())]
    results: list[KeypadResult] = []
    began = time.monotonic()

    async def caller() -> None:
        while time.monotonic() < stop_at and bot.alive():
            result = await run.call("soak", bot)
            results.append(result)
            if result.result == "transfer":  # handed to an operator: a person talks a while
                await asyncio.sleep(SOAK_REDIAL_S)

    lags: list[float] = []  # /healthz round trips: how late the server's event loop runs

    async def sampler() -> None:
        while time.monotonic() < stop_at and bot.alive():
            await asyncio.sleep(5.0)
            samples.append((round(time.monotonic() - began, 1), round(bot.rss_mb(), 1)))
            asked = time.monotonic()
            if await healthy(bot.http()):
                lags.append(time.monotonic() - asked)
            else:
                lags.append(float("inf"))

    await asyncio.gather(sampler(), *(caller() for _ in range(calls)))
    samples.append((round(time.monotonic() - began, 1), round(bot.rss_mb(), 1)))
    figures = await wait_until_saved(run, "soak", timeout=60)
    return {
        "simultaneous_calls": calls,
        "minutes": minutes,
        **call_summary(results),
        "orders": figures,
        "rss_mb": {
            "start": samples[0][1],
            "end": samples[-1][1],
            "max": max(s[1] for s in samples),
        },
        "rss_samples": samples,
        "healthz_ms": _spread(lags),
    }


def _spread(values: list[float]) -> dict[str, float | int]:
    """Median, 95th percentile and maximum in ms; ``failed``: no answer within 3 s."""
    answered = sorted(v for v in values if v != float("inf"))
    if not answered:
        return {"failed": len(values)}

    def at(q: float) -> float:
        return round(answered[min(len(answered) - 1, int(q * len(answered)))] * 1000, 1)

    return {"p50": at(0.5), "p95": at(0.95), "max": at(1.0), "failed": len(values) - len(answered)}
