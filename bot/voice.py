"""Voice settings and the per-process speech services every call shares.

Heavy things load once per process: the ASR model, the TTS engine (with its cache, warmed
with every fixed phrase of ``responses.yml``), the NLU model and the shop connection. Calls
reach the CPU-heavy parts through one bounded worker pool (``speech.executor``).
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.shop_setup import Shop, load_language
from bot.voice_settings import VoiceSettings
from dialogs.responses import Responses
from nlu.engine import NluEngine
from nlu.verbalize import verbalize
from speech.asr import Recognizer, create_recognizer
from speech.executor import configure_executor
from speech.tts import Synthesizer, create_synthesizer
from speech.vad import EndOfPhraseDetector, SileroVad

log = logging.getLogger(__name__)


def fixed_phrases(responses: Responses) -> list[str]:
    """Every response variant without placeholders: synthesized once, at start."""
    return [
        text
        for texts in responses.variants.values()
        for text in texts
        if not any(name for _, name, _, _ in string.Formatter().parse(text))
    ]


@dataclass(slots=True)
class VoiceServices:
    settings: Settings
    voice: VoiceSettings
    nlu: NluEngine
    recognizer: Recognizer
    synthesizer: Synthesizer
    responses: Responses
    shop: Shop

    @classmethod
    async def start(cls, settings: Settings, voice: VoiceSettings, shop: Shop) -> VoiceServices:
        configure_executor(voice.workers)
        nlu, responses = await load_language(settings, shop)
        recognizer = create_recognizer(voice.asr.engine, **voice.asr.options)
        tts_options = dict(voice.tts.options)
        if voice.tts.cache_dir:
            Path(voice.tts.cache_dir).mkdir(parents=True, exist_ok=True)
            tts_options.setdefault("cache_dir", voice.tts.cache_dir)
        synthesizer = create_synthesizer(voice.tts.engine, rate=voice.tts.rate, **tts_options)
        await recognizer.load()
        services = cls(settings, voice, nlu, recognizer, synthesizer, responses, shop)
        phrases = [verbalize(t) for t in fixed_phrases(responses)]
        await synthesizer.warm(phrases)
        log.info("voice services ready", extra={"phrases": len(phrases)})
        return services

    def detector(self) -> EndOfPhraseDetector:
        vad = self.voice.vad
        return EndOfPhraseDetector(
            SileroVad(),
            threshold=vad.threshold,
            min_speech_ms=vad.min_speech_ms,
            end_silence_ms=vad.default_end_silence_ms,
            no_input_ms=vad.no_input_ms,
        )
