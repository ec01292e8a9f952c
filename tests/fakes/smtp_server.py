"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 that keeps every message it accepts.

    sink = SmtpSink()            # picks a free port
    sink.start()
    ...  send to 127.0.0.1:sink.port  ...
    sink.messages[0]["Subject"]
    sink.stop()

Create it with an explicit ``port`` to start it later on a port that was "down" before.

Faults for delivery tests: ``delay`` seconds before every reply (to interleave several
senders); ``hold`` seconds before the reply to the first ``hold_count`` messages, with
``hold_keeps`` deciding whether a held message counts as accepted (the server stored it and
the reply was lost: the sender must resend it, a duplicate) or not (the server gives up:
``451``). ``held`` is set when a held message has arrived, so a test can kill the sender
right then.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _CollectingHandler:
    def __init__(self, delay: float, hold: float, hold_count: int, hold_keeps: bool) -> None:
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.held_messages: list[EmailMessage] = []
        self.held = threading.Event()
        self.delay = delay
        self.hold = hold
        self.hold_left = hold_count
        self.hold_keeps = hold_keeps

    def _keep(self, parsed: EmailMessage, envelope: Any) -> None:
        with self.lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            hold = self.hold_left > 0
            if hold:
                self.hold_left -= 1
                self.held_messages.append(parsed)
        if hold:
            if self.hold_keeps:
                self._keep(parsed, envelope)
            self.held.set()
            await asyncio.sleep(self.hold)
            return "250 Message accepted for delivery" if self.hold_keeps else "451 Try later"
        if self.delay:
            await asyncio.sleep(self.delay)
        self._keep(parsed, envelope)
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd ``Controller`` (its own thread and loop) collecting accepted messages."""

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        delay: float = 0.0,
        hold: float = 0.0,
        hold_count: int = 0,
        hold_keeps: bool = False,
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port()
        self._handler = _CollectingHandler(delay, hold, hold_count, hold_keeps)
        self._controller: Controller | None = None

    @property
    def held(self) -> threading.Event:
        return self._handler.held

    @property
    def held_messages(self) -> list[EmailMessage]:
        with self._handler.lock:
            return list(self._handler.held_messages)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        with self._handler.lock:
            return list(self._handler.envelopes)

    def start(self) -> SmtpSink:
        controller = Controller(self._handler, hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
