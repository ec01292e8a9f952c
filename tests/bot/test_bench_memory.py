"""``bench voice``'s memory figure (``bot.tools.bench_voice.rss_mb``) counts the processes the
bot started, as the Whisper worker processes are: they hold ~220 MB each."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection

from bot.tools.bench_voice import rss_mb


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
