"""Пробный звонок: the browser call page (``bot/static/talk.js``, the same script as ``/talk``)
inside the console, with the caller's number to choose (a known customer or a new one), as
the seeds' CRM module offers a telephony emulator.

The call goes over ``/admin/talk/ws``: the browser connector's WebSocket behind the console's
session instead of the webhook secret (the page never sees the secret). ``talk.js`` builds its
URL as ``/ws/browser`` + ``?suffix``; the page passes ``/../../admin/talk/ws``, which the
browser's URL parser resolves to ``/admin/talk/ws``.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.app import Console, console
from bot.web.layout import page, render
from connectors.pbx.browser import BrowserTransport
from connectors.pbx.websocket_base import websocket_handler

SUFFIX = "/../../admin/talk/ws"


@page("view")
async def show(request: web.Request) -> web.StreamResponse:
    state = console(request)
    if request.query.get("suffix") != SUFFIX:
        raise web.HTTPFound(f"/admin/talk?suffix={SUFFIX}")
    callers = state.settings.test_callers
    return render(
        request, "talk.html", {"callers": callers, "caller": callers[0] if callers else ""}
    )


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/talk", show)
    if state.host.settings.server.browser:
        http = state.host.settings.server.http
        handler = websocket_handler(
            state.host.handle_call, BrowserTransport, max_message_bytes=http.max_ws_message_bytes
        )
        app.router.add_get("/talk/ws", page("view")(handler))
