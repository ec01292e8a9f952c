"""``POST /missed[/<secret>]``: a missed (or answered) call reported by any PBX over HTTP.

The fields come as a urlencoded form (what Asterisk's ``CURL(url,data)`` posts) or a JSON
object, and also in the query string (a PBX that cannot send a body puts them in the URL):

- ``id`` (required): the PBX's id of the call (Asterisk ``${UNIQUEID}``); a repeat is
  stored once;
- ``caller`` (required, may be empty): the caller's number as the PBX has it ("" = hidden);
- ``called``: the number dialled (the DID);
- one of ``queue`` / ``extension`` / ``number``: where it was missed (none: ``number``,
  the called number);
- ``wait``: seconds the caller waited (``42``, ``42.5``, ``00:00:42``);
- ``time``: when it was missed, ISO 8601 or Unix seconds (no offset: ``missed.timezone``);
  default now;
- ``event``: ``missed`` (default) or ``answered`` (the caller got through: their open
  missed calls become «Клиент позвонил сам»);
- ``member``: Asterisk ``${MEMBERINTERFACE}``; not empty means a queue member answered
  (``event`` then defaults to ``answered``);
- ``status``: Asterisk ``${QUEUESTATUS}`` / ``${DIALSTATUS}``, kept in the row's details.

Answers: ``200 {"ok": true, "id": 12, "duplicate": false}`` (``"marked": 2`` for
``answered``); ``400`` with an English message for bad input; ``413`` for a body over
``missed.max_body_bytes``; ``503`` when the database cannot store it (try again). The secret
(last path segment or ``X-Bot-Secret``) and the allow-list are the edge's (:mod:`bot.edge`).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.missed.intake import (
    QUICK_RETRIES,
    IntakeError,
    MissedCallIntake,
    MissedReport,
    parse_moment,
    parse_wait,
)

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FIELD_MAX = 200  # characters in one field
FIELDS_MAX = 64
SOURCE_FIELDS = ("queue", "extension", "number")


class FieldsError(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_fields(request: web.Request, max_body: int) -> dict[str, str]:
    """The request's fields: the query string, then the body (form or JSON object)."""
    fields: dict[str, str] = dict(request.query.items())
    if request.content_length is not None and request.content_length > max_body:
        raise FieldsError(f"request body is larger than {max_body} bytes", 413)
    body = await request.read() if request.body_exists else b""
    if len(body) > max_body:
        raise FieldsError(f"request body is larger than {max_body} bytes", 413)
    if body.strip():
        ctype = request.content_type
        if ctype == "application/json" or ctype.endswith("+json") or body.lstrip()[:1] == b"{":
            fields.update(_json_fields(body))
        elif ctype in ("application/x-www-form-urlencoded", "text/plain", ""):
            fields.update(_form_fields(body, request.charset or "utf-8"))
        else:
            raise FieldsError(
                f"unsupported Content-Type {ctype[:60]!r}: send a urlencoded form or JSON", 415
            )
    if len(fields) > FIELDS_MAX:
        raise FieldsError(f"more than {FIELDS_MAX} fields")
    for key, value in fields.items():
        if len(value) > FIELD_MAX or not value.isprintable():
            raise FieldsError(f"field {key[:40]!r} is too long or holds control characters")
    return fields


def _form_fields(body: bytes, charset: str) -> dict[str, str]:
    try:
        text = body.decode(charset)
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding=charset, errors="strict"
        )
    except (UnicodeDecodeError, LookupError, ValueError):
        raise FieldsError("request body is not a valid urlencoded form") from None
    return dict(pairs)


def _json_fields(body: bytes) -> dict[str, str]:
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FieldsError("request body is not valid UTF-8 JSON") from None
    except RecursionError:
        raise FieldsError("request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise FieldsError("JSON body must be an object")
    fields: dict[str, str] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool):
            fields[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            fields[key] = str(value)
        else:
            raise FieldsError(f"JSON field {key[:40]!r} must be a string or a number")
    return fields


def report_from(fields: dict[str, str], intake: MissedCallIntake) -> tuple[str, MissedReport]:
    """``(event, report)`` from the endpoint's fields; raises :class:`IntakeError`."""
    external_id = fields.get("id", "").strip()
    if not external_id:
        raise IntakeError("missing required field id (the PBX's call id)")
    if "caller" not in fields:
        raise IntakeError("missing required field caller (empty for a hidden number)")
    member = fields.get("member", "").strip()
    event = fields.get("event", "").strip().lower() or ("answered" if member else "missed")
    if event not in ("missed", "answered"):
        raise IntakeError("event must be missed or answered")
    given = [name for name in SOURCE_FIELDS if fields.get(name, "").strip()]
    if len(given) > 1:
        raise IntakeError("give one of queue, extension or number, not several")
    kind = given[0] if given else "number"
    source = fields.get(kind, "").strip() if given else fields.get("called", "").strip()
    details = {"status": fields["status"].strip()} if fields.get("status", "").strip() else {}
    if member:
        details["member"] = member
    report = MissedReport(
        intake="http",
        external_id=external_id,
        caller=fields["caller"],
        called=fields.get("called", ""),
        source_kind=kind,
        source=source,
        wait_s=parse_wait(fields.get("wait")),
        missed_at=parse_moment(fields.get("time"), intake.zone),
        details=details,
    )
    return event, report


def missed_handler(intake: MissedCallIntake, max_body: int) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            fields = await read_fields(request, max_body)
            event, report = report_from(fields, intake)
        except FieldsError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
        except IntakeError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        try:
            if event == "answered":
                detail = {"by": "http", **report.details}
                marked = await intake.answered(
                    report.caller, report.missed_at, detail, retries=QUICK_RETRIES
                )
                return web.json_response({"ok": True, "marked": marked})
            call = await intake.missed(report, retries=QUICK_RETRIES)
        except IntakeError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        except Exception:
            log.exception("missed call not stored: database error", extra={"intake": "http"})
            body = {"ok": False, "error": "the database is not available, try again"}
            return web.json_response(body, status=503)
        if call is None:
            return web.json_response({"ok": True, "id": None, "duplicate": True})
        return web.json_response({"ok": True, "id": call.id, "duplicate": False})

    return handle
