"""Voice settings and the per-process speech services every call shares.

Heavy things load once per process: the ASR model, the TTS engine (with its cache, warmed
with every fixed phrase of ``responses.yml``), the NLU model and the shop connection. Calls
reach the CPU-heavy parts through one bounded worker pool (``speech.executor``).
"""

from __future__ import annotations

import asyncio
import logging
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.action_runner import Orders
from bot.config import Settings
from bot.orders import DurableOrders
from bot.shop_setup import Shop, load_language
from bot.voice_settings import TtsSettings, VoiceSettings
from dialogs.ports import ShopPorts
from dialogs.responses import Responses
from nlu.engine import NluEngine
from nlu.verbalize import verbalize
from speech.asr import Recognizer, create_recognizer
from speech.errors import EngineUnavailable
from speech.executor import configure_executor
from speech.tts import Synthesizer, create_synthesizer
from speech.tts_fallback import FallbackSynthesizer
from speech.vad import EndOfPhraseDetector, SileroVad, VoiceActivity

log = logging.getLogger(__name__)


def fixed_phrases(responses: Responses) -> list[str]:
    """Every response variant without placeholders: synthesized once, at start."""
    return [
        text
        for texts in responses.variants.values()
        for text in texts
        if not any(name for _, name, _, _ in string.Formatter().parse(text))
    ]


def build_synthesizer(tts: TtsSettings) -> Synthesizer:
    """The configured engine, then its reserves (``voice.tts.fallback``)."""
    engines: list[Synthesizer] = []
    for position, name in enumerate([tts.engine, *tts.fallback]):
        options = dict(tts.options) if position == 0 else {}
        if tts.cache_dir:
            Path(tts.cache_dir).mkdir(parents=True, exist_ok=True)
            options.setdefault("cache_dir", tts.cache_dir)
        try:
            engine = create_synthesizer(name, rate=tts.rate, **options)
        except EngineUnavailable:
            if position == 0:
                raise
            log.warning("reserve synthesizer unavailable", extra={"engine": name})
            continue
        engine.call_timeout_s = tts.timeout_s
        engines.append(engine)
    return engines[0] if len(engines) == 1 else FallbackSynthesizer(engines)


MAX_FREE_VADS = 64  # ~9 MB each (an ONNX session); calls beyond that load their own
# models kept ready for the next calls: loaded before the first call, and loaded again in a
# thread (off the event loop) as calls take them
PREWARMED_VADS = 4


@dataclass(slots=True)
class VoiceServices:
    """What every call of a process shares. ``ports`` and ``orders`` are how calls reach the
    shop (the dialog's look-ups; where orders are saved); ``vad`` makes one voice-activity
    model per call (stateful)."""

    settings: Settings
    voice: VoiceSettings
    nlu: NluEngine
    recognizer: Recognizer
    synthesizer: Synthesizer
    responses: Responses
    ports: ShopPorts
    orders: Orders
    shop: Shop | None = None
    vad: Callable[[], VoiceActivity] = SileroVad
    # voice-activity models of ended calls, reset, for the next calls: loading one takes
    # ~0.1 s of CPU on the event loop, which every other call would hear as a late answer
    _free_vads: list[VoiceActivity] = field(default_factory=list)
    _refill: asyncio.Task[None] | None = None  # loading models for the next calls, in a thread

    def __post_init__(self) -> None:
        # the one place numbers become words: on the way to synthesis («2 штуки» ➜ «две штуки»)
        self.synthesizer.preprocess = verbalize

    @classmethod
    async def start(cls, settings: Settings, voice: VoiceSettings, shop: Shop) -> VoiceServices:
        configure_executor(voice.workers)
        nlu, responses = await load_language(settings, shop)
        recognizer = create_recognizer(voice.asr.engine, **voice.asr.options)
        recognizer.call_timeout_s = voice.asr.timeout_s
        synthesizer = build_synthesizer(voice.tts)
        await recognizer.load()
        assert shop.orders is not None
        orders = DurableOrders(shop.orders)
        services = cls(
            settings, voice, nlu, recognizer, synthesizer, responses, shop.ports, orders, shop
        )
        phrases = fixed_phrases(responses)
        await synthesizer.warm(phrases)
        services.warm_vads(PREWARMED_VADS)
        log.info("voice services ready", extra={"phrases": len(phrases)})
        return services

    def detector(self) -> EndOfPhraseDetector:
        """A detector for a new call, on a pooled voice-activity model (``release`` it)."""
        vad = self.voice.vad
        model = self._free_vads.pop() if self._free_vads else self.vad()
        self._top_up()
        return EndOfPhraseDetector(
            model,
            threshold=vad.threshold,
            min_speech_ms=vad.min_speech_ms,
            end_silence_ms=vad.default_end_silence_ms,
            no_input_ms=vad.no_input_ms,
        )

    def release(self, detector: EndOfPhraseDetector) -> None:
        """A call ended: its voice-activity model, reset, serves a later call."""
        if len(self._free_vads) < MAX_FREE_VADS:
            detector.vad.reset()
            self._free_vads.append(detector.vad)

    def _top_up(self) -> None:
        """Load models for the next calls in a thread while fewer than ``PREWARMED_VADS`` are
        free. A load takes 0.06–0.11 s (measured alone), and on the event loop every call past
        the pool's fourth held every other call's audio that long. In a thread the load lets
        the loop run (ONNX Runtime releases the interpreter lock: the loop's lag stayed under
        4 ms during four loads in threads). A call that still finds the pool empty loads its
        own, as before. 20 calls on the wire: no change beyond the run-to-run spread."""
        if len(self._free_vads) >= PREWARMED_VADS or (self._refill and not self._refill.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): nothing to load in the background
        self._refill = loop.create_task(self._load_free_vads(), name="vad-refill")

    async def _load_free_vads(self) -> None:
        try:
            while len(self._free_vads) < PREWARMED_VADS:
                self._free_vads.append(await asyncio.to_thread(self.vad))
        except Exception:
            log.exception("loading a voice-activity model for the next calls failed")

    def warm_vads(self, count: int) -> None:
        """Load ``count`` voice-activity models before the first calls come."""
        while len(self._free_vads) < min(count, MAX_FREE_VADS):
            self._free_vads.append(self.vad())
