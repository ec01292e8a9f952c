"""``python -m bot rasa-actions``: our shop's custom actions as a rasa-sdk action server.

rasa-sdk's own Sanic application (``POST /webhook``, ``GET /health``, ``GET /actions``)
runs in our event loop beside the shop it needs: the database with the order store (drafts,
journal, recovery) and the e-mail outbox, which it drains like ``bot serve`` does (both may
run on one database: the outbox leases each message to one sender). Point the assistant's
``endpoints.yml`` at it: ``action_endpoint: {url: "http://127.0.0.1:5055/webhook"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import warnings
from collections.abc import Callable

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic

from bot.config import Settings
from bot.rasa.action_kit import ActionShop
from bot.rasa.actions import ACTIONS

log = logging.getLogger(__name__)
# rasa-sdk warns on every Rasa whose minor version differs from its own; the action server
# protocol (tracker in, events and responses out) is the same for Rasa 3.6 (tests prove it)
warnings.filterwarnings(
    "ignore", message="Your versions of rasa and rasa_sdk", category=UserWarning
)


class ActionServerError(Exception):
    def __init__(self, message_ru: str) -> None:
        super().__init__(message_ru)
        self.message_ru = message_ru


def build_app(shop: ActionShop) -> Sanic:
    executor = ActionExecutor()
    for action in ACTIONS:
        executor.register_action(action(shop))
    Sanic._app_registry.pop("rasa_sdk", None)  # one per process, but tests make several
    return create_app(executor, cors_origins="")


async def run_action_server(
    settings: Settings,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is not given)."""
    on_signals = stop is None
    stop = stop or asyncio.Event()
    shop = await ActionShop.open(settings)
    app = build_app(shop)
    background: list[asyncio.Task[None]] = []
    server = None
    try:
        try:
            server = await app.create_server(
                host=host, port=port, return_asyncio_server=True, access_log=False
            )
        except OSError as exc:
            raise ActionServerError(
                f"Сервер действий Rasa не может слушать {host}:{port}: {exc.strerror or exc}"
            ) from None
        if server is None:
            raise ActionServerError("Сервер действий Rasa не запустился")
        await server.startup()
        await server.before_start()
        await server.after_start()
        if on_signals:  # after Sanic's start, which installs handlers of its own
            _stop_on_signals(stop)
        outbox = shop.shop.outbox
        poll = settings.outbox.poll_interval
        background.append(asyncio.create_task(outbox.run(stop, poll), name="outbox"))
        if shop.shop.orders is not None:
            background.append(asyncio.create_task(shop.shop.orders.run(stop), name="orders"))
        sockets = server.server.sockets if server.server is not None else ()
        bound = sockets[0].getsockname()[1] if sockets else port
        log.info("rasa action server listening", extra={"host": host, "port": bound})
        if on_ready is not None:
            on_ready(bound)
        await stop.wait()
    finally:
        stop.set()
        if server is not None:
            with contextlib.suppress(Exception):
                await server.before_stop()
            server.close()
            await server.wait_closed()
            with contextlib.suppress(Exception):
                await server.after_stop()
        await asyncio.gather(*background, return_exceptions=True)
        await shop.close()
        Sanic._app_registry.pop(app.name, None)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
