"""The call's outgoing audio (``bot.player``): closing it ends its task even when a transport
loses the cancellation, as Python 3.11's ``wait_for`` does when a result comes in the same
moment (that race hung a test's teardown for the 300 s of pytest-timeout)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.player import Phrase, Player
from connectors.pbx.transport import CallInfo, CallTransport, InboundEvent
from speech.audio import Audio


class SwallowingLine(CallTransport):
    """Takes frames, and drops the first cancellation that comes while one is sent."""

    def __init__(self) -> None:
        self.info = CallInfo("test-call", "+79607775577", "78123098635", "test")
        self.frames = 0
        self.swallowed = 0
        self.sending = asyncio.Event()

    def events(self) -> AsyncIterator[InboundEvent]:
        raise NotImplementedError

    async def play(self, frame: Audio) -> None:
        self.sending.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed += 1  # as wait_for does when its future is already done
        self.frames += 1

    async def hangup(self) -> None:
        pass

    async def transfer(self, target: str) -> None:
        pass


async def test_close_ends_the_player_though_a_cancellation_was_lost() -> None:
    line = SwallowingLine()
    player = Player(line, pace=False)
    player.start()
    player.enqueue(Phrase(Audio(bytes(160 * 2 * 5), 8000)))  # five frames, then idle
    await line.sending.wait()  # a frame is being sent
    await asyncio.wait_for(player.close(), 3)
    assert line.swallowed == 1, "the first cancellation was lost"
    assert player._task is not None and player._task.done()
