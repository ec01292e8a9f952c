"""The voice services' pool of voice-activity models (``bot.voice.VoiceServices``): models for
the next calls are loaded in a thread as calls take them, so a call start past the pool's
fourth does not stop every other call's audio while a model loads on the event loop."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

from bot.voice import PREWARMED_VADS, VoiceServices
from bot.voice_settings import VoiceSettings
from tests.fakes.speech import EnergyVad


def services(factory: Any) -> VoiceServices:
    none: Any = None
    synthesizer: Any = SimpleNamespace()  # only its ``preprocess`` is set
    return VoiceServices(
        none, VoiceSettings(), none, none, synthesizer, none, none, none, vad=factory
    )


async def test_models_for_the_next_calls_load_in_a_thread() -> None:
    loaded_on_loop: list[bool] = []

    def factory() -> EnergyVad:
        loaded_on_loop.append(threading.current_thread() is threading.main_thread())
        return EnergyVad()

    voice = services(factory)
    voice.warm_vads(PREWARMED_VADS)
    assert loaded_on_loop == [True] * PREWARMED_VADS  # at start-up, before the first call
    loaded_on_loop.clear()
    taken = [voice.detector() for _ in range(PREWARMED_VADS + 2)]
    # the pool had four: the fifth and sixth call found it empty and loaded their own
    assert loaded_on_loop[:2] == [True, True]
    for _ in range(200):
        if len(voice._free_vads) >= PREWARMED_VADS:
            break
        await asyncio.sleep(0.01)
    assert len(voice._free_vads) == PREWARMED_VADS, "the pool is full again"
    assert loaded_on_loop[2:] == [False] * PREWARMED_VADS, "refilled off the event loop"
    for detector in taken:
        voice.release(detector)
    assert len(voice._free_vads) == 2 * PREWARMED_VADS + 2


async def test_a_failing_load_leaves_the_calls_alone() -> None:
    calls = 0

    def factory() -> EnergyVad:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise RuntimeError("no model")
        return EnergyVad()

    voice = services(factory)
    detector = voice.detector()  # loaded on the loop: the pool was empty
    assert detector.vad is not None
    assert voice._refill is not None
    await asyncio.wait([voice._refill], timeout=5)
    assert voice._refill.done()
    assert voice._free_vads == []


def test_without_an_event_loop_nothing_loads_in_the_background() -> None:
    voice = services(EnergyVad)
    voice.detector()
    assert voice._refill is None and voice._free_vads == []
