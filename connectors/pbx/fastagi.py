"""FastAGI server: Asterisk's ``AGI(agi://bot:4573/order)`` hands a call to the bot.

One TCP session per call. Asterisk connects and sends its environment, one
``agi_<name>: <value>`` line each, ending with a blank line. This server registers the
caller and called number under a fresh UUID, then sends::

    EXEC AudioSocket <uuid>,<host:port>

Asterisk runs the ``AudioSocket()`` application, which dials back to the
:class:`~connectors.pbx.audiosocket.AudioSocketServer` with that UUID; the audio leg runs
while the EXEC is pending, and Asterisk answers ``200 result=<app return>`` when it ends
(0: we hung up or closed; -1: error or the caller hung up; -2: the application is not
loaded). Afterwards the server sets what the bot decided and closes the session, and the
dialplan goes on after ``AGI()``::

    SET VARIABLE CALLERID(name) "<name>"       (if the bot set a caller name)
    SET VARIABLE BOT_TRANSFER "<target>"       (if the bot transferred)
    SET VARIABLE BOT_REASON "<reason>"         (why it transferred: the dialog's reason)
    SET VARIABLE BOT_RESULT "transfer"|"hangup"|"error"

``error`` means something failed: the bot handed the call over because of a failure (the
order could not be saved, a speech engine failed or timed out; ``BOT_TRANSFER`` then holds
the operator it chose and ``BOT_REASON`` ``error``, ``engine_error`` or
``recognition_timeout``), the bot never got the audio leg (AudioSocket failed, the
application is missing; no ``BOT_TRANSFER``), or the transfer target had characters unsafe
in a dialplan. Route such calls to a person.

Limits: the environment must arrive within ``header_timeout``; after ``EXEC AudioSocket``
the audio leg must connect within ``link_timeout`` and the whole EXEC may last
``call_timeout`` (the AGI session timeout), else the session is closed and the dialplan goes
on with ``BOT_RESULT`` unset (route that to a person as well).

Protocol facts (asterisk/asterisk ``res/res_agi.c``; https://docs.asterisk.org/Latest_API/
API_Documentation/Dialplan_Applications/AGI/):

- ``launch_netscript`` sends ``agi_network: yes`` and ``agi_network_script: <path after the
  host>``; ``setup_env`` then sends agi_request, agi_channel, agi_language, agi_type,
  agi_uniqueid, agi_version, agi_callerid, agi_calleridname, agi_callingpres,
  agi_callingani2, agi_callington, agi_callingtns, agi_dnid, agi_rdnis, agi_context,
  agi_extension, agi_priority, agi_enhanced, agi_accountcode, agi_threadid,
  ``agi_arg_<n>`` for each AGI() argument, and a blank line. Caller ID, caller name, DNID
  and RDNIS read ``unknown`` when absent.
- Replies: ``200 result=<n> [(data)]``; ``510 Invalid or unknown command``; ``511 Command
  Not Permitted on a dead channel``; usage errors either ``520 Invalid command syntax...``
  or ``520-Invalid command syntax.  Proper usage follows:``, the usage text, and
  ``520 End of proper usage.``.
- When the channel hangs up, Asterisk writes ``HANGUP`` on its own line at any moment
  (unless the channel variable AGISIGHUP is ``no``); later commands still run if they are
  allowed on a dead channel: EXEC, SET VARIABLE, GET VARIABLE are.
- ``parse_args`` splits a command on blanks; ``"`` toggles quoting and ``\\`` makes the
  next character literal, so a value is sent as ``"`` + value with ``\\`` and ``"``
  backslash-escaped + ``"``. A newline ends the command, so values never contain one.
- ``SET VARIABLE CALLERID(name) ...`` writes the dialplan function (the name ends in ``)``).
- Closing the socket ends the AGI; ``AGI()`` returns and the dialplan continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Protocol

from connectors.pbx.limits import ConnectionGate, LogThrottle
from connectors.pbx.tcp_server import TcpServer
from connectors.pbx.transport import RESULT_ERROR, RESULT_HANGUP, CallInfo, ProtocolError

log = logging.getLogger(__name__)

AGI_PORT = 4573
MAX_CALLER_NAME = 80
SAFE_TRANSFER_TARGET = re.compile(r"[A-Za-z0-9_.+*#@:/-]{1,80}")
SAFE_REASON = re.compile(r"[A-Za-z0-9_:.-]{1,40}")
_REPLY = re.compile(r"(\d{3})(?:[ -](.*))?")
_RESULT = re.compile(r"result=(-?\d+)(?:\s+\((.*)\))?")
_UNKNOWN = {"", "unknown"}


class AgiOutcome(Protocol):
    """What the bot decided (``connectors.pbx.transport.CallOutcome``)."""

    @property
    def result(self) -> str: ...

    @property
    def target(self) -> str | None: ...

    @property
    def reason(self) -> str: ...

    @property
    def caller_name(self) -> str | None: ...


class AgiCallResult(Protocol):
    """The audio leg's state (``connectors.pbx.asterisk.LegResult``)."""

    @property
    def outcome(self) -> AgiOutcome: ...

    @property
    def linked(self) -> bool: ...


class CallRegistry(Protocol):
    """The registry shared with the AudioSocket server (``AsteriskCalls``)."""

    def register(self, info: CallInfo) -> None: ...

    async def wait_linked(self, call_id: str, timeout: float) -> bool: ...

    async def wait_result(self, call_id: str, timeout: float | None = 2.0) -> AgiCallResult: ...

    def forget(self, call_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AgiReply:
    code: int  # 200, 510, 511, 520
    result: int | None  # the ``result=`` number of a 200 reply
    data: str | None  # the ``(data)`` of a 200 reply
    text: str


class _AgiGone(Exception):
    """Asterisk closed the session (or the socket failed)."""


def agi_quote(value: str) -> str:
    """One AGI argument: double-quoted, ``\\`` and ``"`` escaped, control characters blanked."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as ``AudioSocket()`` takes it."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {address!r}")
    if any(ch.isspace() or ch in ',"\\' for ch in host):
        raise ValueError(f"bad host in {address!r}")
    return host, int(port)


def call_info_from_env(call_id: str, env: dict[str, str]) -> CallInfo:
    """CallInfo for the AudioSocket leg from the AGI environment (``unknown`` becomes "")."""

    def known(name: str) -> str:
        value = env.get(name, "").strip()
        return "" if value.lower() in _UNKNOWN else value

    extra = {
        "channel": env.get("agi_channel", ""),
        "uniqueid": env.get("agi_uniqueid", ""),
        "script": env.get("agi_network_script", ""),
        "context": env.get("agi_context", ""),
        "extension": env.get("agi_extension", ""),
    }
    if known("agi_calleridname"):
        extra["caller_name"] = known("agi_calleridname")
    for name, value in env.items():
        if name.startswith("agi_arg_"):
            extra[name[4:]] = value
    return CallInfo(
        call_id=call_id,
        caller=known("agi_callerid"),
        called=known("agi_dnid") or known("agi_extension"),
        connector="audiosocket",
        extra=extra,
    )


class FastAgiServer(TcpServer):
    """Answers Asterisk's FastAGI connections and links each call to its AudioSocket leg."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = AGI_PORT,
        *,
        audiosocket_address: str,
        registry: CallRegistry,
        max_header_lines: int = 64,
        max_line_bytes: int = 4096,
        header_timeout: float = 5.0,
        command_timeout: float = 10.0,
        call_timeout: float | None = 4 * 3600.0,
        link_timeout: float | None = 10.0,
        result_wait: float = 2.0,
        gate: ConnectionGate | None = None,
    ) -> None:
        super().__init__(host, port, line_limit=max_line_bytes, gate=gate)
        self.audiosocket_address = audiosocket_address
        self._registry = registry
        self._max_header_lines = max_header_lines
        self._max_line_bytes = max_line_bytes
        self._header_timeout = header_timeout
        self._command_timeout = command_timeout
        self._call_timeout = call_timeout
        self._link_timeout = link_timeout
        self._result_wait = result_wait
        self._throttle = LogThrottle(log)

    @property
    def audiosocket_address(self) -> str:
        """``host:port`` that Asterisk dials for the audio leg."""
        return self._audiosocket_address

    @audiosocket_address.setter
    def audiosocket_address(self, address: str) -> None:
        parse_address(address)
        self._audiosocket_address = address

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        session = _AgiSession(reader, writer)
        call_id: str | None = None
        try:
            env = await session.read_env(self._max_header_lines, self._header_timeout)
            info = call_info_from_env(str(uuid.uuid4()), env)
            call_id = info.call_id
            self._registry.register(info)
            await self._run_call(session, call_id)
        except _AgiGone:
            log.debug("FastAGI session %s: Asterisk closed the session", call_id or "-")
        except ProtocolError as exc:
            self._throttle.log(
                logging.WARNING, "protocol", "FastAGI session %s dropped: %s", call_id or "-", exc
            )
        except TimeoutError:
            self._throttle.log(
                logging.WARNING,
                "timeout",
                "FastAGI session %s dropped: Asterisk did not answer in time",
                call_id or "-",
            )
        except Exception:
            log.exception("FastAGI session %s failed", call_id or "-")
        finally:
            if call_id is not None:
                self._registry.forget(call_id)
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def _run_call(self, session: _AgiSession, call_id: str) -> None:
        reply = await self._exec_audiosocket(session, call_id)
        if reply.code != 200:
            log.warning("FastAGI session %s: EXEC AudioSocket got code %d", call_id, reply.code)
        elif reply.result == -2:
            log.warning("FastAGI session %s: Asterisk has no AudioSocket application", call_id)
        result = await self._registry.wait_result(call_id, self._result_wait)
        for line in self._variables(call_id, result):
            reply = await session.command(line, self._command_timeout)
            if reply.code == 511:
                log.info("FastAGI session %s: channel is gone, variables not set", call_id)
                return
            if reply.code != 200:
                log.warning("FastAGI session %s: SET VARIABLE got code %d", call_id, reply.code)

    async def _exec_audiosocket(self, session: _AgiSession, call_id: str) -> AgiReply:
        """EXEC AudioSocket; the audio leg must connect within ``link_timeout`` s."""
        command = f"EXEC AudioSocket {call_id},{self.audiosocket_address}"
        exec_task = asyncio.create_task(session.command(command, self._call_timeout))
        if self._link_timeout is None:
            return await exec_task
        link_task = asyncio.create_task(self._registry.wait_linked(call_id, self._link_timeout))
        try:
            await asyncio.wait({exec_task, link_task}, return_when=asyncio.FIRST_COMPLETED)
            if not exec_task.done() and not await link_task:
                raise ProtocolError(f"no AudioSocket connection within {self._link_timeout:g} s")
            return await exec_task
        finally:
            link_task.cancel()
            if not exec_task.done():
                exec_task.cancel()
                with contextlib.suppress(BaseException):
                    await exec_task

    def _variables(self, call_id: str, result: AgiCallResult) -> list[str]:
        """SET VARIABLE lines for the dialplan from the call's outcome."""
        outcome = result.outcome
        commands: list[str] = []
        bot_result = outcome.result or RESULT_HANGUP  # the caller hung up: nothing to decide
        if not result.linked:
            bot_result = RESULT_ERROR
        if outcome.caller_name:
            name = outcome.caller_name[:MAX_CALLER_NAME]
            commands.append(f"SET VARIABLE CALLERID(name) {agi_quote(name)}")
        if outcome.target is not None:
            if SAFE_TRANSFER_TARGET.fullmatch(outcome.target):
                commands.append(f"SET VARIABLE BOT_TRANSFER {agi_quote(outcome.target)}")
            else:
                log.warning("FastAGI session %s: transfer target has unsafe characters", call_id)
                bot_result = RESULT_ERROR
        if outcome.reason and SAFE_REASON.fullmatch(outcome.reason):
            commands.append(f"SET VARIABLE BOT_REASON {agi_quote(outcome.reason)}")
        commands.append(f"SET VARIABLE BOT_RESULT {agi_quote(bot_result)}")
        return commands


class _AgiSession:
    """Line I/O of one FastAGI session."""

    MAX_USAGE_LINES = 200

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.hungup = False  # Asterisk sent a HANGUP line

    async def readline(self) -> str:
        try:
            raw = await self.reader.readline()
        except (ValueError, asyncio.LimitOverrunError):
            raise ProtocolError("line too long") from None
        except (ConnectionError, OSError):
            raise _AgiGone from None
        if not raw.endswith(b"\n"):
            raise _AgiGone  # EOF (a cut last line included)
        return raw.rstrip(b"\r\n").decode("utf-8", "replace")

    async def read_env(self, max_lines: int, timeout: float) -> dict[str, str]:
        env: dict[str, str] = {}
        try:
            async with asyncio.timeout(timeout):
                for _ in range(max_lines + 1):
                    line = await self.readline()
                    if not line:
                        if not env:
                            raise ProtocolError("empty AGI environment")
                        return env
                    name, sep, value = line.partition(":")
                    if not sep or not name.startswith("agi_") or len(name) < 5 or " " in name:
                        raise ProtocolError("malformed AGI environment line")
                    env[name] = value[1:] if value.startswith(" ") else value
        except TimeoutError:
            raise ProtocolError(f"AGI environment not complete within {timeout:g} s") from None
        raise ProtocolError(f"AGI environment longer than {max_lines} lines")

    async def command(self, line: str, timeout: float | None) -> AgiReply:
        try:
            self.writer.write(line.encode("utf-8") + b"\n")
            await self.writer.drain()
        except (ConnectionError, OSError):
            raise _AgiGone from None
        async with asyncio.timeout(timeout):
            while True:
                text = await self.readline()
                if text == "HANGUP":
                    self.hungup = True
                    continue
                if not text:
                    continue
                if text.startswith("520-"):
                    return await self._usage(text)
                return self._parse(text)

    async def _usage(self, first: str) -> AgiReply:
        lines = [first]
        while len(lines) < self.MAX_USAGE_LINES:
            text = await self.readline()
            lines.append(text)
            if text.startswith("520 "):
                return AgiReply(520, None, None, "\n".join(lines))
        raise ProtocolError("520 usage reply without an end line")

    @staticmethod
    def _parse(text: str) -> AgiReply:
        match = _REPLY.fullmatch(text)
        if match is None:
            raise ProtocolError("unexpected line instead of an AGI reply")
        code = int(match.group(1))
        if code != 200:
            return AgiReply(code, None, None, text)
        result = _RESULT.match(match.group(2) or "")
        if result is None:
            raise ProtocolError("200 reply without result=")
        return AgiReply(200, int(result.group(1)), result.group(2), text)
