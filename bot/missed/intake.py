"""The missed-call intake: every source's report into the store, then to the listeners.

The sources (each in its own module) turn what their PBX says into two calls:

- :meth:`MissedCallIntake.missed` with a :class:`MissedReport` (a call nobody answered):
  the caller is normalised (:func:`nlu.phones.normalize_phone`: the last 10 digits, "" for a
  hidden or internal number), the row stored once per ``(intake, external_id)``
  (:meth:`~bot.missed.store.MissedCallStore.add`), then every listener is called with the
  stored :class:`~bot.missed.store.MissedCall` (the SMS and call-back parts subscribe);
- :meth:`MissedCallIntake.answered` (the same caller called again and was answered): their
  open missed calls become «Клиент позвонил сам».

Sources: ``intake_http`` (``POST /missed``: any PBX, an Asterisk ``h`` extension with
``CURL()``), ``intake_telphin`` (Telphin's call-event notifications), ``intake_ami`` (the
Asterisk manager's queue events), ``intake_bot`` (the bot's own transfers nobody took).

Listeners run in background tasks after the row is stored, so a slow SMS gateway never holds
a PBX's HTTP request or the AMI reader; a failing listener is logged (without the number)
and the missed call stays stored. :meth:`drain` waits for them (tests, shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar

from bot.missed.background import BackgroundTasks
from bot.missed.store import MissedCall, MissedCallStore
from nlu.phones import normalize_phone

log = logging.getLogger(__name__)

Listener = Callable[[MissedCall], Awaitable[None]]
CALLER_RAW_MAX = 64
RETRIES = (0.5, 1.0, 2.0, 4.0)  # seconds: a source that cannot resend (AMI, the bot) retries
QUICK_RETRIES = (0.1, 0.3, 0.6)  # an HTTP sender waits for the answer: a few quick tries
T = TypeVar("T")
HIDDEN = frozenset({"", "anonymous", "unknown", "<unknown>", "restricted", "private", "hidden"})


class IntakeError(ValueError):
    """A report that cannot be stored as it is (the HTTP endpoints answer 400 with it)."""


@dataclass(frozen=True, slots=True)
class MissedReport:
    """A call nobody answered, as a source saw it (numbers as the PBX wrote them)."""

    intake: str  # http | ami | telphin | bot
    external_id: str  # the PBX's id of the call: makes the report idempotent
    caller: str  # as sent ("" / "anonymous" = hidden)
    called: str = ""  # the number dialled
    source_kind: str = "number"  # number | queue | extension | bot
    source: str = ""  # the queue, the extension, the external number
    wait_s: float = 0.0  # how long the caller waited for an answer
    missed_at: datetime | None = None  # when the call was missed (the caller gave up); now
    call_id: str | None = None  # the bot's call id (bot handoffs)
    details: dict[str, Any] = field(default_factory=dict)


def normalize_caller(text: str, region: str = "RU") -> str:
    """The last 10 digits of a caller's number; "" when hidden, internal or no number."""
    raw = (text or "").strip()
    if raw.casefold() in HIDDEN:
        return ""
    return normalize_phone(raw, region or None) or ""


def normalize_called(text: str, region: str = "RU") -> str:
    """A dialled number as 10 digits when it is a phone number, else as sent (an extension,
    a Telphin ``3515*101``), stripped."""
    raw = (text or "").strip()
    return normalize_phone(raw, region or None) or raw


def parse_moment(value: str | float | int | None, zone: tzinfo) -> datetime | None:
    """A time a PBX sent: ISO 8601 (an offset, or none: ``zone``), ``YYYY-MM-DD HH:MM:SS``,
    Unix seconds, or Unix microseconds (Telphin's ``EventTime``). ``None`` for nothing;
    raises :class:`IntakeError` for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        if number > 1e14:  # microseconds since 1970
            number /= 1e6
        elif number > 1e11:  # milliseconds
            number /= 1e3
        if not 1e8 < number < 1e10:
            raise IntakeError("time is out of range")
        return datetime.fromtimestamp(number, UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise IntakeError("time is neither ISO 8601 nor Unix seconds") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def parse_wait(value: str | float | int | None) -> float:
    """Seconds of waiting (``42``, ``42.5``, ``00:00:42``); raises :class:`IntakeError`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0
    text = str(value).strip()
    try:
        if ":" in text:
            seconds = 0.0
            for part in text.split(":"):
                seconds = seconds * 60 + float(part)
        else:
            seconds = float(text)
    except ValueError:
        raise IntakeError("wait must be seconds (42, 42.5 or 00:00:42)") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= 7 * 24 * 3600:
        raise IntakeError("wait must be between 0 and a week")
    return seconds


class MissedCallIntake:
    def __init__(self, store: MissedCallStore, *, zone: tzinfo, region: str = "RU") -> None:
        self.store = store
        self.zone = zone
        self.region = region
        self._listeners: list[Listener] = []
        self._tasks = BackgroundTasks()
        self.stored = 0
        self.duplicates = 0
        self.listener_failures = 0

    def subscribe(self, listener: Listener) -> None:
        """``await listener(call)`` for every newly stored missed call."""
        self._listeners.append(listener)

    async def missed(
        self, report: MissedReport, *, retries: Sequence[float] = ()
    ) -> MissedCall | None:
        """Store the report; the stored call, or ``None`` when it was stored before.

        Raises :class:`IntakeError` for a report the store refuses (an unknown source kind,
        no id). A database error is tried again after each of ``retries`` seconds, then
        passes through (an HTTP sender gets 503 and may try again).
        """
        return await self._retrying(lambda: self._missed(report), retries, report.intake)

    @staticmethod
    async def _retrying(
        work: Callable[[], Awaitable[T]], retries: Sequence[float], intake: str
    ) -> T:
        for delay in retries:
            try:
                return await work()
            except IntakeError:
                raise
            except Exception as exc:  # a locked SQLite, a PostgreSQL fail-over...
                log.warning(
                    "missed call not stored yet, retrying",
                    extra={"intake": intake, "why": type(exc).__name__},
                )
                await asyncio.sleep(delay)
        return await work()

    async def _missed(self, report: MissedReport) -> MissedCall | None:
        caller = normalize_caller(report.caller, self.region)
        details = dict(report.details)
        raw = (report.caller or "").strip()
        if raw and not caller and raw.casefold() not in HIDDEN:
            details["caller_raw"] = raw[:CALLER_RAW_MAX]  # an internal number, say
        try:
            call = await self.store.add(
                missed_at=report.missed_at or datetime.now(UTC),
                caller=caller,
                called=normalize_called(report.called, self.region),
                source_kind=report.source_kind,
                source=report.source.strip(),
                wait_s=report.wait_s,
                intake=report.intake,
                external_id=report.external_id,
                call_id=report.call_id,
                details=details,
            )
        except ValueError as exc:
            raise IntakeError(str(exc)) from None
        if call is None:
            self.duplicates += 1
            log.info("missed call already stored", extra={"intake": report.intake})
            return None
        self.stored += 1
        log.info(
            "missed call stored",
            extra={"missed_id": call.id, "intake": call.intake, "source_kind": call.source_kind},
        )
        for listener in list(self._listeners):
            self._tasks.spawn(self._notify(listener, call), name="missed-listener")
        return call

    async def _notify(self, listener: Listener, call: MissedCall) -> None:
        try:
            await listener(call)
        except Exception:
            self.listener_failures += 1
            name = getattr(listener, "__qualname__", type(listener).__name__)
            log.exception(
                "a missed-call listener failed; the call stays stored",
                extra={"missed_id": call.id, "listener": name},
            )

    async def answered(
        self,
        caller: str,
        answered_at: datetime | None = None,
        detail: dict[str, Any] | None = None,
        *,
        retries: Sequence[float] = (),
    ) -> int:
        """The caller got through: their open missed calls become «Клиент позвонил сам»
        (a database error retried as in :meth:`missed`)."""
        number = normalize_caller(caller, self.region)
        if not number:
            return 0
        at = answered_at or datetime.now(UTC)
        by = str((detail or {}).get("by", "answered"))
        changed = await self._retrying(
            lambda: self.store.mark_client_called(number, at, detail), retries, by
        )
        if changed:
            log.info("missed calls closed: the client called", extra={"missed_calls": changed})
        return changed

    async def drain(self, timeout: float = 10.0) -> None:
        """Until the listeners of every call stored so far have finished."""
        await self._tasks.drain(timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        """Let running listeners finish for ``timeout`` seconds, then cancel the rest."""
        await self._tasks.stop(timeout)
