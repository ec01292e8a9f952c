"""Where each side's frames land in the stereo recording (a fake clock), and the file on disk
while the call still runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.journal.recorder import CallRecorder, Recordings
from bot.journal.settings import RecordingSettings
from speech.audio import Audio
from tests.bot.journal.test_journal_ogg import decode

RATE = 8000
FRAME = 160


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frame(value: int) -> Audio:
    return Audio(np.full(FRAME, value, dtype="<i2").tobytes(), RATE)


def voice(amplitude: int) -> Audio:
    """20 ms of a 400 Hz tone (Opus drops a constant level: the files need a sound)."""
    t = np.arange(FRAME) / RATE
    return Audio((np.sin(2 * np.pi * 400 * t) * amplitude).astype("<i2").tobytes(), RATE)


def recorder(tmp_path: Path, clock: Clock, flush_s: float = 60.0) -> CallRecorder:
    settings = RecordingSettings(dir=tmp_path, flush_s=flush_s, max_queued_s=max(30, 3 * flush_s))
    recordings = Recordings(settings)
    rec = recordings.start("call-1", RATE)
    rec.clock = clock
    rec.started = rec._last_flush = clock.now
    return rec


def windows(rec: CallRecorder) -> tuple[np.ndarray, np.ndarray]:
    left = np.frombuffer(bytes(rec._caller.data), dtype="<i2")
    right = np.frombuffer(bytes(rec._bot.data), dtype="<i2")
    return left, right


def test_caller_frames_follow_each_other_and_a_silent_line_is_filled(tmp_path: Path) -> None:
    clock = Clock()
    rec = recorder(tmp_path, clock)
    for _ in range(10):  # 0.2 s in real time, with a little jitter
        rec.caller(frame(1000))
        clock.now += 0.021
    assert rec.caller_at == 10 * FRAME, "jitter below the slack does not move frames"
    clock.now += 1.0  # the line sends nothing for a second
    rec.caller(frame(2000))
    left, _ = windows(rec)
    assert left[: 10 * FRAME].min() == 1000
    jumped = int((clock.now - 100.0) * RATE)
    assert left[10 * FRAME : jumped].max() == 0 and left[jumped] == 2000


def test_a_bot_phrase_starts_at_the_call_time_and_stays_whole(tmp_path: Path) -> None:
    clock = Clock()
    rec = recorder(tmp_path, clock)
    for _ in range(25):  # half a second of the caller
        rec.caller(frame(500))
        clock.now += 0.02
    for i in range(20):  # the bot's phrase; the loop stalls 0.1 s once
        rec.bot(frame(3000))
        clock.now += 0.12 if i == 10 else 0.02
    _, right = windows(rec)
    start = 25 * FRAME
    assert right[:start].max() == 0
    assert right[start : start + 20 * FRAME].min() == 3000, "no hole inside the phrase"


def test_a_fast_caller_leads_the_clock(tmp_path: Path) -> None:
    """A simulated call sends faster than real time: the bot answers at the caller's time."""
    clock = Clock()
    rec = recorder(tmp_path, clock)
    for _ in range(100):  # 2 s of caller audio in no time at all
        rec.caller(frame(700))
    rec.bot(frame(3000))
    _, right = windows(rec)
    assert right[: 100 * FRAME].max() == 0 and right[100 * FRAME] == 3000


async def test_the_file_grows_while_the_call_runs_and_closes_exact(tmp_path: Path) -> None:
    clock = Clock()
    rec = recorder(tmp_path, clock, flush_s=0.5)
    for i in range(150):  # 3 s: caller loud all along, the bot in the second half
        rec.caller(voice(6000))
        if i >= 75:
            rec.bot(voice(3000))
        clock.now += 0.02
    # the encoder thread has had pages since the first flush
    await _until(lambda: rec.path.exists() and rec.path.stat().st_size > 3000)
    partial, _ = decode(rec.path)
    assert partial.shape[1] / 48000 > 1.5, "a crash now would keep most of the call"
    info = await rec.close()
    assert info is not None and info.complete and info.bytes == rec.path.stat().st_size
    assert abs(info.seconds - 3.0) < 0.03
    data, duration = decode(rec.path)
    assert duration is not None and abs(duration - 3.0) < 0.05
    half = data.shape[1] // 2
    assert np.abs(data[1, : half - 2400]).mean() < 0.005, "the bot was quiet at first"
    assert np.abs(data[1, half + 2400 :]).mean() > 0.02
    assert np.abs(data[0]).mean() > 3 * np.abs(data[1]).mean()
    rec.recordings.close()


async def test_a_stuck_encoder_stops_the_recording_not_the_call(tmp_path: Path) -> None:
    clock = Clock()
    rec = recorder(tmp_path, clock, flush_s=0.5)
    rec.recordings.settings.max_queued_s = 1.0
    rec._queued = 10**9  # as if the disk had not taken anything for a long time
    for _ in range(100):
        rec.caller(frame(6000))
        clock.now += 0.02
    assert rec.stopped == "backlog"
    rec.caller(frame(6000))  # still fine to call
    rec.recordings.close()


async def _until(check: object, timeout: float = 5.0) -> None:
    import asyncio

    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.02)
