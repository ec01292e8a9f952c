"""The console on the real server: mounted by ``BotServer.build_app``, no webhook secret,
behind the IP allow-list; the first user from the command line; the try-a-call socket."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import build_parser
from bot.edge import edge_middleware
from bot.server import BotServer
from bot.web.app import mount_admin
from bot.web.cli import run_admin
from tests.e2e.test_e2e_server import make_settings
from tests.web.conftest import PASSWORD, Host, console_settings, csrf_of, logged_in, login
from tests.web.test_web_content import XLSX, workbook


async def test_make_run_serves_the_console_and_the_first_user_logs_in(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # with server.http.secret set
    settings.server.asterisk.enabled = False
    settings.server.sip.enabled = False  # SIP has its own tests; its fixed port would collide
    settings.admin = console_settings(tmp_path).admin
    args = build_parser().parse_args(["admin", "create-user", "anna", "--role", "admin"])
    assert await run_admin(settings, args, io.StringIO(PASSWORD + "\n")) == 0
    again = await run_admin(settings, args, io.StringIO(PASSWORD + "\n"))
    assert again == 2  # the name is taken
    bot = BotServer(settings)
    bot.public_sounds = tmp_path / "sounds"
    await bot.start()
    try:
        base = bot.addresses["http"]
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base, cookie_jar=jar) as http:
            async with http.get("/admin", allow_redirects=False) as response:
                assert response.status in (302, 303)  # to the login page, no secret asked
                assert response.headers["Location"].startswith("/admin/")
            assert (await http.get("/metrics")).status == 401  # the secret guards the rest
            client: Any = _Client(http)
            response = await login(client, "anna")
            assert response.status == 303
            async with http.get("/admin/catalog") as page:
                text = await page.text()
                assert page.status == 200 and "Сейчас в каталоге: 30 товаров" in text
            token = text.split('name="_csrf" value="')[1].split('"')[0]
            form = aiohttp.FormData()
            form.add_field("_csrf", token)
            bad = workbook([["1", "Ок", "шт"], ["1", "Дубль", "шт"]])
            form.add_field("file", bad, filename="bad.xlsx", content_type=XLSX)
            async with http.post("/admin/catalog/upload", data=form) as refused:
                page_text = await refused.text()
                assert refused.status == 400
                assert 'data-row="3" data-column="Артикул"' in page_text
            assert bot.shop is not None and len(await bot.shop.db.articles()) == 30
    finally:
        await bot.stop()


class _Client:
    """The two calls of tests.web.conftest.login on a plain ClientSession."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def get(self, path: str, **kwargs: Any) -> Any:
        response = await self.http.get(path, **kwargs)
        await response.read()
        return _Response(response)

    async def post(self, path: str, **kwargs: Any) -> Any:
        response = await self.http.post(path, **kwargs)
        await response.read()
        return _Response(response)


class _Response:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.raw = response
        self.status = response.status
        self.headers = response.headers
        self.cookies = response.cookies

    async def text(self) -> str:
        return await self.raw.text()


async def test_the_allow_list_applies_to_the_console(host: Host) -> None:
    app = web.Application(middlewares=[edge_middleware(host.settings.server.http, ["10.0.0.0/8"])])
    mount_admin(app, host)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/admin/login")).status == 403


async def test_a_try_call_goes_over_the_session_socket(
    client: TestClient[Any, Any], host: Host
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.session.ws_connect(client.make_url("/admin/talk/ws"))
    assert refused.value.status == 401  # no session: no call
    assert not host.calls
    await logged_in(client, host, "supervisor")
    page = await (await client.get("/admin/talk")).text()
    assert "/static/talk.js" in page and "+79607775577" in page
    async with client.session.ws_connect(client.make_url("/admin/talk/ws")) as ws:
        await ws.send_str(json.dumps({"type": "start", "rate": 16000, "caller": "+79607775577"}))
        async with asyncio.timeout(5):
            while not host.calls:
                await asyncio.sleep(0.02)
    assert host.calls[0].info.caller == "+79607775577"
    assert await csrf_of(client, "/admin/talk")
