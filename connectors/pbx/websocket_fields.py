"""The WebSocket connectors' message fields: JSON objects, typed fields, identifiers, DTMF,
base64 and PCM, each malformed one a :class:`WireError` with a fitting close code."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import WSCloseCode

from connectors.pbx.transport import ProtocolError
from speech.audio import Audio

DTMF_DIGITS = frozenset("0123456789*#ABCD")


class WireError(ProtocolError):
    """A malformed message; ``close_code`` is the WebSocket close code to answer with."""

    def __init__(self, message: str, close_code: int = WSCloseCode.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.close_code = int(close_code)


# --- small parsing helpers shared by the format modules ----------------------------------


def parse_json_object(text: str) -> dict[str, Any]:
    """A text frame that must hold one JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError; its text has positions, not content
        raise WireError("text frame is not valid JSON", WSCloseCode.INVALID_TEXT) from exc
    except RecursionError:  # a depth bomb: [[[[…]]]] within the size limit
        raise WireError("JSON nested too deeply", WSCloseCode.INVALID_TEXT) from None
    if not isinstance(value, dict):
        raise WireError("JSON message is not an object", WSCloseCode.INVALID_TEXT)
    return value


def get_str(obj: Mapping[str, Any], key: str, *, required: bool = True, default: str = "") -> str:
    value = obj.get(key)
    if value is None and not required:
        return default
    if not isinstance(value, str):
        raise WireError(f"field {key!r} must be a string", WSCloseCode.INVALID_TEXT)
    return value


def get_object(obj: Mapping[str, Any], key: str, *, required: bool = True) -> dict[str, Any]:
    value = obj.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise WireError(f"field {key!r} must be an object", WSCloseCode.INVALID_TEXT)
    return value


def get_int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"field {key!r} must be an integer", WSCloseCode.INVALID_TEXT)
    return value


def get_number_str(obj: Mapping[str, Any], *keys: str) -> str:
    """The first of ``keys`` present, as text (a JSON string, or an integer for a number)."""
    for key in keys:
        value = obj.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise WireError(f"field {key!r} must be a string", WSCloseCode.INVALID_TEXT)
    return ""


def check_identifier(value: str, name: str) -> str:
    """A call id or phone number from the peer: printable text of at most 128 characters
    (a caller ID with a newline or an escape is no caller ID, and must reach no log)."""
    if len(value) > 128 or not value.isprintable():
        raise WireError(f"field {name!r} is not a printable identifier", WSCloseCode.INVALID_TEXT)
    return value


def check_digit(value: Any) -> str:
    """A DTMF digit: one of 0-9 * # A-D (lower-case a-d accepted)."""
    if not isinstance(value, str) or value.upper() not in DTMF_DIGITS or len(value) != 1:
        raise WireError("DTMF digit must be one of 0-9 * # A-D", WSCloseCode.INVALID_TEXT)
    return value.upper()


def b64decode_strict(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise WireError("payload is not valid base64", WSCloseCode.INVALID_TEXT) from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pcm_audio(data: bytes, rate: int) -> Audio:
    """16-bit little-endian mono PCM from a binary frame (an odd length is an error)."""
    if len(data) % 2:
        raise WireError("PCM frame has an odd number of bytes", WSCloseCode.UNSUPPORTED_DATA)
    return Audio(bytes(data), rate)


def new_call_id() -> str:
    return uuid.uuid4().hex


# --- the transport base --------------------------------------------------------------------
