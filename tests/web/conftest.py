"""A console on a real demo shop (SQLite in a temporary folder) without the speech models.

:class:`Host` stands in for :class:`bot.server.BotServer`: the settings point ``nlu.data``,
``dialog.responses`` and ``server.managers_file`` at temporary copies (the console writes
there, never into ``data/``), the NLU is the real engine, and the synthesizer is a fake that
records what it was asked to say (the browser tests use real Festival instead).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.routing import Managers, Router
from bot.shop_setup import Shop, load_language, open_shop
from bot.web.accounts import Accounts
from bot.web.app import mount_admin
from nlu.verbalize import verbalize
from speech.audio import tone

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "bot" / "static"
PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="_csrf" value="([^"]+)"')


class FakeSynthesizer:
    def __init__(self) -> None:
        self.preprocess = verbalize
        self.said: list[str] = []

    def spoken(self, text: str) -> str:
        return " ".join(self.preprocess(text).split())

    async def synthesize(self, text: str) -> Any:
        self.said.append(self.spoken(text))
        return tone(440, 0.3)

    async def warm(self, phrases: list[str]) -> None:
        return None


def console_settings(folder: Path) -> Settings:
    settings = Settings()
    settings.shop = dataclasses.replace(settings.shop, url=f"sqlite:///{folder / 'shop.sqlite'}")
    for name in ("nlu.yml", "responses.yml", "managers.txt"):
        shutil.copy(REPO / "data" / name, folder / name)
    settings.nlu.data = folder / "nlu.yml"
    settings.nlu.model_dir = folder / "nlu-model"
    settings.dialog = dataclasses.replace(settings.dialog, responses=folder / "responses.yml")
    settings.server.managers_file = str(folder / "managers.txt")
    settings.admin.work_dir = folder / "admin"
    settings.admin.api_token = "api-token-0123456789"
    settings.demo.mail_sink = False
    return settings


@dataclass
class Host:
    settings: Settings
    shop: Shop
    services: Any
    router: Router
    calls: list[Any] = field(default_factory=list)

    async def handle_call(self, transport: Any) -> None:
        self.calls.append(transport)


async def make_host(folder: Path, synthesizer: Any = None) -> Host:
    settings = console_settings(folder)
    shop = await open_shop(settings)
    nlu, responses = await load_language(settings, shop)
    services = SimpleNamespace(
        nlu=nlu, responses=responses, synthesizer=synthesizer or FakeSynthesizer()
    )
    managers = Managers(Path(settings.server.managers_file or ""))
    router = Router([], settings.dialog, managers)
    return Host(settings, shop, services, router)


def console_app(host: Host) -> web.Application:
    app = web.Application(client_max_size=65536)  # the server's small body limit
    mount_admin(app, host)
    app.router.add_static("/static", STATIC, show_index=False)
    return app


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[Host]:
    made = await make_host(tmp_path)
    try:
        yield made
    finally:
        await made.shop.close()


@pytest.fixture
async def client(host: Host) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(console_app(host))) as test_client:
        yield test_client


async def add_user(host: Host, name: str, role: str) -> None:
    await Accounts(host.shop.db, host.settings.admin).create_user(name, role, PASSWORD)


async def csrf_of(client: TestClient[Any, Any], path: str) -> str:
    response = await client.get(path)
    assert response.status == 200, path
    match = CSRF_RE.search(await response.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client: TestClient[Any, Any], name: str, password: str = PASSWORD) -> Any:
    token = await csrf_of(client, "/admin/login")
    return await client.post(
        "/admin/login",
        data={"_csrf": token, "name": name, "password": password, "next": "/admin/"},
        allow_redirects=False,
    )


async def logged_in(client: TestClient[Any, Any], host: Host, role: str) -> str:
    """Create and log in a user of ``role``; return the session's CSRF token."""
    name = f"{role}1"
    await add_user(host, name, role)
    response = await login(client, name)
    assert response.status == 303, await response.text()
    return await csrf_of(client, "/admin/managers")
