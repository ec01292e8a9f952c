"""The ``journal:`` and ``recordings:`` sections: the call store and the call recordings.

Both hold personal data (numbers, names, what the caller said, the caller's voice): each can
be switched off (``journal.enabled: false``, ``journal.texts: false`` keeps the calls without
the words, ``recordings.enabled: false`` or ``recordings.dir: null`` records nothing), and
both are deleted after ``keep_days`` by the scheduled clean-up. Every key is in the README,
section «The call journal».
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


@dataclass(slots=True)
class JournalSettings:
    enabled: bool = True  # every call's events in the database (bot_calls, …)
    texts: bool = True  # what was said (the caller's words, the bot's replies); false: none
    keep_days: int | None = 365  # calls older than this are deleted by the clean-up; null: kept
    queue_size: int = 20000  # events waiting for the writer; more are dropped and counted
    batch_size: int = 500  # events written in one transaction at most
    flush_s: float = 0.5  # the writer waits at most this long to fill a batch
    timezone: str = ""  # the journal's days and hours; "" = the server's local time
    page_size: int = 50  # calls per journal page
    export_max_rows: int = 100_000  # an export holds at most this many calls
    cleanup_interval_s: float = 3600.0  # how often the clean-up runs (also once at start)

    def __post_init__(self) -> None:
        if self.keep_days is not None and self.keep_days < 1:
            raise ValueError("journal.keep_days must be at least 1 (or null: keep for ever)")
        if self.queue_size < 100 or self.batch_size < 1:
            raise ValueError("journal: queue_size >= 100 and batch_size >= 1")
        if self.flush_s <= 0 or self.cleanup_interval_s <= 0:
            raise ValueError("journal.flush_s and journal.cleanup_interval_s must be positive")
        if not 5 <= self.page_size <= 500:
            raise ValueError("journal.page_size must be between 5 and 500")
        if self.export_max_rows < 1:
            raise ValueError("journal.export_max_rows must be positive")
        if self.timezone:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"journal.timezone: unknown time zone {self.timezone!r}") from None


@dataclass(slots=True)
class RecordingSettings:
    enabled: bool = True  # each call as stereo Ogg/Opus: caller left, bot right
    dir: Path | None = Path("var/recordings")  # null: no recordings
    keep_days: int | None = 90  # recordings older than this are deleted; null: kept
    bitrate: int = 24000  # Opus bits per second for both channels (≈ 0.18 MB a minute)
    flush_s: float = 2.0  # an Ogg page reaches the disk at least this often (a crash keeps it)
    max_queued_s: float = 30.0  # audio waiting for the encoder; beyond it the call's recording
    #                              stops (a stuck disk never grows memory)

    def __post_init__(self) -> None:
        if self.keep_days is not None and self.keep_days < 1:
            raise ValueError("recordings.keep_days must be at least 1 (or null: keep for ever)")
        if not 6000 <= self.bitrate <= 256000:
            raise ValueError("recordings.bitrate must be between 6000 and 256000")
        if not 0.2 <= self.flush_s <= 60:
            raise ValueError("recordings.flush_s must be between 0.2 and 60 seconds")
        if self.max_queued_s < self.flush_s * 2:
            raise ValueError("recordings.max_queued_s must be at least twice flush_s")

    @property
    def active(self) -> bool:
        return self.enabled and self.dir is not None
