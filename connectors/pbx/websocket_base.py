"""What every WebSocket media connector shares: one socket per call, a reader, limits, close.

A format module (:mod:`connectors.pbx.twilio`, :mod:`connectors.pbx.audio_fork`,
:mod:`connectors.pbx.browser`) subclasses :class:`WebSocketTransport` and fills two methods:
:meth:`~WebSocketTransport.parse_start` (the peer's first message(s) ➜ :class:`CallInfo`) and
:meth:`~WebSocketTransport.parse_message` (one later message ➜ inbound events). Its aiohttp
handler calls :func:`serve_call`, which

1. upgrades the request (``ws.prepare``; a plain HTTP request gets 400),
2. waits up to ``start_timeout`` seconds for the start/metadata message (none ➜ close 1008
   and one log line),
3. starts a reader task that feeds an inbound queue (:meth:`CallTransport.events`),
4. awaits ``handler(transport)``, and closes the socket when the handler returns
   (1000; 1011 if it raised) or when the peer goes away.

:func:`websocket_handler` is the one aiohttp handler factory for every format:
``websocket_handler(call_handler, TwilioTransport, mark_timeout=2.0)``; keyword options
other than the limits go to the transport's constructor.

Limits and errors. Every message is limited to ``max_message_bytes`` (aiohttp's
``max_msg_size``: a bigger frame makes aiohttp close with 1009). Anything malformed — not JSON,
wrong types, bad base64, odd PCM length, binary where text is expected, unknown events, a frame
bigger than the limit — raises :class:`WireError` (a :class:`ProtocolError`) inside the reader:
the call gets one ``WARNING`` log line (call id and connector only; never caller or called
numbers: they are in ``CallInfo`` and never in log text), a :class:`HangupIn` ``"protocol
error"`` event, the end of its event stream and a close frame with a fitting code (1002
protocol error, 1003 unsupported data, 1007 invalid payload, 1009 too big). Other calls and the
server go on. If the handler does not return within ``handler_grace`` seconds after the peer
went away it is cancelled, so a stuck handler never holds a dead socket for ever.

After :meth:`WebSocketTransport.close` (the bot's ``hangup``/``transfer``), sends are silently
dropped and :meth:`events` ends without a ``HangupIn`` (the bot ended the call itself).

Close codes are those of RFC 6455 §7.4.1 (aiohttp ``WSCloseCode``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.http_websocket import WSMessage

from connectors.pbx.transport import (
    CallHandler,
    CallInfo,
    CallTransport,
    HangupIn,
    InboundEvent,
    ProtocolError,
)
from connectors.pbx.websocket_fields import (
    DTMF_DIGITS,
    WireError,
    b64decode_strict,
    b64encode,
    check_digit,
    check_identifier,
    get_int,
    get_number_str,
    get_object,
    get_str,
    new_call_id,
    parse_json_object,
    pcm_audio,
)

log = logging.getLogger(__name__)

__all__ = [  # the fields' helpers are re-exported for the format modules
    "DTMF_DIGITS",
    "WebSocketTransport",
    "WireError",
    "b64decode_strict",
    "b64encode",
    "check_digit",
    "check_identifier",
    "get_int",
    "get_number_str",
    "get_object",
    "get_str",
    "new_call_id",
    "parse_json_object",
    "pcm_audio",
    "serve_call",
    "websocket_handler",
]

DEFAULT_MAX_MESSAGE_BYTES = 65536
DEFAULT_START_TIMEOUT = 10.0
DEFAULT_HANDLER_GRACE = 10.0
CLOSE_TIMEOUT = 2.0  # how long close() waits for the peer's close frame
INBOUND_QUEUE_SIZE = 500  # 10 s of 20 ms frames; a full queue stops reading (TCP back-pressure)

AiohttpHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebSocketTransport(CallTransport):
    """One call over one ``aiohttp.web.WebSocketResponse``.

    Subclasses set :attr:`connector` and implement :meth:`parse_start` and
    :meth:`parse_message` (raise :class:`WireError` on anything malformed), plus the bot-side
    methods (``play``, ``clear``, ``transfer``, ``hangup``) with :meth:`send_json` /
    :meth:`send_bytes` / :meth:`close`.
    """

    connector: ClassVar[str] = "websocket"
    subprotocols: ClassVar[tuple[str, ...]] = ()  # offered in the upgrade (mod_audio_fork's)

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self._queue: asyncio.Queue[InboundEvent | None] = asyncio.Queue(INBOUND_QUEUE_SIZE)
        self._send_lock = asyncio.Lock()
        self._closed_locally = False
        self._ended = False  # the inbound stream has ended (sentinel queued)
        self.close_code: int | None = None

    # -- subclass hooks ---------------------------------------------------------------------

    def parse_start(self, msg: WSMessage) -> CallInfo | None:
        """The start/metadata message ➜ ``CallInfo`` (set ``self.rate`` too); ``None`` for a
        preamble message that comes before it (Twilio's ``connected``)."""
        raise NotImplementedError

    def parse_message(self, msg: WSMessage) -> Iterable[InboundEvent]:
        """One TEXT or BINARY message after the start ➜ zero or more inbound events."""
        raise NotImplementedError

    def on_close(self) -> None:
        """Called once when the socket is being closed (cancel timers, drop buffers)."""

    def on_stream_end(self) -> None:
        """Called once when no more inbound messages will come (wake anyone waiting)."""

    # -- CallTransport ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[InboundEvent]:
        while True:
            item = await self._queue.get()
            if item is None:
                self._queue.put_nowait(None)  # later iterations end at once too
                return
            yield item

    # -- sending ------------------------------------------------------------------------------

    @property
    def stream_ended(self) -> bool:
        """No more inbound messages will be read (peer gone, stop, protocol error, closed)."""
        return self._ended

    @property
    def closed(self) -> bool:
        return self._closed_locally or self.ws.closed

    async def send_json(self, message: Mapping[str, Any]) -> None:
        await self._send(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    async def send_bytes(self, data: bytes) -> None:
        await self._send(data)

    async def _send(self, data: str | bytes) -> None:
        async with self._send_lock:
            if self.closed:
                return  # the call is gone; the session may still be finishing a frame
            try:
                if isinstance(data, str):
                    await self.ws.send_str(data)
                else:
                    await self.ws.send_bytes(data)
            except (ConnectionError, RuntimeError):
                log.debug("send on a closed %s socket dropped", self.connector)

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Close the socket once (later calls do nothing)."""
        if self._closed_locally:
            return
        self._closed_locally = True
        self.on_close()
        if self.ws.closed:  # the peer closed first (or aiohttp did, e.g. 1009)
            self.close_code = self.ws.close_code
            return
        self.close_code = int(code)
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode()[:120])

    # -- reading ------------------------------------------------------------------------------

    async def wait_start(self) -> bool:
        """Read until the start message: ``True`` when the call started, ``False`` if the peer
        went away first. Malformed input raises :class:`WireError`."""
        while True:
            msg = await self.ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return False
            if msg.type is WSMsgType.ERROR:
                raise _error_message(msg)
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            info = self.parse_start(msg)
            if info is not None:
                self.info = info
                return True

    async def _read_loop(self) -> None:
        try:
            while True:
                msg = await self.ws.receive()
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    if not self._closed_locally:
                        await self._queue.put(HangupIn("peer closed"))
                    return
                if msg.type is WSMsgType.ERROR:
                    raise _error_message(msg)
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                for event in self.parse_message(msg):
                    await self._queue.put(event)
                    if isinstance(event, HangupIn):
                        return
        except ProtocolError as exc:
            self.log_protocol_error(exc)
            await self._queue.put(HangupIn("protocol error"))
            await self.close(_close_code(exc), "protocol error")
        except Exception:  # a bug in a parser must still end only this call
            self.log(logging.ERROR, "reading failed", exc_info=True)
            await self._queue.put(HangupIn("internal error"))
            await self.close(WSCloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self._end_stream()

    def _end_stream(self) -> None:
        if self._ended:
            return
        self._ended = True
        self.on_stream_end()
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:  # nobody reads; make room for the end marker
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    def log_protocol_error(self, exc: BaseException) -> None:
        self.log(logging.WARNING, "ended: protocol error: %s", exc)

    def log(self, level: int, text: str, *args: object, exc_info: bool = False) -> None:
        """One log line about this call: connector and call id, never phone numbers."""
        call_id = getattr(getattr(self, "info", None), "call_id", "")
        log.log(
            level,
            "%s call %s: " + text,
            self.connector,
            call_id or "(not started)",
            *args,
            exc_info=exc_info,
            extra={"call_id": call_id, "connector": self.connector},
        )

    # -- one call -----------------------------------------------------------------------------

    async def run(self, handler: CallHandler, handler_grace: float) -> None:
        """Read in the background while ``handler(self)`` runs; close when it is over."""
        reader = asyncio.create_task(self._read_loop(), name=f"{self.connector}-reader")

        async def call() -> None:
            await handler(self)

        task = asyncio.create_task(call(), name=f"{self.connector}-call")
        code: int = WSCloseCode.OK
        try:
            done, _ = await asyncio.wait({reader, task}, return_when=asyncio.FIRST_COMPLETED)
            if task not in done:  # the peer went away or broke the protocol
                done, _ = await asyncio.wait({task}, timeout=handler_grace)
                if task not in done:
                    msg = "handler still running %.1f s after the call ended; cancelling it"
                    self.log(logging.WARNING, msg, handler_grace)
                    task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
            except Exception:
                code = WSCloseCode.INTERNAL_ERROR
                self.log(logging.ERROR, "handler failed", exc_info=True)
        finally:
            task.cancel()
            await self.close(code, "internal error" if code != WSCloseCode.OK else "")
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            self._end_stream()


def _close_code(exc: BaseException) -> int:
    return int(getattr(exc, "close_code", WSCloseCode.PROTOCOL_ERROR))


def _error_message(msg: WSMessage) -> WireError:
    """aiohttp reports a frame it could not accept (too big, bad UTF-8, …) as ERROR."""
    exc = msg.data
    code = getattr(exc, "code", WSCloseCode.PROTOCOL_ERROR)
    if code == WSCloseCode.MESSAGE_TOO_BIG:
        return WireError("message bigger than the size limit", WSCloseCode.MESSAGE_TOO_BIG)
    if code == WSCloseCode.INVALID_TEXT:
        return WireError("text frame is not valid UTF-8", WSCloseCode.INVALID_TEXT)
    return WireError("invalid WebSocket frame", int(code) if isinstance(code, int) else 1002)


TransportFactory = Callable[[web.WebSocketResponse, web.Request], WebSocketTransport]


async def serve_call(
    request: web.Request,
    handler: CallHandler,
    transport_factory: TransportFactory,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    protocols: Sequence[str] = (),
    handler_grace: float = DEFAULT_HANDLER_GRACE,
) -> web.StreamResponse:
    """Serve one WebSocket call from upgrade to close (see the module docstring)."""
    ws = web.WebSocketResponse(
        max_msg_size=max_message_bytes,
        protocols=tuple(protocols),
        timeout=CLOSE_TIMEOUT,
        compress=False,  # PCM and base64 audio barely compress; save the CPU
    )
    if not ws.can_prepare(request).ok:
        return web.Response(status=400, text="WebSocket upgrade expected\n")
    await ws.prepare(request)
    transport = transport_factory(ws, request)
    try:
        async with asyncio.timeout(start_timeout):
            started = await transport.wait_start()
    except TimeoutError:
        transport.log(logging.WARNING, "no start message within %.1f s; closing", start_timeout)
        await transport.close(WSCloseCode.POLICY_VIOLATION, "no start message")
        return ws
    except ProtocolError as exc:
        transport.log_protocol_error(exc)
        await transport.close(_close_code(exc), "protocol error")
        return ws
    if not started:
        transport.log(logging.DEBUG, "peer closed before the start message")
        await transport.close()
        return ws
    transport.log(logging.DEBUG, "started at %d Hz", transport.rate)
    await transport.run(handler, handler_grace)
    transport.log(logging.DEBUG, "closed (code %s)", transport.close_code)
    return ws


def websocket_handler(
    call_handler: CallHandler,
    transport: type[WebSocketTransport],
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    protocols: Sequence[str] | None = None,
    handler_grace: float = DEFAULT_HANDLER_GRACE,
    **options: Any,
) -> AiohttpHandler:
    """An aiohttp GET handler serving one call of ``transport``'s format per socket.

    ``protocols`` defaults to the transport's :attr:`~WebSocketTransport.subprotocols`;
    ``options`` (``mark_timeout``, ``play_batch_ms``, …) go to its constructor.
    """
    offered = transport.subprotocols if protocols is None else tuple(protocols)

    def factory(ws: web.WebSocketResponse, request: web.Request) -> WebSocketTransport:
        return transport(ws, request, **options)

    async def handle(request: web.Request) -> web.StreamResponse:
        return await serve_call(
            request,
            call_handler,
            factory,
            max_message_bytes=max_message_bytes,
            start_timeout=start_timeout,
            protocols=offered,
            handler_grace=handler_grace,
        )

    return handle
