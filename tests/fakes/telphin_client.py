"""The PBX side of Telphin «Call Interactive», written from the spec (see docs/telphin.md).

:class:`FakeTelphinPbx` sends what the virtual PBX sends when a call reaches a Call
Interactive option of an IVR: the constant parameter set (``EventType=call_interactive``,
``CallID``, ``CallerIDNum``, ``CallerIDName``, ``CalledDID``, ``CalledExtension``,
``CalledExtensionID``, ``CallStatus=ANSWER``, ``CallFlow=IN``, ``CalledNumber``,
``CallAPIID``) in the query string (GET) or in the body (POST; urlencoded by default, JSON
and multipart as variants), waits at most ``time_limit`` seconds, and parses the answer
strictly as the spec describes it: an XML document with root ``<Response>`` whose children
are the commands ``Hangup``, ``Pause``, ``SetVar``, ``Jump``, ``SetCaller``, ``PlaySound``,
``SimpleTransfer``. ``SetCaller`` without ``name`` or ``number`` is an error (the PBX
aborts parsing then).
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp

KNOWN_COMMANDS = frozenset(
    {"Hangup", "Pause", "SetVar", "Jump", "SetCaller", "PlaySound", "SimpleTransfer"}
)


class TelphinProtocolError(AssertionError):
    """The answer is not a Call Interactive document the PBX could execute."""


def call_params(
    *,
    call_id: str = "a312d2e3979c4769b4ba58170de52c0a",
    caller: str = "+74953730763",
    caller_name: str | None = None,
    called_did: str | None = "78123092854",
    called_extension: str = "3515*099@sipproxy.telphin.ru",
    **extra: str,
) -> dict[str, str]:
    """The parameters of one request, shaped like the spec's example and a logged real one."""
    params = {
        "EventType": "call_interactive",
        "CallID": call_id,
        "CallerIDNum": caller,
        "CallerIDName": caller if caller_name is None else caller_name,
        "CalledExtension": called_extension,
        "CalledExtensionID": "124583",
        "CallStatus": "ANSWER",
        "CallFlow": "IN",
        "CalledNumber": called_did or "099",
        "CallAPIID": f"3584709739-{call_id}",
    }
    if called_did is not None:
        params["CalledDID"] = called_did
    params.update(extra)
    return params


def parse_answer(body: bytes) -> dict[str, Any]:
    """The commands of an answer, checked against the spec.

    Returns ``{"order": [tag, …], "SetCaller": {"name", "number"} | None,
    "SetVar": {name: value}, "PlaySound": [text, …], "SimpleTransfer": [text, …],
    "Jump": [attrs, …], "Pause": [attrs, …], "Hangup": bool}``.
    """
    if not body.startswith(b"<?xml"):
        raise TelphinProtocolError("the answer has no XML declaration")
    declaration = body.split(b"?>", 1)[0].lower()
    if b"utf-8" not in declaration:
        raise TelphinProtocolError("the XML declaration does not say UTF-8")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise TelphinProtocolError(f"the answer is not well-formed XML: {exc}") from exc
    if root.tag != "Response":
        raise TelphinProtocolError(f"the root element is <{root.tag}>, not <Response>")
    commands: dict[str, Any] = {
        "order": [],
        "SetCaller": None,
        "SetVar": {},
        "PlaySound": [],
        "SimpleTransfer": [],
        "Jump": [],
        "Pause": [],
        "Hangup": False,
    }
    for element in root:
        tag = element.tag
        if tag not in KNOWN_COMMANDS:
            raise TelphinProtocolError(f"unknown command <{tag}>")
        if len(element):
            raise TelphinProtocolError(f"<{tag}> must not have child elements")
        text = (element.text or "").strip()
        commands["order"].append(tag)
        if tag == "SetCaller":
            if "name" not in element.attrib or "number" not in element.attrib:
                raise TelphinProtocolError("<SetCaller> needs both name and number")
            commands["SetCaller"] = {
                "name": element.attrib["name"],
                "number": element.attrib["number"],
            }
        elif tag == "SetVar":
            if not element.attrib.get("name"):
                raise TelphinProtocolError("<SetVar> needs a name")
            commands["SetVar"][element.attrib["name"]] = element.text or ""
        elif tag in ("PlaySound", "SimpleTransfer"):
            if not text:
                raise TelphinProtocolError(f"<{tag}> is empty")
            if tag == "PlaySound" and element.attrib.get("where", "foreground") not in (
                "foreground",
                "background",
            ):
                raise TelphinProtocolError("<PlaySound where=…> must be foreground or background")
            commands[tag].append(text)
        elif tag == "Hangup":
            commands["Hangup"] = True
        else:
            commands[tag].append(dict(element.attrib))
    return commands


@dataclass
class TelphinAnswer:
    status: int
    content_type: str
    body: bytes
    elapsed: float  # seconds from sending to the end of the answer
    commands: dict[str, Any] = field(default_factory=dict)  # only for status 200

    @property
    def caller_name(self) -> str | None:
        caller = self.commands.get("SetCaller")
        return None if caller is None else str(caller["name"])


class FakeTelphinPbx:
    """Run with ``async with FakeTelphinPbx(url) as pbx:``; ``await pbx.call(params)``."""

    def __init__(self, url: str, *, time_limit: float = 5.0) -> None:
        self.url = url
        self.time_limit = time_limit
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeTelphinPbx:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.time_limit))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self, params: dict[str, str], *, method: str = "GET", body_format: str = "form"
    ) -> TelphinAnswer:
        """One Call Interactive request; a 200 answer must parse (else TelphinProtocolError)."""
        if method == "GET":
            return await self.send("GET", params=params)
        if body_format == "form":
            return await self.send("POST", data=params)
        if body_format == "json":
            return await self.send(
                "POST",
                data=json.dumps(params, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        if body_format == "multipart":
            writer = aiohttp.MultipartWriter("form-data")
            for name, value in params.items():
                part = writer.append(value)
                part.set_content_disposition("form-data", name=name)
            return await self.send("POST", data=writer)
        raise ValueError(f"unknown body format {body_format!r}")

    async def send(
        self,
        method: str,
        *,
        params: dict[str, str] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> TelphinAnswer:
        """A raw request (also a broken one); the answer is parsed only when it is a 200."""
        if self._session is None:
            raise RuntimeError("use FakeTelphinPbx as an async context manager")
        started = time.monotonic()
        async with self._session.request(
            method, self.url, params=params, data=data, headers=headers
        ) as response:
            body = await response.read()
            answer = TelphinAnswer(
                status=response.status,
                content_type=response.content_type,
                body=body,
                elapsed=time.monotonic() - started,
            )
        if answer.status == 200:
            answer.commands = parse_answer(body)
        return answer
