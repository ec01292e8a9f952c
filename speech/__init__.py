"""Speech: the internal audio type, G.711 codecs, VAD, speech recognition and synthesis.

Knows nothing of calls, NLU or dialogs. Engines register themselves by name when this package
is imported (their heavy libraries load only when a model is first used):
``create_recognizer("whisper" | "vosk", ...)``, ``create_synthesizer("festival" | "espeak" |
"silero", ...)``.
"""

from speech import asr_vosk, asr_whisper, tts_espeak, tts_festival, tts_silero
from speech.asr import (
    RECOGNIZERS,
    Hints,
    Partial,
    Recognizer,
    Transcript,
    create_recognizer,
)
from speech.audio import Audio
from speech.errors import EngineUnavailable, RecognitionError, SpeechError, SynthesisError
from speech.executor import configure_executor, get_executor, shutdown_executor
from speech.tts import SYNTHESIZERS, SynthesisCache, Synthesizer, create_synthesizer
from speech.vad import EndOfPhraseDetector, NoInput, PhraseEnded, SileroVad, SpeechStarted

__all__ = [
    "RECOGNIZERS",
    "SYNTHESIZERS",
    "Audio",
    "EndOfPhraseDetector",
    "EngineUnavailable",
    "Hints",
    "NoInput",
    "Partial",
    "PhraseEnded",
    "RecognitionError",
    "Recognizer",
    "SileroVad",
    "SpeechError",
    "SpeechStarted",
    "SynthesisCache",
    "SynthesisError",
    "Synthesizer",
    "Transcript",
    "asr_vosk",
    "asr_whisper",
    "configure_executor",
    "create_recognizer",
    "create_synthesizer",
    "get_executor",
    "shutdown_executor",
    "tts_espeak",
    "tts_festival",
    "tts_silero",
]
