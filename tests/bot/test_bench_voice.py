"""``bench voice`` (``bot.tools.bench_voice``): its memory figure counts the processes the bot
started, as the Whisper worker processes are (they hold ~220 MB each); rewriting
``bench/voice.json`` keeps what ``bench wire`` wrote there."""

from __future__ import annotations

import json
import multiprocessing
import time
from multiprocessing.connection import Connection
from pathlib import Path

from bot.tools.bench_voice import _wire_headline, rss_mb
from bot.tools.bench_wire import HEADLINE_KEYS


def _hold(ready: Connection, megabytes: int) -> None:
    block = bytearray(megabytes * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not just reserved
    ready.send(True)
    ready.recv()  # until the test has looked


def test_a_child_process_memory_is_counted() -> None:
    before = rss_mb()
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(target=_hold, args=(theirs, 80))
    child.start()
    try:
        assert ours.poll(30), "the child came up"
        ours.recv()
        during = rss_mb()
    finally:
        ours.send(True)
        child.join(10)
    assert during - before >= 80, (before, during)
    time.sleep(0.1)
    assert rss_mb() < during - 60, "an ended child no longer counts"


def test_the_wire_benchmark_figures_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "voice.json"
    assert _wire_headline(out) == {}, "no file yet"
    wire = {"wire": {"1": {"wire_gap_p50_s": 0.59}}, "max_calls_p95_1_2s": 8}
    out.write_text(json.dumps({"single": {"old": 1}, **wire, "false_cutoff_rate": 0.1}))
    kept = _wire_headline(out)
    assert kept == {**wire, "false_cutoff_rate": 0.1}
    assert set(kept) <= set(HEADLINE_KEYS)
    out.write_text("{broken")
    assert _wire_headline(out) == {}
