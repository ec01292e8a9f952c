from __future__ import annotations

import asyncio
import time

from bot.loop_lag import LoopLag


def test_the_mean_of_the_window_decides() -> None:
    lag = LoopLag(200.0, interval=0.1, window=1.0)
    assert not lag.overloaded and lag.lag_ms == 0.0
    for value in (500.0, 500.0, 0.0, 0.0):
        lag.record(value)
    assert lag.lag_ms == 250.0 and lag.overloaded
    for _ in range(10):  # the window keeps the last 10 samples only
        lag.record(5.0)
    assert lag.lag_ms == 5.0 and not lag.overloaded
    assert not LoopLag(0.0).overloaded  # 0: off


async def test_a_blocked_loop_is_measured() -> None:
    lag = LoopLag(50.0, interval=0.02, window=0.2)
    lag.start()
    await asyncio.sleep(0.05)
    time.sleep(0.4)  # a call hogging the loop
    await asyncio.sleep(0.05)
    await lag.stop()
    assert max(lag._samples) > 300.0
    assert lag.overloaded
