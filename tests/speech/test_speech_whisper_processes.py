"""Whisper decoding in worker processes (``WhisperRecognizer(processes=N)``): the same
transcripts as in the bot's process, in other processes, and a dead worker costs one
recognition, not the recognizer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from speech.asr import Hints
from speech.asr_whisper import WhisperRecognizer
from speech.audio import Audio
from speech.errors import EngineUnavailable
from speech.whisper_processes import WhisperProcesses, shared_processes
from tests.speech.conftest import ROOT, WHISPER_DIR, need


@pytest.fixture(scope="module")
def in_processes() -> Iterator[WhisperRecognizer]:
    need((WHISPER_DIR / "model.bin").is_file(), "no models/whisper-base: run prepare_models.py")
    recognizer = WhisperRecognizer(WHISPER_DIR, processes=2, beam_sizes={"article": 5})
    recognizer.transcribe_sync(Audio.silence(0.3))  # starts both processes
    yield recognizer
    assert recognizer._processes is not None
    recognizer._processes.close()


def test_processes_are_started_and_shared(in_processes: WhisperRecognizer) -> None:
    workers = in_processes._processes
    assert workers is not None
    pids = workers.pids()
    assert len(pids) == 2 and os.getpid() not in pids
    twin = WhisperRecognizer(WHISPER_DIR, processes=2, beam_sizes={"article": 5})
    twin._load_sync()
    assert twin._processes is workers  # one pool per process and settings, like the model
    assert WhisperProcesses.__name__ and shared_processes(twin._settings(), 2) is workers


async def test_the_same_transcripts_as_in_this_process(
    in_processes: WhisperRecognizer, say: Callable[..., Audio]
) -> None:
    here = WhisperRecognizer(WHISPER_DIR, beam_sizes={"article": 5})
    audio = say("артикул сто двадцать три", 8000)
    remote, local = await asyncio.gather(
        in_processes.transcribe(audio, Hints("article")),
        here.transcribe(audio, Hints("article")),
    )
    assert remote.text == local.text
    heard = [t.replace(", ", "").replace("-", "") for t in (remote.text, *remote.alternatives)]
    assert any("123" in t for t in heard)
    assert remote.alternatives == local.alternatives  # the beam's n-best came back too
    assert remote.confidence == pytest.approx(local.confidence, abs=1e-4)
    yes = await in_processes.transcribe(say("да"), Hints("yes_no"))
    assert yes.text.strip(" .").lower() == "да"


async def test_a_dead_worker_fails_one_recognition_then_a_new_pool_serves(
    in_processes: WhisperRecognizer, say: Callable[..., Audio]
) -> None:
    workers = in_processes._processes
    assert workers is not None
    before = workers.pids()
    os.kill(before[0], signal.SIGKILL)
    await asyncio.sleep(0.5)
    with pytest.raises(EngineUnavailable, match="died"):
        await in_processes.transcribe(say("да"), Hints("yes_no"))
    again = await in_processes.transcribe(say("нет"), Hints("yes_no"))
    assert again.text.strip(" .").lower().startswith("нет")
    after = workers.pids()
    assert len(after) == 2 and not set(after) & set(before)


async def test_a_worker_that_does_not_answer_frees_the_speech_thread(
    in_processes: WhisperRecognizer, say: Callable[..., Audio], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("speech.whisper_processes.DECODE_TIMEOUT_S", 0.001)
    with pytest.raises(EngineUnavailable, match="no answer within"):
        await in_processes.transcribe(say("артикул сто двадцать три"), Hints("article"))
    monkeypatch.undo()
    yes = await in_processes.transcribe(say("да"), Hints("yes_no"))
    assert yes.text.strip(" .").lower() == "да"


def test_processes_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="processes"):
        WhisperRecognizer(WHISPER_DIR, processes=-1)
    with pytest.raises(ValueError, match="at least 1"):
        WhisperProcesses({}, 0)


def test_workers_end_when_the_bot_process_is_killed() -> None:
    need((WHISPER_DIR / "model.bin").is_file(), "no models/whisper-base: run prepare_models.py")
    script = (
        "from speech.asr_whisper import WhisperRecognizer\n"
        f"r = WhisperRecognizer({str(WHISPER_DIR)!r}, processes=1)\n"
        "r._load_sync()\n"
        "assert r._processes is not None\n"
        "print(r._processes.pids()[0], flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    bot = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=ROOT, text=True
    )
    try:
        assert bot.stdout is not None
        worker = int(bot.stdout.readline())
        assert _alive(worker)
        bot.kill()  # kill -9: no exit handler runs in the bot's process
        bot.wait(10)
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the worker outlived the bot's process"
    finally:
        bot.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
