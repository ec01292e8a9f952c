"""The early end of turn's wait for a free speech worker (``bot.early_turn``), on stand-ins for
the call's input and the voice services: it starts the skipped speculation once a worker is
free, and never once the caller's turn is over."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from bot.early_turn import RETRY_S, EarlyTurn
from bot.turn_input import Paused
from speech.audio import Audio
from speech.vad import PhrasePaused


class Input:
    """The bits of :class:`bot.turn_input.TurnInput` the early end of turn reads."""

    def __init__(self) -> None:
        self.listening = True
        self.open_voice_ms: int | None = 640  # the phrase in progress (None: it ended)

    def still_paused(self, pause: PhrasePaused) -> bool:
        return self.open_voice_ms == pause.last_voice_ms


def paused(commit: bool = False) -> Paused:
    pause = PhrasePaused(Audio(bytes(3200), 8000), 100, 640, 790, commit)
    return Paused(pause, 0.0)


def early_turn(input: Input) -> tuple[EarlyTurn, list[str]]:
    heard: list[str] = []
    services: Any = SimpleNamespace(voice=SimpleNamespace(speculate=True))
    early = EarlyTurn(services, input, nlu=None)  # type: ignore[arg-type]

    async def recognize(p: Paused, expect: str) -> tuple[Any, bool]:
        heard.append(expect)
        return SimpleNamespace(text="123"), False

    early._recognize = recognize  # type: ignore[method-assign]
    return early, heard


async def test_the_skipped_speculation_starts_when_a_worker_is_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    busy = True
    monkeypatch.setattr("bot.early_turn.pool_busy", lambda: busy)
    early, heard = early_turn(Input())
    early.start(paused(), "article")
    assert early.skipped_busy == 1 and early.running is None and early.retrying is not None
    await asyncio.sleep(3 * RETRY_S)
    assert not heard, "not while every worker is busy"
    busy = False
    retry = early.retrying
    assert retry is not None
    await asyncio.wait_for(retry, 1.0)
    assert early.retried == 1 and early.current is not None
    await early.current.task
    assert heard == ["article"]


@pytest.mark.parametrize("why", ["keys or the next prompt", "the phrase ended"])
async def test_no_speculation_once_the_turn_is_over(
    monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    busy = True
    monkeypatch.setattr("bot.early_turn.pool_busy", lambda: busy)
    input = Input()
    early, heard = early_turn(input)
    early.start(paused(), "article")
    retry = early.retrying
    assert retry is not None
    if why == "the phrase ended":
        input.open_voice_ms = None
    else:
        input.listening = False  # a hang-up or keys leave the phrase open: not listening
    busy = False
    await asyncio.wait_for(retry, 1.0)
    assert early.retried == 0 and early.current is None and not heard


async def test_the_turn_end_drops_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.early_turn.pool_busy", lambda: True)
    early, heard = early_turn(Input())
    early.start(paused(), "article")
    retry = early.retrying
    assert retry is not None
    early.drop_retry()
    await asyncio.gather(retry, return_exceptions=True)
    assert retry.cancelled() and early.retrying is None and not heard


async def test_a_later_pause_waits_for_the_running_speculation_then_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A speculation of a pause between words is still running when the caller pauses at the
    end: that pause is recognised as soon as the earlier one is done (it was dropped)."""
    monkeypatch.setattr("bot.early_turn.pool_busy", lambda: False)
    input = Input()
    early, heard = early_turn(input)
    release = asyncio.Event()

    async def slow(p: Paused, expect: str) -> tuple[Any, bool]:
        heard.append(f"{expect}@{p.pause.last_voice_ms}")
        if p.pause.last_voice_ms == 640:
            await release.wait()
        return SimpleNamespace(text="123"), False

    early._recognize = slow  # type: ignore[method-assign]
    early.start(paused(), "article")  # the pause between words, at 640 ms
    await asyncio.sleep(0)
    later = PhrasePaused(Audio(bytes(6400), 8000), 100, 1200, 1350, False)
    input.open_voice_ms = 1200  # the caller spoke on, and paused again
    early.start(Paused(later, 0.0), "article")
    assert early.retrying is not None and early.skipped_busy == 0
    await asyncio.sleep(3 * RETRY_S)
    assert heard == ["article@640"], "one speculation at a time"
    release.set()
    retry = early.retrying
    assert retry is not None
    await asyncio.wait_for(retry, 1.0)
    assert early.current is not None and early.current.paused.pause.last_voice_ms == 1200
    await early.current.task
    assert heard == ["article@640", "article@1200"] and early.retried == 1
