"""Security at the edge of the HTTP server: shared secret, IP allow-list, body limits.

Webhook, media and metrics endpoints (``/ws/…``, ``/telphin``, ``/metrics``) need the
configured secret, either as the last path segment (``/ws/twilio/<secret>``, what PBX web
forms can hold) or in the ``X-Bot-Secret`` header; the comparison is constant-time. With
``allow_ips`` set, other addresses get 403 on every path. Body size is capped by aiohttp's
``client_max_size`` and WebSocket messages by each connector's ``max_message_bytes``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.server_settings import HttpSettings, ServerSettings
from connectors.pbx.audio_fork import AudioForkTransport
from connectors.pbx.browser import BrowserTransport
from connectors.pbx.twilio import TwilioTransport
from connectors.pbx.websocket_base import WebSocketTransport

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
PROTECTED_PREFIXES = ("/ws/", "/telphin", "/metrics")
SECRET_HEADER = "X-Bot-Secret"


def edge_middleware(
    settings: HttpSettings,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    networks = [ipaddress.ip_network(c, strict=False) for c in settings.allow_ips]

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if networks and not _allowed(request.remote, networks):
            log.warning(
                "request from an address not on the allow-list", extra={"path": request.path}
            )
            raise web.HTTPForbidden(text="address not allowed\n")
        secret = settings.secret
        if secret and request.path.startswith(PROTECTED_PREFIXES):
            given = request.match_info.get("secret") or request.headers.get(SECRET_HEADER) or ""
            if not hmac.compare_digest(given.encode(), secret.encode()):
                log.warning(
                    "request without the right secret",
                    extra={"path": request.rel_url.path.split("/")[1]},
                )
                raise web.HTTPUnauthorized(text="secret required\n")
        return await handler(request)

    return middleware


def _allowed(
    remote: str | None, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in network for network in networks)


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
