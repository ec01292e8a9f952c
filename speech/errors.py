"""Errors raised by the speech package."""

from __future__ import annotations


class SpeechError(Exception):
    """Base class of the speech package's errors."""


class EngineUnavailable(SpeechError):
    """A speech engine cannot run here: its program, library or model files are missing."""


class SynthesisError(SpeechError):
    """A synthesizer ran but produced no audio for a text."""


class RecognitionError(SpeechError):
    """A recognizer ran but failed on an utterance."""


class EngineTimeout(SpeechError):
    """A recognition or synthesis call took longer than the engine's ``call_timeout_s``."""
