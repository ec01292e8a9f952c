"""Voice messages left on call-backs (the manual's «Голосовые сообщения»): the recording of
the client's message and the ``voice_messages`` table (migration 0007).

:class:`VoicemailRecorder` records one message on a call-back leg: the bot's greeting and a
beep, then the client's voice until they hang up, fall silent for ``silence_s`` after
speaking (or never speak for that long), or ``max_s`` passes. The file is a stereo Ogg/Opus
recording like the call recordings (:mod:`bot.journal.recorder`: client left, bot right) in
``callbacks.voicemail_dir``, ``YYYY/MM/DD/HHMMSS-<call>-<random>.opus``.

:class:`VoiceMessages` stores and lists them for the console:
:meth:`VoiceMessages.list_voice_messages` (a period and a fragment of the number, newest
first), :meth:`~VoiceMessages.count`, :meth:`~VoiceMessages.get` and
:meth:`~VoiceMessages.path_of` (the file, only inside the folder) for the player and the
download; :meth:`~VoiceMessages.delete_older_than` is the clean-up
(``callbacks.voicemail_keep_days``: voice messages are personal data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.journal.recorder import CallRecorder, RecordingInfo, Recordings
from bot.journal.settings import RecordingSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import parse_time, utc, utc_text, voice_messages
from speech.audio import Audio, tone

log = logging.getLogger(__name__)
VOICE_RMS = 300.0  # a 20 ms frame louder than this is speech (int16 RMS)
LIST_MAX = 1000


@dataclass(frozen=True, slots=True)
class VoiceMessage:
    id: int
    recorded_at: datetime  # aware, UTC
    caller: str
    called: str
    missed_id: int | None
    job_id: int | None
    rule: str
    call_id: str
    recording: str  # relative to callbacks.voicemail_dir
    recording_bytes: int
    seconds: float


def _message(row: Any) -> VoiceMessage:
    return VoiceMessage(
        id=int(row.id),
        recorded_at=parse_time(row.recorded_at),
        caller=row.caller or "",
        called=row.called or "",
        missed_id=row.missed_id,
        job_id=row.job_id,
        rule=row.rule or "",
        call_id=row.call_id or "",
        recording=row.recording,
        recording_bytes=int(row.recording_bytes or 0),
        seconds=float(row.seconds or 0.0),
    )


class VoiceMessages:
    """The ``voice_messages`` rows and their files."""

    def __init__(self, db: ShopDatabase, folder: Path) -> None:
        self.db = db
        self.folder = Path(folder)

    async def add(
        self,
        info: RecordingInfo,
        *,
        caller: str,
        called: str = "",
        missed_id: int | None = None,
        job_id: int | None = None,
        rule: str = "",
        call_id: str = "",
        recorded_at: datetime | None = None,
    ) -> VoiceMessage:
        values = {
            "recorded_at": utc_text(recorded_at or utc()),
            "caller": caller[:32],
            "called": called[:64],
            "missed_id": missed_id,
            "job_id": job_id,
            "rule": rule[:80],
            "call_id": call_id[:200],
            "recording": info.relative,
            "recording_bytes": info.bytes,
            "seconds": round(info.seconds, 2),
        }

        def _add(conn: sa.Connection) -> VoiceMessage:
            inserted = conn.execute(voice_messages.insert().values(**values)).inserted_primary_key
            assert inserted is not None
            row = conn.execute(
                sa.select(voice_messages).where(voice_messages.c.id == inserted[0])
            ).one()
            return _message(row)

        return await self.db.write(_add)

    def _where(
        self, period_from: datetime | None, period_to: datetime | None, fragment: str | None
    ) -> list[sa.ColumnElement[bool]]:
        table = voice_messages
        where: list[sa.ColumnElement[bool]] = []
        if period_from is not None:
            where.append(table.c.recorded_at >= utc_text(period_from))
        if period_to is not None:
            where.append(table.c.recorded_at < utc_text(period_to))
        digits = "".join(ch for ch in fragment or "" if ch.isdigit())
        if digits:
            pattern = f"%{digits}%"
            where.append(sa.or_(table.c.caller.like(pattern), table.c.called.like(pattern)))
        return where

    async def list_voice_messages(
        self,
        period_from: datetime | None = None,
        period_to: datetime | None = None,
        number_fragment: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[VoiceMessage]:
        """Messages recorded in ``period_from`` ≤ t < ``period_to`` whose caller (or the number
        they had dialled) contains the digits of ``number_fragment``; newest first."""
        where = self._where(period_from, period_to, number_fragment)
        limit = max(0, min(int(limit), LIST_MAX))
        table = voice_messages

        def _list(conn: sa.Connection) -> list[VoiceMessage]:
            stmt = (
                sa.select(table)
                .where(*where)
                .order_by(table.c.recorded_at.desc(), table.c.id.desc())
                .limit(limit)
                .offset(max(0, int(offset)))
            )
            return [_message(r) for r in conn.execute(stmt)]

        return await self.db.read(_list)

    async def count(
        self,
        period_from: datetime | None = None,
        period_to: datetime | None = None,
        number_fragment: str | None = None,
    ) -> int:
        where = self._where(period_from, period_to, number_fragment)

        def _count(conn: sa.Connection) -> int:
            stmt = sa.select(sa.func.count()).select_from(voice_messages).where(*where)
            return int(conn.execute(stmt).scalar_one())

        return await self.db.read(_count)

    async def get(self, message_id: int) -> VoiceMessage | None:
        def _get(conn: sa.Connection) -> VoiceMessage | None:
            row = conn.execute(
                sa.select(voice_messages).where(voice_messages.c.id == int(message_id))
            ).first()
            return None if row is None else _message(row)

        return await self.db.read(_get)

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Delete the messages recorded before ``cutoff`` and their files; how many."""
        table = voice_messages

        def _old(conn: sa.Connection) -> list[VoiceMessage]:
            rows = conn.execute(
                sa.select(table).where(table.c.recorded_at < utc_text(cutoff)).limit(LIST_MAX)
            )
            return [_message(r) for r in rows]

        old = await self.db.read(_old)
        for message in old:
            path = self.path_of(message)
            if path is not None:
                await asyncio.to_thread(path.unlink, missing_ok=True)
        ids = [m.id for m in old]

        def _delete(conn: sa.Connection) -> int:
            if not ids:
                return 0
            result = conn.execute(table.delete().where(table.c.id.in_(ids)))
            return int(result.rowcount or 0)

        return await self.db.write(_delete)

    def path_of(self, message: VoiceMessage) -> Path | None:
        """The message's file, only if it lies inside the folder (and exists)."""
        path = (self.folder / message.recording).resolve()
        root = self.folder.resolve()
        if root not in path.parents or path.suffix != ".opus" or not path.is_file():
            return None
        return path


class VoicemailRecorder:
    """Records messages into ``folder`` (one encoder thread, like the call recordings)."""

    def __init__(self, folder: Path, *, max_s: float = 120.0, silence_s: float = 6.0) -> None:
        self.recordings = Recordings(RecordingSettings(dir=Path(folder)))
        self.max_s = max_s
        self.silence_s = silence_s
        self.beep = tone(1000.0, 0.35, rate=8000, amplitude=0.3)

    def start(self, call_id: str, rate: int) -> VoicemailTake:
        return VoicemailTake(self, self.recordings.start(call_id, rate))

    def close(self) -> None:
        self.recordings.close()


class VoicemailTake:
    """One message being recorded: feed it the client's frames, then :meth:`wait`."""

    def __init__(self, owner: VoicemailRecorder, recorder: CallRecorder) -> None:
        self.owner = owner
        self.recorder = recorder
        self.voiced = False
        self.heard_s = 0.0
        self._quiet_s = 0.0
        self._done = asyncio.Event()

    def bot(self, audio: Audio) -> None:
        self.recorder.bot(audio)

    def caller(self, audio: Audio) -> None:
        if self._done.is_set():
            return
        self.recorder.caller(audio)
        self.heard_s += audio.duration
        if audio.rms() > VOICE_RMS:
            self.voiced = True
            self._quiet_s = 0.0
        else:
            self._quiet_s += audio.duration
        if self._quiet_s >= self.owner.silence_s or self.heard_s >= self.owner.max_s:
            self._done.set()

    def hung_up(self) -> None:
        self._done.set()

    async def wait(self) -> RecordingInfo | None:
        """Until the message is over; the file (None if nothing was recorded)."""
        # the line may go quiet with no RTP at all: what there is, is the message
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.owner.max_s + 5):
                await self._done.wait()
        info = await self.recorder.close()
        if info is None or info.seconds <= 0:
            return None
        return info
