"""Telphin (ВАТС Телфин.Офис) «Call Interactive» handler: HTTP request in, XML commands out.

When a call reaches a Call Interactive option of an IVR, the PBX sends one HTTP request
(GET: parameters in the query string; POST: parameters in the body) with the call's data
(``CallID``, ``CallerIDNum``, ``CallerIDName``, ``CalledDID``, ``CalledExtension``, …) and
executes the commands of the XML document it gets back::

    <?xml version="1.0" encoding="UTF-8"?>
    <Response>
      <SetCaller name="Иван 2(3)" number="+74953730763"/>
      <SetVar name="greeting">1</SetVar>
      <PlaySound where="foreground">hello.wav</PlaySound>
      <Hangup/>
    </Response>

See ``docs/telphin.md`` for the specification, its sources and what is assumed here.
:func:`telphin_handler` wraps a ``decide(request) -> reply`` coroutine: it parses the
request (400 on a broken one), gives ``decide`` the time left before the PBX's limit and
answers a fixed fallback reply on timeout or error, so the PBX never waits past its limit.
Phone numbers and names never appear in log message text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, cast

from aiohttp import web

log = logging.getLogger(__name__)

EVENT_TYPE = "call_interactive"
DEFAULT_TIME_LIMIT = 5.0  # seconds; ASSUMED, the spec names no limit (see docs/telphin.md)
DEFAULT_MARGIN = 0.5  # seconds kept for rendering and the network
DEFAULT_MAX_BODY = 16 * 1024  # bytes; a real request is well under 1 KiB
DEFAULT_TRANSFER_VARIABLE = "transferDestination"  # the variable name of the spec's example
UNKNOWN_CALLER_NAME = "UNKNOWN USER"
IDENTIFIERS = ("CallID", "CallerIDNum", "CalledDID", "CalledExtension")
XML_CONTENT_TYPE = "application/xml"

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Characters XML 1.0 cannot carry at all (escaping does not help): C0 controls but tab,
# newline and carriage return, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")


class TelphinRequestError(ValueError):
    """The PBX's request is unusable; the handler answers 400 with this message."""


@dataclass(frozen=True)
class TelphinRequest:
    """One Call Interactive request. Personal data (caller, names) is left out of ``repr``."""

    call_id: str  # CallID
    caller: str = field(repr=False)  # CallerIDNum as sent ("" = hidden number)
    called_did: str = ""  # CalledDID: the public number dialled, when known
    called_extension: str = ""  # CalledExtension: the IVR, e.g. "3515*099@sipproxy.telphin.ru"
    caller_name: str = field(default="", repr=False)  # CallerIDName
    raw: dict[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class TelphinReply:
    """What the bot wants the PBX to do, rendered by :func:`render_reply`.

    ``play_urls`` become ``<PlaySound>`` commands, played in order. The spec documents the
    content of ``PlaySound`` as the file name of a sound uploaded through Telphin's
    ``/sound/`` API; an http(s) URL of our own is passed through as is, but the spec does not
    say the PBX fetches URLs (see docs/telphin.md). The spec has no text-to-speech command,
    so synthesized phrases go here as sound files.
    ``transfer_to`` hands the call to a number (see ``transfer_variable`` of
    :func:`render_reply`); it cannot be combined with ``hangup``.
    """

    caller_name: str | None = None  # shown to operators: "Иван 2(3)" / UNKNOWN_CALLER_NAME
    play_urls: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    transfer_to: str | None = None
    hangup: bool = False

    def __post_init__(self) -> None:
        if self.hangup and self.transfer_to is not None:
            raise ValueError("a reply cannot both transfer and hang up")
        if self.transfer_to is not None and (
            not self.transfer_to or any(c.isspace() for c in self.transfer_to)
        ):
            raise ValueError("transfer_to must be a non-empty number without spaces")
        for name in self.variables:
            if not _VAR_NAME.match(name):
                raise ValueError(f"bad IVR variable name {name!r}")
        for sound in self.play_urls:
            if not sound.strip():
                raise ValueError("play_urls must not contain empty entries")


def fallback_reply() -> TelphinReply:
    """The usual fallback of the greeting case: caller name UNKNOWN USER, scheme continues."""
    return TelphinReply(caller_name=UNKNOWN_CALLER_NAME)


# --------------------------------------------------------------------------- request


async def parse_request(
    request: web.Request, *, max_body: int = DEFAULT_MAX_BODY
) -> TelphinRequest:
    """Parse a GET (query) or POST (urlencoded form, multipart form or JSON) request.

    ``CallID`` (non-empty) and ``CallerIDNum`` (present; empty means a hidden number) are
    required. Raises :class:`TelphinRequestError` with a message fit for a 400 answer.
    """
    params: dict[str, str] = {key: value for key, value in request.query.items()}  # last wins
    if request.method == "POST":
        body = await _read_body(request, max_body)
        header = request.headers.get("Content-Type", "")
        params.update(_parse_body(body, request.content_type, header, request.charset))
    elif request.method not in ("GET", "HEAD"):
        raise TelphinRequestError(f"method {request.method} is not used by Call Interactive")

    event_type = params.get("EventType")
    if event_type is not None and event_type != EVENT_TYPE:
        raise TelphinRequestError(f"EventType must be {EVENT_TYPE!r}")
    call_id = params.get("CallID", "").strip()
    if not call_id:
        raise TelphinRequestError("missing required parameter CallID")
    if "CallerIDNum" not in params:
        raise TelphinRequestError("missing required parameter CallerIDNum")
    for name in IDENTIFIERS:  # numbers and ids: a newline or an escape in one is no number
        value = params.get(name, "")
        if len(value) > 128 or not value.isprintable():
            raise TelphinRequestError(f"parameter {name} is not a printable identifier")
    return TelphinRequest(
        call_id=call_id,
        caller=params["CallerIDNum"].strip(),
        called_did=params.get("CalledDID", "").strip(),
        called_extension=params.get("CalledExtension", "").strip(),
        caller_name=params.get("CallerIDName", "").strip(),
        raw=params,
    )


async def _read_body(request: web.Request, max_body: int) -> bytes:
    """The body (``request.read()``: the edge may have read it already, under its timeout)."""
    length = request.content_length
    if length is not None and length > max_body:
        raise TelphinRequestError(f"request body is larger than {max_body} bytes")
    body = await request.read()  # also chunked bodies; capped by client_max_size
    if len(body) > max_body:
        raise TelphinRequestError(f"request body is larger than {max_body} bytes")
    return body


def _parse_body(
    body: bytes, content_type: str, content_type_header: str, charset: str | None
) -> dict[str, str]:
    if not body.strip():
        return {}
    if content_type == "multipart/form-data":
        return _parse_multipart(body, content_type_header)
    encoding = charset or "utf-8"
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise TelphinRequestError(f"request body is not valid {encoding} text") from exc
    is_json = content_type == "application/json" or content_type.endswith("+json")
    if is_json or (
        content_type != "application/x-www-form-urlencoded" and text.lstrip().startswith("{")
    ):
        return _parse_json(text)
    try:
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding=encoding, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise TelphinRequestError("request body is not a valid urlencoded form") from exc
    return dict(pairs)


def _parse_json(text: str) -> dict[str, str]:
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise TelphinRequestError("request body is not valid JSON") from exc
    except RecursionError:  # a depth bomb: [[[[…]]]]
        raise TelphinRequestError("request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise TelphinRequestError("JSON request body must be an object")
    params: dict[str, str] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool):
            params[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            params[key] = str(value)
        else:
            raise TelphinRequestError(f"JSON field {key!r} must be a string or a number")
    return params


def _parse_multipart(body: bytes, content_type_header: str) -> dict[str, str]:
    try:
        head = f"Content-Type: {content_type_header}\r\nMIME-Version: 1.0\r\n\r\n".encode("ascii")
    except UnicodeEncodeError as exc:
        raise TelphinRequestError("bad multipart Content-Type header") from exc
    message = cast(EmailMessage, BytesParser(policy=HTTP).parsebytes(head + body))
    if not message.is_multipart() or message.defects:
        raise TelphinRequestError("request body is not a valid multipart form")
    params: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_content_disposition() != "form-data" or not isinstance(name, str):
            continue
        if part.get_filename() is not None:
            continue  # a file upload is no call parameter
        payload = part.get_payload(decode=True)
        charset = part.get_content_charset() or "utf-8"
        try:
            params[name] = payload.decode(charset) if isinstance(payload, bytes) else ""
        except (UnicodeDecodeError, LookupError) as exc:
            raise TelphinRequestError(f"form field {name!r} is not valid {charset} text") from exc
    return params


# --------------------------------------------------------------------------- reply


def _clean(text: str, *, one_line: bool = False) -> str:
    text = _NOT_XML_CHAR.sub("", text)
    return _SPACES.sub(" ", text).strip() if one_line else text


def render_reply(
    reply: TelphinReply,
    *,
    caller_number: str | None = None,
    transfer_variable: str | None = DEFAULT_TRANSFER_VARIABLE,
) -> bytes:
    """The UTF-8 XML document of ``reply``: ``<Response>`` with commands in this order:
    ``SetCaller``, ``SetVar``…, ``PlaySound``…, the transfer, ``Hangup``.

    ``SetCaller`` needs both ``name`` and ``number`` (the PBX drops a ``SetCaller`` without
    one of them), so pass the request's ``CallerIDNum`` as ``caller_number`` to keep the
    number unchanged. ``transfer_to`` is written as ``<SetVar name=transfer_variable>`` for
    an IVR whose next option transfers "to the number from a variable"; with
    ``transfer_variable=None`` as ``<SimpleTransfer>NUMBER</SimpleTransfer>`` instead.
    """
    root = ET.Element("Response")
    if reply.caller_name is not None:
        ET.SubElement(
            root,
            "SetCaller",
            {
                "name": _clean(reply.caller_name, one_line=True),
                "number": _clean(caller_number or "", one_line=True),
            },
        )
    for name, value in reply.variables.items():
        ET.SubElement(root, "SetVar", {"name": name}).text = _clean(value)
    for sound in reply.play_urls:
        play = ET.SubElement(root, "PlaySound", {"where": "foreground"})
        play.text = _clean(sound, one_line=True)
    if reply.transfer_to is not None:
        target = _clean(reply.transfer_to, one_line=True)
        if transfer_variable is None:
            ET.SubElement(root, "SimpleTransfer").text = target
        else:
            if not _VAR_NAME.match(transfer_variable):
                raise ValueError(f"bad IVR variable name {transfer_variable!r}")
            ET.SubElement(root, "SetVar", {"name": transfer_variable}).text = target
    if reply.hangup:
        ET.SubElement(root, "Hangup")
    document = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
    return document.encode("utf-8")


# --------------------------------------------------------------------------- handler

Decide = Callable[[TelphinRequest], Awaitable[TelphinReply]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def telphin_handler(
    decide: Decide,
    *,
    fallback: TelphinReply,
    time_limit: float = DEFAULT_TIME_LIMIT,
    margin: float = DEFAULT_MARGIN,
    max_body: int = DEFAULT_MAX_BODY,
    transfer_variable: str | None = DEFAULT_TRANSFER_VARIABLE,
) -> Handler:
    """An aiohttp handler for the Call Interactive URL (register it for GET and POST).

    ``decide`` gets ``time_limit - margin`` seconds from the arrival of the request; when it
    is late or fails (raises, returns something that is not a valid reply) the answer is
    ``fallback``. A ``decide`` that ignores cancellation is left to finish in the background.
    """
    if time_limit <= 0 or margin < 0 or margin >= time_limit:
        raise ValueError("need time_limit > margin >= 0")
    if transfer_variable is not None and not _VAR_NAME.match(transfer_variable):
        raise ValueError(f"bad IVR variable name {transfer_variable!r}")
    budget = time_limit - margin
    render_reply(fallback, transfer_variable=transfer_variable)  # a bad fallback fails here

    async def handle(request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            parsed = await parse_request(request, max_body=max_body)
        except TelphinRequestError as exc:
            log.warning("telphin: bad Call Interactive request", extra={"error": str(exc)})
            return web.Response(status=400, text=f"Bad Call Interactive request: {exc}\n")

        outcome = "ok"
        task = asyncio.create_task(_call(decide, parsed))
        try:
            remaining = max(budget - (loop.time() - started), 0.0)
            done, _ = await asyncio.wait({task}, timeout=remaining)
        except asyncio.CancelledError:  # the PBX went away: stop deciding too
            task.cancel()
            raise
        if not done:
            outcome = "timeout"
            task.cancel()  # not awaited: a decide that ignores cancellation must not delay us
            _late_tasks.add(task)
            task.add_done_callback(_forget_late_task)
            reply = fallback
        else:
            try:
                result = task.result()
                if not isinstance(result, TelphinReply):
                    raise TypeError(f"decide returned {type(result).__name__}, not TelphinReply")
                reply = result
            except Exception:
                outcome = "error"
                log.exception("telphin: decide failed", extra={"call_id": parsed.call_id})
                reply = fallback
        try:
            body = render_reply(
                reply, caller_number=parsed.caller, transfer_variable=transfer_variable
            )
        except Exception:
            outcome = "error"
            log.exception("telphin: reply not renderable", extra={"call_id": parsed.call_id})
            body = render_reply(
                fallback, caller_number=parsed.caller, transfer_variable=transfer_variable
            )
        log.info(
            "telphin: answered Call Interactive",
            extra={
                "call_id": parsed.call_id,
                "outcome": outcome,
                "elapsed_ms": round((loop.time() - started) * 1000),
            },
        )
        return web.Response(body=body, content_type=XML_CONTENT_TYPE, charset="utf-8")

    return handle


async def _call(decide: Decide, request: TelphinRequest) -> TelphinReply:
    return await decide(request)  # inside the task, so even a synchronous raise is caught


_late_tasks: set[asyncio.Task[TelphinReply]] = set()  # strong references until they end


def _forget_late_task(task: asyncio.Task[TelphinReply]) -> None:
    _late_tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("telphin: late decide failed after the fallback was sent")


def add_telphin_routes(app: web.Application, path: str, handler: Handler) -> None:
    """Register ``handler`` at ``path`` for GET and POST (the two methods the PBX uses)."""
    app.router.add_get(path, handler, allow_head=False)
    app.router.add_post(path, handler)
