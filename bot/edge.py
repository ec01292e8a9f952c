"""Security at the edge: shared secret, IP allow-list, limits, for every endpoint.

HTTP. Webhook, media and metrics endpoints (``/ws/…``, ``/telphin``, ``/metrics``, the
missed-call intake ``/missed…``) need the
configured secret, either as the last path segment (``/ws/twilio/<secret>``, what PBX web
forms can hold) or in the ``X-Bot-Secret`` header; the comparison is constant-time. With an
allow-list (``server.allow_ips`` joined with ``server.http.allow_ips``), other addresses get
403 on every path. Body size is capped by aiohttp's ``client_max_size`` and must arrive
within ``body_timeout`` (except under ``/admin/``, whose console streams its uploads with
limits of its own); WebSocket messages by each connector's ``max_message_bytes``; a path
segment over 255 characters is a 404 (no file name is that long). Connections at once (in
all and per source address) and the header deadline are :mod:`bot.http_guard`'s.

FastAGI and AudioSocket get the same allow-list and their own connection limits
(:func:`asterisk_connector`). No log line here carries a path, a query or a header value.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence

import sqlalchemy as sa
from aiohttp import web

from bot.config import Settings
from bot.file_budget import FileBudget, check_file_budget
from bot.http_guard import GuardedSite, SafeAccessLog, route_pattern
from bot.logs import add_secrets, protect_aiohttp_logs
from bot.server_settings import HttpSettings, ServerSettings
from connectors.pbx.asterisk import AsteriskConnector
from connectors.pbx.audio_fork import AudioForkTransport
from connectors.pbx.browser import BrowserTransport
from connectors.pbx.limits import ConnectionGate, LogThrottle, allowed, parse_networks
from connectors.pbx.transport import CallHandler
from connectors.pbx.twilio import TwilioTransport
from connectors.pbx.websocket_base import WebSocketTransport

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
PROTECTED_PREFIXES = ("/ws/", "/telphin", "/metrics", "/missed")
SECRET_HEADER = "X-Bot-Secret"
MAX_SEGMENT = 255  # characters in one path segment (a file name's limit)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# bodies the handlers stream themselves, with their own limits (the editors' console uploads
# catalogs bigger than server.http.max_body_bytes): no pre-read, no body timeout here
STREAMED_PREFIXES = ("/admin/",)
REPLY_THEN_CLOSE_S = 0.5  # after a 408 for a slow body: time for the reply to go out


def prepare(settings: Settings) -> FileBudget:
    """Before any endpoint listens: secrets registered with the log formatter, aiohttp's
    bad-request log tamed, the file-handle budget checked (soft limit raised)."""
    shop_password = None
    with contextlib.suppress(Exception):
        shop_password = sa.make_url(settings.shop.url).password
    sip_password = getattr(getattr(settings.server, "sip", None), "password", None)
    add_secrets(
        settings.server.http.secret,
        settings.mail.password,
        settings.dadata.token,
        settings.dadata.secret,
        shop_password,
        sip_password if isinstance(sip_password, str) else None,
    )
    protect_aiohttp_logs()
    return check_file_budget(settings.server)


def allow_list(server: ServerSettings) -> list[str]:
    """The CIDRs admitted on every endpoint (empty: any address)."""
    return [*server.allow_ips, *server.http.allow_ips]


def edge_middleware(settings: HttpSettings, allow_ips: Sequence[str] = ()) -> Middleware:
    networks = parse_networks([*settings.allow_ips, *allow_ips], "server.allow_ips")
    throttle = LogThrottle(log)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if networks and not allowed(request.remote, networks):
            throttle.log(logging.WARNING, "allow", "http: address not on the allow-list")
            raise web.HTTPForbidden(text="address not allowed\n")
        if any(len(segment) > MAX_SEGMENT for segment in request.path.split("/")):
            raise web.HTTPNotFound(text="not found\n")
        secret = settings.secret
        if secret and request.path.startswith(PROTECTED_PREFIXES):
            given = request.match_info.get("secret") or request.headers.get(SECRET_HEADER) or ""
            if not hmac.compare_digest(given.encode(), secret.encode()):
                throttle.log(
                    logging.WARNING,
                    "secret",
                    "http: request without the right secret",
                    route=route_pattern(request),
                )
                raise web.HTTPUnauthorized(text="secret required\n")
        streamed = request.path.startswith(STREAMED_PREFIXES)
        if request.method in BODY_METHODS and request.body_exists and not streamed:
            try:
                async with asyncio.timeout(settings.body_timeout):
                    await request.read()  # cached: handlers read it again from memory
            except TimeoutError:
                throttle.log(
                    logging.WARNING,
                    "body",
                    "http: request body not complete within %g s",
                    settings.body_timeout,
                )
                _close_after_reply(request)
                raise web.HTTPRequestTimeout(text="request body too slow\n") from None
        return await handler(request)

    return middleware


def _close_after_reply(request: web.Request) -> None:
    """Close a too-slow body's connection once its 408 is out. aiohttp would otherwise linger
    (read and drop the rest of the body) for 10 s more, so a slow client held a connection five
    times as long as ``body_timeout`` (the fault benchmark found one of 30 still open)."""
    protocol = request.protocol
    asyncio.get_running_loop().call_later(REPLY_THEN_CLOSE_S, protocol.force_close)


def add_protected(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """``path`` and ``path/{secret}``: the secret may come in the URL or in the header."""
    app.router.add_route(method, path, handler)
    app.router.add_route(method, path + "/{secret}", handler)


def media_endpoints(server: ServerSettings) -> dict[str, type[WebSocketTransport]]:
    """The enabled WebSocket media endpoints: ``/ws/<name>`` ➜ its transport."""
    endpoints: dict[str, type[WebSocketTransport]] = {}
    if server.twilio:
        endpoints["twilio"] = TwilioTransport
    if server.audio_fork:
        endpoints["audio_fork"] = AudioForkTransport
    if server.browser:
        endpoints["browser"] = BrowserTransport
    return endpoints


# --- listeners ---------------------------------------------------------------------------


def http_gate(server: ServerSettings) -> ConnectionGate:
    http = server.http
    return ConnectionGate(
        "http",
        max_connections=http.max_connections,
        max_per_ip=http.max_connections_per_ip,
        allow_ips=allow_list(server),
    )


def http_site(runner: web.BaseRunner, server: ServerSettings) -> GuardedSite:
    """The HTTP listener with its gate and header deadline (start it with ``await``)."""
    http = server.http
    return GuardedSite(
        runner,
        http.host,
        http.port,
        gate=http_gate(server),
        header_timeout=http.header_timeout,
    )


def runner_options(http: HttpSettings) -> dict[str, object]:
    """``web.AppRunner`` keywords: keep-alive limit and the access log without paths."""
    options: dict[str, object] = {"keepalive_timeout": http.keepalive_timeout}
    if http.access_log:
        options["access_log_class"] = SafeAccessLog
    else:
        options["access_log"] = None
    return options


def asterisk_connector(handler: CallHandler, settings: Settings) -> AsteriskConnector:
    """FastAGI + AudioSocket with the allow-list, connection limits and timeouts."""
    server = settings.server
    ast = server.asterisk
    allow = allow_list(server)

    def gate(name: str) -> ConnectionGate:
        return ConnectionGate(
            name,
            max_connections=ast.max_connections,
            max_per_ip=ast.max_connections_per_ip,
            allow_ips=allow,
        )

    session_timeout = ast.agi_session_timeout or settings.voice.max_call_seconds + 60.0
    return AsteriskConnector(
        handler,
        audiosocket_host=ast.audiosocket_host,
        audiosocket_port=ast.audiosocket_port,
        agi_host=ast.agi_host,
        agi_port=ast.agi_port,
        audiosocket_address=ast.audiosocket_address,
        require_agi=ast.require_agi,
        agi_gate=gate("fastagi"),
        audiosocket_gate=gate("audiosocket"),
        agi_header_timeout=ast.agi_header_timeout,
        agi_session_timeout=session_timeout,
        link_timeout=ast.link_timeout,
        first_frame_timeout=ast.first_frame_timeout,
    )
