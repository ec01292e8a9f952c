"""The AMI wire format: messages of ``Key: Value`` CR LF lines ended by an empty line.

:func:`encode` writes one message (no line break may hide inside a value: it would forge
fields); :class:`MessageReader` reads them with limits on the line length, the message size
and the number of fields, and raises :class:`AmiProtocolError` past any of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final

Message = dict[str, str]
BANNER_PREFIX: Final = "Asterisk Call Manager/"


class AmiError(RuntimeError):
    """An action failed: no connection, an ``Error`` response, or no answer in time."""


class AmiAuthError(AmiError):
    """The manager refused the login (``Response: Error`` to ``Action: Login``)."""


class AmiProtocolError(AmiError):
    """The peer broke the wire format or a limit (line, message size, field count)."""


def encode(fields: Mapping[str, str | list[str]]) -> bytes:
    """One AMI message: ``Key: Value`` CR LF lines and an empty line (lists repeat the key,
    as ``Variable`` does). CR and LF inside values are refused: they would forge fields."""
    lines: list[str] = []
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            if any(c in f"{key}{item}" for c in "\r\n") or ":" in key:
                raise ValueError(f"AMI field {key!r} holds a line break or a colon")
            lines.append(f"{key}: {item}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class MessageReader:
    """Reads AMI messages from a stream, with the line, size and field-count limits."""

    def __init__(
        self, reader: asyncio.StreamReader, *, max_line: int, max_message: int, max_fields: int
    ) -> None:
        self.reader = reader
        self.max_line = max_line
        self.max_message = max_message
        self.max_fields = max_fields

    async def line(self) -> str | None:
        """One line without its CR LF; ``None`` at the end of the stream."""
        try:
            raw = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise AmiProtocolError("connection closed inside a line") from None
            return None
        except asyncio.LimitOverrunError:
            raise AmiProtocolError(f"line longer than {self.max_line} bytes") from None
        except ValueError:  # the limit hit while the separator was in the buffer
            raise AmiProtocolError(f"line longer than {self.max_line} bytes") from None
        if len(raw) > self.max_line:
            raise AmiProtocolError(f"line longer than {self.max_line} bytes")
        return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")

    async def message(self) -> Message | None:
        """The next message (empty lines between messages skipped); ``None`` at the end."""
        fields: Message = {}
        size = 0
        while True:
            text = await self.line()
            if text is None:
                if fields:
                    raise AmiProtocolError("connection closed inside a message")
                return None
            if not text:
                if fields:
                    return fields
                continue
            size += len(text) + 2
            if size > self.max_message:
                raise AmiProtocolError(f"message larger than {self.max_message} bytes")
            key, sep, value = text.partition(":")
            if not sep:  # command output (Response: Follows) and stray text
                key, value = "Output", text
            key, value = key.strip(), value.strip()
            if key in fields:  # repeated keys (ChanVariable, Output): kept, joined by newlines
                fields[key] += "\n" + value
            else:
                if len(fields) >= self.max_fields:
                    raise AmiProtocolError(f"message with more than {self.max_fields} fields")
                fields[key] = value
