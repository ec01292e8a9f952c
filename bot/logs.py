"""Log lines with their structured fields: ``message  call_id=… reason=…``; nothing personal.

Personal data (phone numbers, names, transcripts) never goes into a message text; when it
must be logged at all it goes into fields, and ``MASKED_FIELDS`` are shown masked. On top of
that convention, :class:`SafeFormatter` makes every line safe whatever a library or a
request put into it:

- control characters (newline, carriage return, escape, …, also U+2028/U+2029) in the message
  and the fields are written escaped (``\\n``, ``\\x1b``), so ``%0a`` in a path cannot forge a
  log line; traceback lines are kept but each starts with ``  | ``;
- every run of 7 or more digits (spaces, ``-`` and brackets allowed between them, an
  optional ``+``: phone numbers as PBXs and people write them) in the message or a text
  field becomes ``***`` (numeric fields are counts and sizes and are shown as they are);
- every registered secret (:func:`add_secrets`: the HTTP secret, mail and dadata passwords,
  the database password) becomes ``***``, also percent-encoded.

:class:`RepeatFilter` keeps a flood of one warning (a refused connection, a bad frame,
``accept() out of system resource``) to ``burst`` lines per ``interval`` and says how many
it left out (``suppressed=N``). :func:`protect_aiohttp_logs` replaces aiohttp's traceback
of a malformed HTTP request, whose text holds the raw request line, with one short line.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable
from typing import TextIO

STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
MASKED_FIELDS = {"caller", "called", "phone", "name", "text", "caller_name", "transcript"}
MASK = "***"
AIOHTTP_LOGGERS = ("aiohttp.server", "aiohttp.web", "aiohttp.access", "aiohttp.websocket")

_DIGITS = re.compile(r"\+?\d(?:[ \-()]{0,2}\d){6,}")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def add_secrets(*values: str | None) -> None:
    """Values that must never appear in a log line (4 characters or more)."""
    with _secrets_lock:
        for value in values:
            if value and len(value) >= 4:
                _secrets.add(value)
                _secrets.add(urllib.parse.quote(value, safe=""))
                _secrets.add(urllib.parse.quote_plus(value))


def clean(text: str) -> str:
    """``text`` with control characters escaped, digit runs and secrets masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _DIGITS.sub(MASK, text)
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


class SafeFormatter(logging.Formatter):
    """``time LEVEL logger: message  key=value …`` with everything after the logger name
    cleaned (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string in a library must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        fields = {k: v for k, v in vars(record).items() if k not in STANDARD}
        shown = " ".join(f"{key}={_field(key, value)}" for key, value in fields.items())
        body = clean(message) + (f"  {shown}" if shown else "")
        line = f"{self.formatTime(record, self.datefmt)} {record.levelname} {record.name}: {body}"
        extra_lines: list[str] = []
        if record.exc_info:
            extra_lines.extend(self.formatException(record.exc_info).splitlines())
        elif record.exc_text:
            extra_lines.extend(record.exc_text.splitlines())
        if record.stack_info:
            extra_lines.extend(self.formatStack(record.stack_info).splitlines())
        return "\n".join([line, *(f"  | {clean(text)}" for text in extra_lines)])


def _field(key: str, value: object) -> str:
    if key in MASKED_FIELDS:
        return MASK
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # counts and sizes: never a phone number (those are text)
    return clean(str(value))


FieldsFormatter = SafeFormatter  # the older name


class RepeatFilter(logging.Filter):
    """At most ``burst`` records per ``interval`` s of one (logger, level, message
    template) at WARNING or above; the next one let through carries ``suppressed=N``."""

    def __init__(self, burst: int = 20, interval: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.interval = interval
        self._windows: dict[tuple[str, int, str], list[float]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(key, [now, 0.0, 0.0])  # start, count, skipped
            if now - window[0] >= self.interval:
                window[0], window[1] = now, 0.0
            if window[1] >= self.burst:
                window[2] += 1
                return False
            window[1] += 1
            skipped, window[2] = int(window[2]), 0.0
            if len(self._windows) > 10_000:  # many distinct messages: forget the old windows
                self._windows = {key: window}
        if skipped:
            record.suppressed = skipped
        return True


class _AiohttpFilter(logging.Filter):
    """A malformed request's traceback (its text holds the raw request line, secrets and
    numbers included) becomes one line with the status and the error's class."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not _is_bad_request(exc):
            return True
        record.msg = "http: malformed request rejected (%s %s)"
        record.args = (getattr(exc, "code", 400), type(exc).__name__)
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _is_bad_request(exc: BaseException) -> bool:
    from aiohttp.http_exceptions import HttpProcessingError

    return isinstance(exc, HttpProcessingError)


def protect_aiohttp_logs(names: Iterable[str] = AIOHTTP_LOGGERS) -> None:
    """Attach the bad-request filter to aiohttp's loggers (once)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _AiohttpFilter) for f in logger.filters):
            logger.addFilter(_AiohttpFilter())


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes, not the one it was made
    with: a daemon or a test harness may swap stderr, and a handler holding the old, closed
    stream printed "--- Logging error --- ValueError: I/O operation on closed file"."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # StreamHandler.__init__ sets it; this handler always follows sys.stderr


def setup_logging(verbose: bool = False) -> None:
    handler = StderrHandler()
    handler.setFormatter(SafeFormatter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("pymorphy3", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    protect_aiohttp_logs()
