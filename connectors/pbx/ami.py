"""An asyncio client of the Asterisk Manager Interface (AMI): log in, follow events, act.

The wire format (Asterisk's AMI documentation): over TCP (port 5038), the server first sends
one banner line ``Asterisk Call Manager/<version>``; after that both sides exchange
*messages*: lines ``Key: Value`` ended by CR LF, a message ended by an empty line. A client
sends actions (``Action: Login``, ``Username``, ``Secret``, ``ActionID``...), the server
answers each with a message carrying ``Response: Success | Error | Goodbye`` and the same
``ActionID``, and sends ``Event: <Name>`` messages as things happen (``QueueCallerAbandon``,
``AgentConnect``, ``Hangup``, ``OriginateResponse``...).

:class:`AmiClient` keeps one connection: it connects, reads the banner, logs in, then reads
messages; events go to the subscribers as ``dict[str, str]`` (``Event`` included), responses
to the action that waits for their ``ActionID``. A lost connection, a failed login, a silent
server (``Ping`` unanswered) or a protocol violation (a line longer than ``max_line_bytes``,
a message over ``max_message_bytes`` or ``max_fields``) closes the connection, and it is made
again after a backoff that doubles from ``reconnect_min_s`` to ``reconnect_max_s``. Actions
waiting on a lost connection fail with :class:`AmiError`.

:meth:`AmiClient.originate` places a call with ``Async: true`` and waits for its outcome, an
``OriginateResponse`` event (read by :mod:`connectors.pbx.ami_originate`).

The secret, numbers and names never appear in log text; a field's value is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping

from connectors.pbx.ami_originate import ORIGINATE_REASONS, OriginateResult, originate_result
from connectors.pbx.ami_settings import AmiSettings
from connectors.pbx.ami_wire import (
    BANNER_PREFIX,
    AmiAuthError,
    AmiError,
    AmiProtocolError,
    Message,
    MessageReader,
    encode,
)

__all__ = [
    "ORIGINATE_REASONS",
    "AmiAuthError",
    "AmiClient",
    "AmiError",
    "AmiProtocolError",
    "AmiSettings",
    "Message",
    "MessageReader",
    "OriginateResult",
    "encode",
]

log = logging.getLogger(__name__)

Listener = Callable[[Message], Awaitable[None] | None]


class AmiClient:
    """One AMI connection, kept up; events to subscribers; actions with their responses.

    client = AmiClient(settings)
    client.subscribe(on_event)         # async or plain; gets every event as a dict
    await client.start()               # connects in the background, keeps reconnecting
    await client.wait_connected(5)
    result = await client.originate("PJSIP/103", context="callback", exten="79161234567")
    await client.stop()
    """

    def __init__(self, settings: AmiSettings) -> None:
        self.settings = settings
        self._listeners: list[Listener] = []
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._originates: dict[str, asyncio.Future[Message]] = {}
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)
        self._writer: asyncio.StreamWriter | None = None
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._last_read = 0.0
        self.banner = ""
        self.logins = 0  # successful logins (reconnects count)
        self.failures = 0  # connections that ended in an error
        self.last_error = ""  # the last failure: "auth", "protocol", "timeout", "closed"...
        # events wait here for the listeners, so a slow listener never stalls the reading
        # (and the Ping answers): one dispatcher keeps them in order; beyond the bound they
        # are dropped and counted
        self._events: asyncio.Queue[Message] = asyncio.Queue(settings.max_queued_events)
        self._dispatcher: asyncio.Task[None] | None = None
        self.dropped_events = 0

    # -- subscribers ---------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """``listener(event)`` for every event, in order; an exception is logged."""
        self._listeners.append(listener)

    def _queue_event(self, event: Message) -> None:
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped_events += 1
            if self.dropped_events in (1, 10, 100) or self.dropped_events % 1000 == 0:
                log.warning("ami: events dropped", extra={"dropped": self.dropped_events})

    async def _dispatch_events(self) -> None:
        while True:
            event = await self._events.get()
            try:
                for listener in list(self._listeners):
                    try:
                        result = listener(event)
                        if result is not None:
                            await result
                    except Exception:
                        name = event.get("Event")
                        log.exception("ami: an event listener failed", extra={"event": name})
            finally:
                self._events.task_done()

    async def drain(self, timeout: float = 10.0) -> None:
        """Until every event received so far went through the listeners (tests)."""
        async with asyncio.timeout(timeout):
            await self._events.join()

    # -- life cycle ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._dispatcher = asyncio.create_task(self._dispatch_events(), name="ami-events")
            self._task = asyncio.create_task(self._run(), name="ami")

    async def wait_connected(self, timeout: float) -> None:
        """Until logged in (raises ``TimeoutError``)."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def stop(self) -> None:
        """Log off (best effort), close, stop reconnecting; waiting actions fail."""
        self._stopping = True
        if self._writer is not None and self.connected:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await self._send({"Action": "Logoff", "ActionID": self._next_id()})
        self._close()
        for task in (self._task, self._dispatcher):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._task = self._dispatcher = None
        self._fail_waiting("client stopped")

    async def _run(self) -> None:
        delay = self.settings.reconnect_min_s
        while not self._stopping:
            try:
                await self._session()
                self.last_error = "closed"
            except asyncio.CancelledError:
                raise
            except AmiAuthError:
                self.last_error = "auth"
                log.error("ami: login refused (check missed.ami.username and secret)")
            except AmiProtocolError as exc:
                self.last_error = "protocol"
                log.warning("ami: protocol error, reconnecting", extra={"why": str(exc)})
            except (TimeoutError, AmiError) as exc:
                self.last_error = "timeout" if isinstance(exc, TimeoutError) else "error"
                log.warning(
                    "ami: no answer in time, reconnecting", extra={"why": type(exc).__name__}
                )
            except OSError as exc:
                self.last_error = "connect"
                log.warning("ami: connection failed", extra={"why": type(exc).__name__})
            finally:
                was_up = self.connected
                self._close()
                self._fail_waiting("connection lost")
            if self._stopping:
                break
            self.failures += 1
            if was_up:
                delay = self.settings.reconnect_min_s  # it worked: try again soon
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _session(self) -> None:
        s = self.settings
        async with asyncio.timeout(s.connect_timeout_s):
            reader, writer = await asyncio.open_connection(s.host, s.port, limit=s.max_line_bytes)
        self._writer = writer
        messages = MessageReader(
            reader,
            max_line=s.max_line_bytes,
            max_message=s.max_message_bytes,
            max_fields=s.max_fields,
        )
        async with asyncio.timeout(s.login_timeout_s):
            banner = await messages.line()
            if banner is None or not banner.startswith(BANNER_PREFIX):
                raise AmiProtocolError("no Asterisk Call Manager banner")
            self.banner = banner
        reading = asyncio.create_task(self._read(messages), name="ami-read")
        try:
            login_id = self._next_id()
            answer = await self._request(
                {
                    "Action": "Login",
                    "Username": s.username,
                    "Secret": s.secret,
                    "Events": s.events,
                    "ActionID": login_id,
                },
                s.login_timeout_s,
            )
            if answer.get("Response", "").lower() != "success":
                raise AmiAuthError("login refused")
            self.logins += 1
            self._connected.set()
            log.info("ami: logged in", extra={"logins": self.logins})
            await self._keepalive(reading)
        finally:
            if not reading.done():
                reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(reading, return_exceptions=True)

    async def _keepalive(self, reading: asyncio.Task[None]) -> None:
        """While reading: a Ping after ``ping_interval_s`` of silence; no answer ends it."""
        interval = self.settings.ping_interval_s
        loop = asyncio.get_running_loop()
        while True:
            quiet = loop.time() - self._last_read
            wait = max(0.05, interval - quiet)
            done, _ = await asyncio.wait({reading}, timeout=wait)
            if done:
                reading.result()  # raises what ended the reader
                return  # the server closed the connection
            if loop.time() - self._last_read >= interval:
                await self.action("Ping", timeout=self.settings.action_timeout_s)

    async def _read(self, messages: MessageReader) -> None:
        loop = asyncio.get_running_loop()
        self._last_read = loop.time()
        while True:
            message = await messages.message()
            if message is None:
                return
            self._last_read = loop.time()
            action_id = message.get("ActionID", "")
            if "Event" in message:
                waiter = self._originates.get(action_id)
                is_result = message["Event"] == "OriginateResponse"
                if is_result and waiter is not None and not waiter.done():
                    waiter.set_result(message)
                self._queue_event(message)
            elif "Response" in message:
                pending = self._pending.pop(action_id, None)
                if pending is not None and not pending.done():
                    pending.set_result(message)

    def _close(self) -> None:
        self._connected.clear()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None

    def _fail_waiting(self, why: str) -> None:
        for table in (self._pending, self._originates):
            for waiter in table.values():
                if not waiter.done():
                    waiter.set_exception(AmiError(why))
            table.clear()

    # -- actions -------------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"bot-{self._prefix}-{next(self._ids)}"

    async def _send(self, fields: Mapping[str, str | list[str]]) -> None:
        writer = self._writer
        if writer is None:
            raise AmiError("not connected")
        data = encode(fields)
        async with self._write_lock:
            writer.write(data)
            await writer.drain()

    async def _request(self, fields: Mapping[str, str | list[str]], timeout: float) -> Message:
        action_id = str(fields["ActionID"])
        waiter: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = waiter
        try:
            async with asyncio.timeout(timeout):
                await self._send(fields)
                return await waiter
        finally:
            self._pending.pop(action_id, None)

    async def action(
        self,
        name: str,
        fields: Mapping[str, str | list[str]] | None = None,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> Message:
        """Send ``Action: name`` with ``fields``; the response (``check``: an ``Error`` raises
        :class:`AmiError`). Raises ``TimeoutError`` when no response comes in time."""
        if not self.connected:
            raise AmiError("not connected")
        message: dict[str, str | list[str]] = {"Action": name, **(fields or {})}
        message["ActionID"] = self._next_id()
        answer = await self._request(message, timeout or self.settings.action_timeout_s)
        if check and answer.get("Response", "").lower() == "error":
            raise AmiError(f"{name}: {answer.get('Message', 'error')}")
        return answer

    async def originate(
        self,
        channel: str,
        *,
        context: str = "",
        exten: str = "",
        priority: str = "1",
        application: str = "",
        data: str = "",
        caller_id: str = "",
        timeout_s: float = 30.0,
        variables: Mapping[str, str] | None = None,
        account: str = "",
        wait_s: float | None = None,
    ) -> OriginateResult:
        """Place a call (``Async: true``) and wait for its ``OriginateResponse``.

        ``channel`` is dialled first (``PJSIP/103``, ``Local/79161234567@callback``); when it
        answers, it is connected to ``context``/``exten``/``priority`` or to
        ``application``(``data``). ``timeout_s``: how long the channel rings. ``wait_s`` (the
        settings' ``originate_timeout_s`` by default) bounds the whole wait; past it the result
        is ``timeout`` (the call may still happen: Asterisk does not cancel it).
        """
        if not self.connected:
            raise AmiError("not connected")
        fields: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": channel,
            "Timeout": str(int(timeout_s * 1000)),
            "Async": "true",
        }
        if application:
            fields.update(Application=application, Data=data)
        else:
            fields.update(Context=context, Exten=exten, Priority=priority)
        if caller_id:
            fields["CallerID"] = caller_id
        if account:
            fields["Account"] = account
        if variables:
            fields["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        action_id = self._next_id()
        fields["ActionID"] = action_id
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[Message] = loop.create_future()
        self._originates[action_id] = outcome
        limit = wait_s if wait_s is not None else self.settings.originate_timeout_s
        started = time.monotonic()
        try:
            answer = await self._request(fields, min(limit, self.settings.action_timeout_s))
            if answer.get("Response", "").lower() != "success":
                return OriginateResult(False, "error", event=answer)
            remaining = max(0.0, limit - (time.monotonic() - started))
            try:
                async with asyncio.timeout(remaining):
                    event = await outcome
            except TimeoutError:
                return OriginateResult(False, "timeout")
        finally:
            self._originates.pop(action_id, None)
        return originate_result(event)
