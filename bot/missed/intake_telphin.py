"""``/missed/telphin[/<secret>]``: Telphin's call-event notifications into missed calls.

Telphin (ВАТС «Телфин.Офис») sends an HTTP request for each event of an extension whose
«События» tab names our URL (one URL for all four events; GET with the fields in the query
string or POST with a urlencoded form, as configured there). The format, as Telphin's
documentation describes it (quoted in full in the SalesMan CRM handler, see
``docs/missed/intake.md``): form fields

- ``EventType``: ``dial-in`` | ``dial-out`` | ``answer`` | ``hangup``;
- ``CallID`` (the same for the whole call, across transfers), ``SubCallID`` (one part of it,
  e.g. one ring of one queue), ``CallAPIID``;
- ``CallerIDNum``, ``CallerIDName``, ``CalledDID`` (the public number dialled),
  ``CalledExtension`` (``3515*101@sipproxy.telphin.ru``), ``CalledNumber``;
- ``CallStatus``: ``CALLING`` (dial-in/out), ``ANSWER`` (answer), and for ``hangup``:
  ``ANSWER``, ``BUSY``, ``NOANSWER``, ``CANCEL`` (the caller gave up), ``CONGESTION``,
  ``CHANUNAVAIL``;
- ``CallFlow``: ``in`` | ``out``; ``Bridged``: ``yes`` | ``no`` on events of queues and IVRs
  (answered after entering it or not);
- ``EventTime``: microseconds since 1970; ``Duration`` (hangup): the talk in microseconds.

What we make of it (inbound calls only, ``CallFlow: in``):

- ``dial-in``: the call is followed (its time and caller remembered, bounded in number and
  age);
- ``answer``, or ``hangup`` with ``Bridged: yes`` / ``CallStatus: ANSWER``: the caller got
  through, their open missed calls become «Клиент позвонил сам»;
- ``hangup`` with ``Bridged: no`` or another status: a missed call. Source: ``queue`` when
  the event has ``Bridged`` (a queue or IVR), else ``extension``; the source is the
  extension's short name (``3515*200``). Wait: hangup ``EventTime`` − dial-in ``EventTime``
  (0 when the dial-in was not seen). ``external_id``: ``CallID/SubCallID``.

``missed.telphin_extensions`` limits this to some extensions (short names); empty: all.
Answers: 200 ``{"ok": true, ...}``, 400 for a broken event (an English message).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from bot.missed.intake import (
    QUICK_RETRIES,
    IntakeError,
    MissedCallIntake,
    MissedReport,
    parse_moment,
)
from bot.missed.intake_http import FieldsError, read_fields

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
EVENT_TYPES = frozenset({"dial-in", "dial-out", "answer", "hangup"})
ANSWERED = "ANSWER"


@dataclass(slots=True)
class _Followed:
    caller: str
    started: datetime | None
    seen: float  # monotonic, for the age limit
    answered: bool = False


def short_extension(extension: str) -> str:
    """``3515*101@sipproxy.telphin.ru`` ➜ ``3515*101``."""
    return extension.strip().partition("@")[0]


class TelphinEvents:
    """Telphin's call events ➜ :class:`MissedCallIntake` (state: the calls being followed)."""

    def __init__(
        self,
        intake: MissedCallIntake,
        *,
        extensions: Sequence[str] = (),
        max_calls: int = 10000,
        track_s: float = 6 * 3600.0,
    ) -> None:
        self.intake = intake
        self.extensions = {short_extension(e) for e in extensions if e.strip()}
        self.max_calls = max_calls
        self.track_s = track_s
        self._calls: OrderedDict[str, _Followed] = OrderedDict()

    def _key(self, fields: dict[str, str]) -> str:
        call_id = fields["CallID"]
        sub = fields.get("SubCallID", "").strip()
        return f"{call_id}/{sub}" if sub else call_id

    def _forget_old(self) -> None:
        limit = time.monotonic() - self.track_s
        while self._calls:
            key, first = next(iter(self._calls.items()))
            if first.seen >= limit and len(self._calls) <= self.max_calls:
                break
            del self._calls[key]

    async def handle(self, fields: dict[str, str]) -> dict[str, object]:
        """One event; the JSON answer. Raises :class:`IntakeError` for a broken event."""
        event_type = fields.get("EventType", "").strip().lower()
        if event_type not in EVENT_TYPES:
            raise IntakeError("EventType must be dial-in, dial-out, answer or hangup")
        call_id = fields.get("CallID", "").strip()
        if not call_id:
            raise IntakeError("missing required field CallID")
        fields = {**fields, "CallID": call_id}
        if fields.get("CallFlow", "in").strip().lower() != "in":
            return {"ok": True, "ignored": "outbound call"}
        extension = short_extension(fields.get("CalledExtension", ""))
        if self.extensions and extension not in self.extensions:
            return {"ok": True, "ignored": "extension not followed"}
        at = parse_moment(fields.get("EventTime"), self.intake.zone) or datetime.now(UTC)
        key = self._key(fields)
        self._forget_old()
        followed = self._calls.get(key)
        if event_type == "dial-in" or event_type == "dial-out":
            if followed is None:
                caller = fields.get("CallerIDNum", "")
                self._calls[key] = _Followed(caller, at, time.monotonic())
            return {"ok": True}
        caller = followed.caller if followed is not None else self._caller_of(fields)
        bridged = fields.get("Bridged", "").strip().lower()
        status = fields.get("CallStatus", "").strip().upper()
        if event_type == "answer" or bridged == "yes" or (not bridged and status == ANSWERED):
            if event_type == "hangup":
                self._calls.pop(key, None)
            if followed is not None and followed.answered:
                return {"ok": True, "marked": 0}
            if followed is not None:
                followed.answered = True
            detail = {"by": "telphin", "extension": extension}
            marked = await self.intake.answered(caller, at, detail, retries=QUICK_RETRIES)
            return {"ok": True, "marked": marked}
        # a hang-up nobody answered
        self._calls.pop(key, None)
        if followed is not None and followed.answered:
            return {"ok": True, "marked": 0}
        wait = 0.0
        if followed is not None and followed.started is not None:
            wait = max(0.0, (at - followed.started).total_seconds())
        report = MissedReport(
            intake="telphin",
            external_id=key,
            caller=caller,
            called=fields.get("CalledDID", "").strip() or fields.get("CalledNumber", ""),
            source_kind="queue" if bridged else "extension",
            source=extension,
            wait_s=wait,
            missed_at=at,
            details={
                "status": status,
                "wait_known": followed is not None,
                "call_api_id": fields.get("CallAPIID", "")[:200],
            },
        )
        call = await self.intake.missed(report, retries=QUICK_RETRIES)
        return {"ok": True, "id": call.id if call else None, "duplicate": call is None}

    @staticmethod
    def _caller_of(fields: dict[str, str]) -> str:
        # in an ``answer`` event CallerIDNum may be the answering extension ("101") and
        # CallerIDName the caller's number (Telphin's own example)
        number = fields.get("CallerIDNum", "")
        name = fields.get("CallerIDName", "")
        if sum(c.isdigit() for c in number) < 10 and sum(c.isdigit() for c in name) >= 10:
            return name
        return number


def telphin_events_handler(events: TelphinEvents, max_body: int) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            fields = await read_fields(request, max_body)
            answer = await events.handle(fields)
        except FieldsError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
        except IntakeError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        except Exception:
            log.exception("telphin event not handled: database error", extra={"intake": "telphin"})
            body = {"ok": False, "error": "the database is not available, try again"}
            return web.json_response(body, status=503)
        return web.json_response(answer)

    return handle
