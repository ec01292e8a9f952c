"""Asterisk queue calls followed over AMI (:mod:`connectors.pbx.ami`) into missed calls.

The manager's queue events (``app_queue``, event class ``agent``) and ``Hangup`` (class
``call``), per caller channel (``Uniqueid``), for the queues in ``missed.ami.queues`` (all
when empty):

- ``QueueCallerJoin``: the caller entered the queue: followed (queue, number, the dialled
  extension ``Exten``, the time);
- ``AgentConnect``: a member answered: the caller got through (their open missed calls become
  «Клиент позвонил сам»), and this call is no missed call;
- ``QueueCallerAbandon``: the caller hung up while waiting: a missed call at once, the wait
  from ``HoldTime`` (seconds; Asterisk's generated docs call it a Unix time, the code sends
  the seconds waited: a value that looks like a Unix time is turned into seconds since then);
- ``QueueCallerLeave`` then ``Hangup`` with no ``AgentConnect``: the queue let the caller go
  (timeout, no members: ``${QUEUESTATUS}``) and nobody answered: a missed call at the
  hang-up, the wait up to the leave.

``external_id`` is the caller channel's ``Uniqueid``, so a replay stores nothing twice. The
event's ``Timestamp`` (``timestampevents = yes`` in ``manager.conf``) dates it, else the time
it arrived. Followed calls are bounded in number and age (``missed.max_tracked_calls``,
``missed.track_s``).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.missed.intake import RETRIES, IntakeError, MissedCallIntake, MissedReport, parse_moment
from connectors.pbx.ami import AmiClient

log = logging.getLogger(__name__)
UNIX_TIME = 1e9  # a HoldTime above this is a Unix time, not seconds


@dataclass(slots=True)
class _QueueCall:
    queue: str
    caller: str
    called: str
    joined: datetime
    seen: float  # monotonic, for the age limit
    left: datetime | None = None
    connected: bool = False
    reported: bool = False


class AmiFollower:
    """Subscribes to an :class:`AmiClient` and reports to a :class:`MissedCallIntake`."""

    def __init__(
        self,
        intake: MissedCallIntake,
        client: AmiClient,
        *,
        queues: Sequence[str] = (),
        max_calls: int = 10000,
        track_s: float = 6 * 3600.0,
    ) -> None:
        self.intake = intake
        self.client = client
        self.queues = {q.strip() for q in queues if q.strip()}
        self.max_calls = max_calls
        self.track_s = track_s
        self._calls: OrderedDict[str, _QueueCall] = OrderedDict()
        client.subscribe(self.on_event)

    @property
    def followed(self) -> int:
        return len(self._calls)

    def _forget_old(self) -> None:
        limit = time.monotonic() - self.track_s
        while self._calls:
            key, first = next(iter(self._calls.items()))
            if first.seen >= limit and len(self._calls) <= self.max_calls:
                break
            del self._calls[key]

    def _when(self, event: dict[str, str]) -> datetime:
        try:
            return parse_moment(event.get("Timestamp"), UTC) or datetime.now(UTC)
        except IntakeError:
            return datetime.now(UTC)

    async def on_event(self, event: dict[str, str]) -> None:
        name = event.get("Event", "")
        uniqueid = event.get("Uniqueid", "").strip()
        if not uniqueid:
            return
        if name == "Hangup":
            await self._hangup(uniqueid, event)
            return
        queue = event.get("Queue", "").strip()
        if not queue or (self.queues and queue not in self.queues):
            return
        at = self._when(event)
        call = self._calls.get(uniqueid)
        if name == "QueueCallerJoin":
            self._forget_old()
            exten = event.get("Exten", "").strip()
            called = exten if any(c.isdigit() for c in exten) else ""
            caller = event.get("CallerIDNum", "")
            self._calls[uniqueid] = _QueueCall(queue, caller, called, at, time.monotonic())
        elif name == "AgentConnect":
            if call is not None:
                call.connected = True
            caller = call.caller if call is not None else event.get("CallerIDNum", "")
            member = event.get("MemberName", "") or event.get("Interface", "")
            detail = {"by": "ami", "queue": queue, "member": member[:80]}
            try:
                await self.intake.answered(caller, at, detail, retries=RETRIES)
            except Exception:
                log.exception("ami: answered call not recorded", extra={"intake": "ami"})
        elif name == "QueueCallerAbandon":
            wait = self._hold_time(event.get("HoldTime", ""), at, call)
            await self._report(uniqueid, event, call, queue, wait, at, "abandon")
        elif name == "QueueCallerLeave" and call is not None:
            call.left = at

    @staticmethod
    def _hold_time(text: str, at: datetime, call: _QueueCall | None) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if value > UNIX_TIME:
            return max(0.0, at.timestamp() - value)
        if value >= 0:
            return value
        return max(0.0, (at - call.joined).total_seconds()) if call is not None else 0.0

    async def _hangup(self, uniqueid: str, event: dict[str, str]) -> None:
        call = self._calls.pop(uniqueid, None)
        if call is None or call.connected or call.reported:
            return
        at = self._when(event)
        left = call.left or at
        wait = max(0.0, (left - call.joined).total_seconds())
        await self._report(uniqueid, event, call, call.queue, wait, at, "left")

    async def _report(
        self,
        uniqueid: str,
        event: dict[str, str],
        call: _QueueCall | None,
        queue: str,
        wait: float,
        at: datetime,
        how: str,
    ) -> None:
        if call is not None:
            call.reported = True
        caller = call.caller if call is not None else event.get("CallerIDNum", "")
        exten = event.get("Exten", "").strip()
        called = call.called if call is not None else exten if exten[:1].isdigit() else ""
        details: dict[str, object] = {"how": how}
        if event.get("Linkedid"):
            details["linkedid"] = event["Linkedid"][:64]
        if how == "left" and event.get("Cause-txt"):
            details["cause"] = event["Cause-txt"][:64]
        report = MissedReport(
            intake="ami",
            external_id=uniqueid,
            caller=caller,
            called=called,
            source_kind="queue",
            source=queue,
            wait_s=wait,
            missed_at=at,
            details=details,
        )
        try:
            await self.intake.missed(report, retries=RETRIES)
        except Exception:  # the database: logged; the event is gone (the AMI does not replay)
            log.exception("ami: missed call not stored", extra={"intake": "ami"})
