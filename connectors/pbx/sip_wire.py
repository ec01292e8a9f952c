"""SIP over UDP and TCP on one port: framing, size and time limits, parsing, 400 for junk.

Messages are parsed with ``aiosipua``'s message model. Its own transports are not used:
they answer nothing to a malformed request, have no time limits on TCP, and its TCP
transport cannot open a connection by itself when we send first (REGISTER, REFER).
Here every datagram and every TCP message is capped at ``max_bytes`` (headers and body),
a TCP message must arrive whole within ``MESSAGE_TIMEOUT`` of its first byte, a silent
connection is closed after ``idle_timeout``, and at most ``max_connections`` are kept.
A message that cannot be parsed, or a request without its mandatory headers, is answered
``400 Bad Request`` when it names a Via to answer, and logged without its content.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosipua.message import SipMessage, SipRequest, SipResponse

log = logging.getLogger(__name__)

MESSAGE_TIMEOUT = 10.0
REQUIRED = ("via", "from", "to", "call-id", "cseq")
CONTENT_LENGTH_RE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)
COPY_ON_400 = ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")


class BadMessage(ValueError):
    """A SIP message we cannot take; ``str()`` is the reason, without the content."""


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a message came from (and where its answer goes): address and transport."""

    host: str
    port: int
    transport: str = "udp"  # "udp" | "tcp"

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)


Handler = Callable[[SipRequest | SipResponse, Peer], None]


def parse(data: bytes, max_bytes: int) -> SipRequest | SipResponse:
    """Parse one message; :class:`BadMessage` names what is wrong."""
    if len(data) > max_bytes:
        raise BadMessage(f"message of {len(data)} bytes exceeds {max_bytes}")
    head = data.split(b"\r\n", 1)[0]
    if not re.match(rb"^(SIP/2\.0 \d{3} |[A-Z]+ \S+ SIP/2\.0$)", head):
        raise BadMessage("bad start line")
    try:
        message = SipMessage.parse(data)
    except Exception as exc:  # aiosipua raises ValueError and friends
        raise BadMessage(f"unparseable: {type(exc).__name__}") from None
    missing = [name for name in REQUIRED if not message.headers.get(name)]
    if missing:
        raise BadMessage(f"missing {', '.join(missing)}")
    try:
        cseq = message.cseq
        _ = message.via, message.from_addr, message.to_addr
    except Exception:
        raise BadMessage("malformed Via, From, To or CSeq") from None
    if cseq is None or cseq.seq < 0 or cseq.seq >= 2**31:
        raise BadMessage("bad CSeq")
    if (
        isinstance(message, SipRequest)
        and cseq.method.upper() != message.method.upper()
        and message.method.upper() not in ("ACK", "CANCEL")
    ):
        raise BadMessage("CSeq method differs from the request")
    declared = message.headers.get_first("content-length")
    if declared is not None and (
        not declared.strip().isdigit() or len(message.body) < int(declared)
    ):
        raise BadMessage("body shorter than Content-Length")
    return message


def bad_request(data: bytes, reason: str) -> bytes | None:
    """A ``400`` built from the raw lines of a request we could not parse (None: no Via or
    not a request)."""
    text = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].startswith("SIP/"):
        return None
    kept = []
    for line in lines[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name in COPY_ON_400 and ":" in line and len(line) < 1024:
            kept.append(line.strip())
    if not any(k.split(":", 1)[0].strip().lower() in ("via", "v") for k in kept):
        return None
    phrase = re.sub(r"[^ -~]", "?", reason)[:80]
    head = [f"SIP/2.0 400 Bad Request ({phrase})", *kept, "Content-Length: 0", "", ""]
    return "\r\n".join(head).encode()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, wire: SipWire) -> None:
        self.wire = wire

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if data.strip(b"\r\n") == b"":  # RFC 5626 keep-alive
            return
        self.wire._received(data, Peer(str(addr[0]), int(addr[1]), "udp"))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP UDP error: %r", exc)


class SipWire:
    """The SIP sockets of one endpoint; ``handler`` gets every well-formed message."""

    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        *,
        udp: bool = True,
        tcp: bool = True,
        max_bytes: int = 16384,
        idle_timeout: float = 120.0,
        max_connections: int = 128,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.udp = udp
        self.tcp = tcp
        self.max_bytes = max_bytes
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.bad_messages = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(20):  # port 0: UDP picks a port, TCP must get the same one
            port = self.port
            udp = None
            try:
                if self.udp:
                    udp, _ = await loop.create_datagram_endpoint(
                        lambda: _Udp(self), local_addr=(self.host, port)
                    )
                    port = int(udp.get_extra_info("sockname")[1])
                if self.tcp:
                    self._server = await asyncio.start_server(
                        self._serve, self.host, port, limit=self.max_bytes + 1024
                    )
                    port = int(self._server.sockets[0].getsockname()[1])
            except OSError as exc:
                if udp is not None:
                    udp.close()
                if self.port or attempt == 19:
                    raise OSError(
                        exc.errno,
                        f"SIP cannot listen on {self.host}:{port} ({exc.strerror}); "
                        "change server.sip.port or set server.sip.enabled: false",
                    ) from exc
                continue
            self._udp = udp
            self.port = port
            return

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    # -- sending ---------------------------------------------------------------------------

    def send(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        self.send_raw(bytes(message), peer)

    def send_raw(self, data: bytes, peer: Peer) -> None:
        if peer.transport == "tcp":
            writer = self._connections.get(peer.addr)
            if writer is not None and not writer.is_closing():
                writer.write(data)
            else:
                self._spawn(self._connect_and_send(peer, data))
        elif self._udp is not None:
            self._udp.sendto(data, peer.addr)

    async def _connect_and_send(self, peer: Peer, data: bytes) -> None:
        try:
            async with asyncio.timeout(5.0):
                reader, writer = await asyncio.open_connection(
                    peer.host, peer.port, limit=self.max_bytes + 1024
                )
        except (OSError, TimeoutError) as exc:
            log.warning("SIP TCP connect failed", extra={"peer": peer.host, "error": repr(exc)})
            return
        writer.write(data)
        await self._read_loop(reader, writer, peer)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- receiving -------------------------------------------------------------------------

    def _received(self, data: bytes, peer: Peer) -> None:
        try:
            message = parse(data, self.max_bytes)
        except BadMessage as exc:
            self.bad_messages += 1
            log.warning(
                "SIP message refused",
                extra={"peer": peer.host, "transport": peer.transport, "error": str(exc)},
            )
            reply = bad_request(data, str(exc))
            if reply is not None:
                self.send_raw(reply, peer)
            return
        if isinstance(message, SipRequest):
            _stamp_received(message, peer)
        try:
            self.handler(message, peer)
        except Exception:
            log.exception("SIP message handler failed", extra={"peer": peer.host})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        name = writer.get_extra_info("peername")
        peer = Peer(str(name[0]), int(name[1]), "tcp")
        if len(self._connections) >= self.max_connections:
            log.warning("SIP TCP connection refused: too many", extra={"peer": peer.host})
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._read_loop(reader, writer, peer)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _read_loop(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        self._connections[peer.addr] = writer
        try:
            while True:
                data = await self._read_message(reader)
                if data is None:
                    break
                self._received(data, peer)
        except (BadMessage, asyncio.LimitOverrunError, ValueError) as exc:
            self.bad_messages += 1
            log.warning("SIP TCP connection dropped", extra={"peer": peer.host, "error": str(exc)})
        except (ConnectionError, OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            if self._connections.get(peer.addr) is writer:
                del self._connections[peer.addr]
            writer.close()

    async def _read_message(self, reader: asyncio.StreamReader) -> bytes | None:
        async with asyncio.timeout(self.idle_timeout):
            first = await reader.read(1)
            while first in (b"\r", b"\n"):  # keep-alive CRLFs between messages
                first = await reader.read(1)
        if not first:
            return None
        async with asyncio.timeout(MESSAGE_TIMEOUT):
            head = first + await reader.readuntil(b"\r\n\r\n")
            if len(head) > self.max_bytes:
                raise BadMessage("header section too long")
            match = CONTENT_LENGTH_RE.search(head)
            if match is None:
                raise BadMessage("no Content-Length on TCP")
            length = int(match.group(1))
            if len(head) + length > self.max_bytes:
                raise BadMessage(f"body of {length} bytes too long")
            body = await reader.readexactly(length) if length else b""
        return head + body


def _stamp_received(request: SipRequest, peer: Peer) -> None:
    """``received``/``rport`` on the top Via (RFC 3261 §18.2.1, RFC 3581)."""
    vias = list(request.headers.get("via"))
    top = vias[0]
    params = top.split(";")[1:]
    names = [p.split("=", 1)[0].strip().lower() for p in params]
    extra = ""
    if "received" not in names:
        extra += f";received={peer.host}"
    if "rport" in names and not any(p.strip().lower().startswith("rport=") for p in params):
        top = re.sub(r";\s*rport(?=;|$)", f";rport={peer.port}", top, count=1, flags=re.I)
    vias[0] = top + extra
    request.headers.remove("via")
    for via in vias:
        request.headers.append("Via", via)
