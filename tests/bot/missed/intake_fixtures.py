"""Fixtures of the intake tests: a store on a fresh SQLite file, the intake over it, and the
intake's HTTP endpoints on a real loopback socket behind the bot's edge middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.edge import edge_middleware
from bot.missed.intake import MissedCallIntake
from bot.missed.intake_http import missed_handler
from bot.missed.intake_telphin import TelphinEvents, telphin_events_handler
from bot.missed.store import MissedCall, MissedCallStore
from bot.server_settings import HttpSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.settings import ShopSettings

MSK = timezone(timedelta(hours=3))
SECRET = "hook-secret-1"


@dataclass
class Heard:
    """A listener that keeps what it was told."""

    calls: list[MissedCall] = field(default_factory=list)

    async def __call__(self, call: MissedCall) -> None:
        self.calls.append(call)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MissedCallStore]:
    db = await ShopDatabase.open(ShopSettings(url=f"sqlite:///{tmp_path / 'shop.sqlite'}"))
    try:
        yield MissedCallStore(db)
    finally:
        await db.close()


@pytest.fixture
async def intake(store: MissedCallStore) -> AsyncIterator[MissedCallIntake]:
    intake = MissedCallIntake(store, zone=MSK)
    try:
        yield intake
    finally:
        await intake.stop()


@dataclass
class Endpoint:
    base: str
    session: aiohttp.ClientSession
    telphin: TelphinEvents


@pytest.fixture
async def endpoint(intake: MissedCallIntake) -> AsyncIterator[Endpoint]:
    """``/missed`` and ``/missed/telphin`` as ``bot serve`` mounts them (secret required)."""
    from bot.edge import add_protected

    http = HttpSettings(secret=SECRET, max_body_bytes=64 * 1024)
    app = web.Application(client_max_size=http.max_body_bytes)
    app.middlewares.append(edge_middleware(http))  # type: ignore[arg-type]
    telphin = TelphinEvents(intake, max_calls=50, track_s=3600)
    add_protected(app, "POST", "/missed/telphin", telphin_events_handler(telphin, 4096))
    add_protected(app, "GET", "/missed/telphin", telphin_events_handler(telphin, 4096))
    add_protected(app, "POST", "/missed", missed_handler(intake, 4096))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    session = aiohttp.ClientSession()
    try:
        yield Endpoint(f"http://127.0.0.1:{port}", session, telphin)
    finally:
        await session.close()
        await runner.cleanup()
