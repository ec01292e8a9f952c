"""Festival text-to-speech (Debian ``festival`` + ``festvox-ru``: voice ``msu_ru_nsh_clunits``).

Loading the Russian clunits voice takes ~0.4 s per ``text2wave`` run while synthesis itself
takes milliseconds, so by default one ``festival --pipe`` process per synthesizer stays up with
the voice loaded and gets one Scheme command per text (guarded by a lock; restarted if it dies).
``persistent=False``, or a failing process, falls back to one ``text2wave`` run per text, with
the text in a UTF-8 temporary file.

The voice's letter-to-sound rules stop at characters they do not know ("№", "%", a "." inside
"12.50") and then no audio is written, so ``festival_text`` keeps only letters, digits and
plain punctuation and splits digits from letters and from each other's separators.
Pure digit groups are read as numbers by the voice; turning numbers into words is still the
caller's job for correct Russian grammar.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Executor
from pathlib import Path

from speech.audio import Audio
from speech.errors import EngineUnavailable, SynthesisError
from speech.tts import SynthesisCache, Synthesizer, register_synthesizer

DEFAULT_VOICE = "msu_ru_nsh_clunits"
_VOICE_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_UNSPEAKABLE = re.compile(r"[^0-9A-Za-zА-Яа-яЁё\s,.!?;:'-]")
_DIGIT_SEPARATOR = re.compile(r"(?<=\d)[.,:;'-](?=\d)")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[A-Za-zА-Яа-яЁё])|(?<=[A-Za-zА-Яа-яЁё])(?=\d)")
_HAS_WORD = re.compile(r"[0-9A-Za-zА-Яа-яЁё]")
_LONE_PUNCTUATION = re.compile(r"(?:^|\s+)([,.!?;:]+)")  # a token of only punctuation stops it


def festival_text(text: str) -> str:
    """Text the Russian Festival voice can say without stopping: '' when nothing is left."""
    text = _UNSPEAKABLE.sub(" ", text)
    text = _DIGIT_SEPARATOR.sub(" ", text)
    text = _DIGIT_LETTER.sub(" ", text)
    text = " ".join(text.split())
    text = _LONE_PUNCTUATION.sub(lambda m: m.group(1) if m.start() else "", text).strip()
    return text if _HAS_WORD.search(text) else ""


class _FestivalProcess:
    """A ``festival --pipe`` process with a voice loaded, driven by Scheme commands."""

    def __init__(self, voice: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._tmpdir = Path(tempfile.mkdtemp(prefix="speech-festival-"))
        self._seq = 0
        self._proc = subprocess.Popen(
            ["festival", "--pipe"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output = self._command(f"(voice_{voice})")
        if "SIOD ERROR" in output or "unbound variable" in output:
            self.close()
            raise EngineUnavailable(f"Festival has no voice {voice!r}: {output.strip()[:200]}")

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def _command(self, expression: str) -> str:
        """Send one Scheme expression; returns what Festival printed while running it."""
        self._seq += 1
        tag = f"__speech_done_{self._seq}__"
        assert self._proc.stdin is not None and self._proc.stdout is not None
        payload = f'{expression}\n(format t "\\n{tag}\\n")\n(fflush nil)\n'
        try:
            self._proc.stdin.write(payload.encode("utf-8"))
            self._proc.stdin.flush()
        except OSError as exc:
            raise SynthesisError(f"Festival process is gone: {exc}") from exc
        fd = self._proc.stdout.fileno()
        buffer = b""
        deadline = time.monotonic() + self.timeout_s
        marker = tag.encode("ascii")
        while marker not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise SynthesisError(f"Festival did not answer within {self.timeout_s} s")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise SynthesisError("Festival process exited")
            buffer += chunk
        return buffer[: buffer.index(marker)].decode("utf-8", errors="replace")

    def synthesize(self, text: str) -> bytes:
        out = self._tmpdir / "out.wav"
        out.unlink(missing_ok=True)
        output = self._command(
            f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{out}" (quote riff))'
        )
        if not out.is_file() or out.stat().st_size <= 44:
            raise SynthesisError(f"Festival wrote no audio: {output.strip()[:300]}")
        return out.read_bytes()

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()  # festival exits at end of input
                self._proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        shutil.rmtree(self._tmpdir, ignore_errors=True)


@register_synthesizer
class FestivalSynthesizer(Synthesizer):
    """Festival with a Russian voice; output resampled to ``rate`` (default 16 kHz)."""

    name = "festival"

    def __init__(
        self,
        voice: str = DEFAULT_VOICE,
        *,
        rate: int = 16000,
        persistent: bool = True,
        timeout_s: float = 30.0,
        cache: SynthesisCache | None = None,
        cache_dir: str | Path | None = None,
        executor: Executor | None = None,
    ) -> None:
        if not _VOICE_NAME.match(voice):
            raise ValueError(f"not a Festival voice name: {voice!r}")
        missing = [tool for tool in ("festival", "text2wave") if shutil.which(tool) is None]
        if missing:
            raise EngineUnavailable(
                f"{', '.join(missing)} not found: install Debian festival festvox-ru"
                " (scripts/bootstrap.sh)"
            )
        super().__init__(
            voice=voice, rate=rate, cache=cache, cache_dir=cache_dir, executor=executor
        )
        self.persistent = persistent
        self.timeout_s = timeout_s
        self._process: _FestivalProcess | None = None
        self._lock = threading.Lock()

    def _load_sync(self) -> None:
        if self.persistent:
            with self._lock:
                self._ensure_process()

    def _ensure_process(self) -> _FestivalProcess:
        if self._process is None or not self._process.alive:
            if self._process is not None:
                self._process.close()
            self._process = _FestivalProcess(self.voice, self.timeout_s)
        return self._process

    def _synthesize_sync(self, text: str) -> Audio:
        clean = festival_text(text)
        if not clean:
            return Audio(b"", self.rate)
        if self.persistent:
            with self._lock:
                try:
                    wav = self._ensure_process().synthesize(clean)
                except SynthesisError:
                    # One retry in a fresh process; then the one-shot path decides.
                    if self._process is not None and self._process.alive:
                        raise
                    try:
                        wav = self._ensure_process().synthesize(clean)
                    except SynthesisError:
                        wav = self._text2wave(clean)
        else:
            wav = self._text2wave(clean)
        return Audio.from_wav_bytes(wav)

    def _text2wave(self, text: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="speech-text2wave-") as tmp:
            source = Path(tmp) / "in.txt"
            target = Path(tmp) / "out.wav"
            source.write_text(text + "\n", encoding="utf-8")
            try:
                done = subprocess.run(
                    ["text2wave", "-eval", f"(voice_{self.voice})", str(source), "-o", str(target)],
                    capture_output=True,
                    timeout=self.timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise SynthesisError(f"text2wave took longer than {self.timeout_s} s") from exc
            if not target.is_file() or target.stat().st_size <= 44:
                message = done.stderr.decode("utf-8", errors="replace").strip()[:300]
                raise SynthesisError(f"text2wave wrote no audio: {message}")
            return target.read_bytes()

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.close()
                self._process = None

    def __del__(self) -> None:
        process = getattr(self, "_process", None)
        if process is not None:
            process.close()
