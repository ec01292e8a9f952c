"""The HTTP listener's own limits, below aiohttp: who connects, how many, how slowly.

:class:`GuardedSite` is aiohttp's ``TCPSite`` with every connection passed through a
:class:`GuardedProtocol` first:

- the endpoint's :class:`~connectors.pbx.limits.ConnectionGate` (allow-list, connections at
  once in all and per source address): a refused connection gets a fixed ``403``/``503``
  answer and is closed before aiohttp sees a byte of it, so it costs one socket for a moment;
- a header deadline: the request line and headers of the first request must be complete
  within ``header_timeout`` seconds (slow-header clients get ``408`` and are closed); later
  requests on a keep-alive connection are bounded by aiohttp's ``keepalive_timeout``;
  WebSocket calls are not limited in length (the session has its own limits).

Request bodies get ``server.http.body_timeout`` in :mod:`bot.edge`. :class:`SafeAccessLog`
writes one access line per request with the method, the route's pattern (never the path:
it may hold the secret), the status and the time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from connectors.pbx.limits import REFUSED_ADDRESS, ConnectionGate, LogThrottle, peer_ip

log = logging.getLogger(__name__)

_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


def _answer(status: int, reason: str) -> bytes:
    return (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").encode(
        "ascii"
    )


REFUSED_403 = _answer(403, "Forbidden")
REFUSED_503 = _answer(503, "Service Unavailable")
TIMEOUT_408 = _answer(408, "Request Timeout")


class GuardStats:
    """Counters of one listener, for tests and the benchmark."""

    def __init__(self) -> None:
        self.admitted = 0
        self.header_timeouts = 0


class GuardedProtocol(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection (see the module docstring)."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        gate: ConnectionGate,
        header_timeout: float,
        stats: GuardStats,
        throttle: LogThrottle,
    ) -> None:
        self._factory = factory
        self._gate = gate
        self._header_timeout = header_timeout
        self._stats = stats
        self._throttle = throttle
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._remote = ""
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._remote = peer_ip(transport.get_extra_info("peername"))
        refusal = self._gate.admit(self._remote)
        if refusal is not None:
            transport.write(REFUSED_403 if refusal == REFUSED_ADDRESS else REFUSED_503)
            transport.close()
            return
        self._stats.admitted += 1
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._header_timeout, self._head_too_slow)
        self._inner = self._factory()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._timer is not None:
            seen = self._tail + data
            if any(end in seen for end in _HEAD_ENDS):
                self._timer.cancel()
                self._timer = None
                self._tail = b""
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._inner is None:
            return
        self._gate.release(self._remote)
        inner, self._inner = self._inner, None
        inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def _head_too_slow(self) -> None:
        self._timer = None
        self._stats.header_timeouts += 1
        self._throttle.log(
            logging.WARNING,
            "header-timeout",
            "http: request headers not complete within %g s; closing",
            self._header_timeout,
        )
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(TIMEOUT_408)
            self._transport.close()


class GuardedSite(web.TCPSite):
    """``web.TCPSite`` whose connections pass a :class:`GuardedProtocol` first."""

    __slots__ = ("gate", "guard_stats", "header_timeout", "throttle")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        gate: ConnectionGate,
        header_timeout: float,
        backlog: int = 1024,
    ) -> None:
        super().__init__(runner, host, port, backlog=backlog)
        self.gate = gate
        self.header_timeout = header_timeout
        self.guard_stats = GuardStats()
        self.throttle = LogThrottle(log)

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner
        factory = self._runner.server
        assert factory is not None

        def protocol() -> asyncio.Protocol:
            return GuardedProtocol(
                factory, self.gate, self.header_timeout, self.guard_stats, self.throttle
            )

        loop = asyncio.get_running_loop()
        self._server = server = await loop.create_server(
            protocol, self._host, self._port, backlog=self._backlog, reuse_address=True
        )
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self._bound_port = int(sockets[0].getsockname()[1])


class SafeAccessLog(AbstractAccessLogger):
    """One line per request without the path or the query (secrets, numbers, names)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "http request",
            extra={
                "method": _token(request.method),
                "route": route_pattern(request),
                "status": response.status,
                "ms": round(time * 1000),
            },
        )


def route_pattern(request: web.BaseRequest) -> str:
    """The matched route's pattern (``/ws/twilio/{secret}``), or ``-`` for none."""
    try:
        match_info: Any = getattr(request, "match_info")  # noqa: B009 - web.Request only
    except Exception:
        return "-"
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    canonical = getattr(resource, "canonical", None)
    return canonical if isinstance(canonical, str) and canonical else "-"


def _token(text: str) -> str:
    return text if text.isascii() and text.isalpha() and len(text) <= 10 else "?"
