"""espeak-ng text-to-speech (Debian ``espeak-ng``): fast, robotic, many languages.

Runs ``espeak-ng -v <voice> --stdout --stdin`` per text with the text on standard input
(UTF-8), so no text is ever taken for an option. espeak-ng writes 22,050 Hz WAV; the base
class resamples it to the requested ``rate``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import Executor
from pathlib import Path

from speech.audio import Audio
from speech.errors import EngineUnavailable, SynthesisError
from speech.tts import SynthesisCache, Synthesizer, register_synthesizer

_VOICE_NAME = re.compile(r"^[A-Za-z0-9_+\-]+$")


@register_synthesizer
class EspeakSynthesizer(Synthesizer):
    """espeak-ng; ``speed`` is words per minute (espeak's default is 175), ``pitch`` 0..99."""

    name = "espeak"

    def __init__(
        self,
        voice: str = "ru",
        *,
        rate: int = 16000,
        speed: int | None = None,
        pitch: int | None = None,
        timeout_s: float = 30.0,
        cache: SynthesisCache | None = None,
        cache_dir: str | Path | None = None,
        executor: Executor | None = None,
    ) -> None:
        if not _VOICE_NAME.match(voice):
            raise ValueError(f"not an espeak-ng voice name: {voice!r}")
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise EngineUnavailable(
                "espeak-ng not found: install Debian espeak-ng (scripts/bootstrap.sh)"
            )
        super().__init__(
            voice=voice, rate=rate, cache=cache, cache_dir=cache_dir, executor=executor
        )
        self.binary = binary
        self.speed = speed
        self.pitch = pitch
        self.timeout_s = timeout_s

    def command(self) -> list[str]:
        args = [self.binary, "-v", self.voice, "--stdout", "--stdin"]
        if self.speed is not None:
            args += ["-s", str(self.speed)]
        if self.pitch is not None:
            args += ["-p", str(self.pitch)]
        return args

    def _synthesize_sync(self, text: str) -> Audio:
        try:
            done = subprocess.run(
                self.command(),
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SynthesisError(f"espeak-ng took longer than {self.timeout_s} s") from exc
        if done.returncode != 0 or len(done.stdout) <= 44:
            message = done.stderr.decode("utf-8", errors="replace").strip()[:300]
            raise SynthesisError(f"espeak-ng failed ({done.returncode}): {message}")
        return Audio.from_wav_bytes(done.stdout)
