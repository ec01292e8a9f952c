"""«Пропущенные» over HTTP and in Chromium: the list with the manual's statuses in Russian,
filters by period, number fragment, status and source, paging, a row's history, rights
(supervisor all, manager only the own extension, editor none), bad query values.

The browser part (Playwright driving Debian's Chromium) filters, opens a row, exports
``.xlsx`` and reads it with openpyxl, and sees the dashboard's tile «Время ожидания ответа»;
``ADMIN_SCREENSHOTS=1`` also saves ``docs/missed.png``, ``docs/missed-call.png`` and
``docs/missed-dashboard.png``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Page, async_playwright, expect

from bot.missed.callback_settings import CallbackSettings
from bot.missed.store import MissedCallStore
from bot.web.accounts import Accounts
from bot.web.audit import AuditLog
from connectors.shop.schema import bot_calls, utc_text, voice_messages
from tests.web.conftest import PASSWORD, REPO, Host, add_user, console_app, logged_in, login
from tests.web.journal_data import journal_host
from tests.web.missed_data import IN_WEEK, ZONE, seed_missed, seed_voicemail
from tests.web.test_web_browser import ARGS, CHROMIUM, SHOTS

Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
def journal_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("missed-nlu")


@pytest.fixture
async def host(tmp_path: Path, journal_model: Path) -> AsyncIterator[Host]:
    made = await journal_host(tmp_path, journal_model)
    made.settings.journal = dataclasses.replace(made.settings.journal, timezone="Europe/Moscow")
    try:
        yield made
    finally:
        await made.shop.close()


@pytest.fixture
async def ids(host: Host) -> dict[str, int]:
    return await seed_missed(host.shop.db, ZONE)


@pytest.fixture
async def web_client(host: Host, ids: dict[str, int]) -> AsyncIterator[Client]:
    async with TestClient(TestServer(console_app(host))) as test_client:
        yield test_client


def rows_on(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr class="status-\w+" data-id="(\d+)"', page)]


async def missed(client: Client, query: str = "") -> str:
    response = await client.get(f"/admin/missed?{query}")
    assert response.status == 200, await response.text()
    return await response.text()


def keys(ids: dict[str, int], *names: str) -> list[int]:
    return [ids[n] for n in names]


async def test_the_list_and_its_filters(web_client: Client, host: Host, ids: dict) -> None:
    await logged_in(web_client, host, "supervisor")
    page = await missed(web_client)
    assert rows_on(page) == keys(ids, *IN_WEEK)  # the week by default, newest first
    assert "Пропущенных: 4" in page
    for shown in ("Не перезвонили", "Успешно перезвонили", "Неуспешный вызов"):
        assert f">{shown}</span></td>" in page, shown
    assert ">Клиент позвонил сам</span></td>" in page
    assert "+7 916 123-45-67" in page and "очередь sales" in page and "добавочный 103" in page
    assert rows_on(await missed(web_client, "period=today")) == keys(
        ids, "ext_today", "queue_today"
    )
    assert rows_on(await missed(web_client, "period=yesterday")) == [ids["number_yesterday"]]
    month = rows_on(await missed(web_client, "period=month"))
    assert month == keys(ids, *IN_WEEK, "bot_20days")
    every = await missed(web_client, "period=all")
    assert len(rows_on(every)) == 6 and "номер скрыт" in every
    day = (datetime.now(ZONE) - timedelta(days=3)).date().isoformat()
    custom = await missed(web_client, f"period=custom&from={day}&to={day}")
    assert rows_on(custom) == [ids["queue_3days"]]
    # a fragment of the caller's or the called number, digits only
    assert rows_on(await missed(web_client, "number=%2B7+(916)+123")) == [ids["queue_today"]]
    assert rows_on(await missed(web_client, "number=222334")) == [ids["number_yesterday"]]
    assert rows_on(await missed(web_client, "status=called_back")) == [ids["ext_today"]]
    two = await missed(web_client, "status=failed&status=client_called")
    assert rows_on(two) == keys(ids, "number_yesterday", "queue_3days")
    assert 'value="failed" checked' in two and 'value="called_back" checked' not in two
    assert rows_on(await missed(web_client, "period=all&status=calling")) == [ids["bot_20days"]]
    sales = await missed(web_client, "source=queue:sales")
    assert rows_on(sales) == keys(ids, "queue_today", "queue_3days")
    assert '<option value="queue:sales" selected>очередь sales</option>' in sales
    assert rows_on(await missed(web_client, "period=all&source=queue:support")) == [
        ids["old_40days"]
    ]


async def test_bad_query_values_fall_back(web_client: Client, host: Host, ids: dict) -> None:
    await logged_in(web_client, host, "admin")
    page = await missed(web_client, "period=forever&offset=-3&status=lost&number=abc&from=x")
    assert rows_on(page) == keys(ids, *IN_WEEK)  # the week, every status, from the start
    assert (await web_client.get("/admin/missed/calls/999999")).status == 404
    assert (await web_client.get("/admin/missed/calls/abc")).status == 404
    page = await missed(web_client, "offset=abc&source=" + "x" * 5000)
    assert rows_on(page) == []  # an unknown source matches nothing, and nothing breaks


async def test_paging(web_client: Client, host: Host, ids: dict) -> None:
    host.settings.journal = dataclasses.replace(host.settings.journal, page_size=5)
    await logged_in(web_client, host, "supervisor")
    first = await missed(web_client, "period=all")
    assert rows_on(first) == keys(ids, *IN_WEEK, "bot_20days")
    assert "1–5 из 6" in first and 'id="older"' in first and 'id="newer"' not in first
    link = re.search(r'href="/admin/missed\?([^"]+)" id="older"', first)
    assert link is not None
    second = await missed(web_client, link.group(1).replace("&amp;", "&"))
    assert rows_on(second) == [ids["old_40days"]]
    assert "6–6 из 6" in second and 'id="newer"' in second


async def test_a_row_shows_what_happened(web_client: Client, host: Host, ids: dict) -> None:
    await logged_in(web_client, host, "supervisor")
    response = await web_client.get(f"/admin/missed/calls/{ids['ext_today']}")
    assert response.status == 200
    page = await response.text()
    assert 'id="missed-status">Успешно перезвонили</span>' in page
    history = page[page.index('id="missed-history"') :]
    for seen in ("Звонят сейчас", "Успешно перезвонили", "звонок пропущен", "перезвон"):
        assert seen in history, seen
    for seen in ("Итог", "соединили", "Кому сначала", "клиенту", "Код SIP", "200", "переведён"):
        assert seen in history, seen
    failed = await (await web_client.get(f"/admin/missed/calls/{ids['number_yesterday']}")).text()
    assert "Неуспешный вызов" in failed and "486" in failed and "занято" in failed
    row = await MissedCallStore(host.shop.db).get(ids["number_yesterday"])
    assert row is not None
    next_at = datetime.fromisoformat(row.history[-1]["next_at"]).astimezone(ZONE)
    assert "Следующая попытка" in failed
    assert next_at.strftime("%d.%m.%Y %H:%M:%S") in failed  # in the shop's zone
    client_called = await (await web_client.get(f"/admin/missed/calls/{ids['queue_3days']}")).text()
    assert "клиент позвонил и дозвонился" in client_called
    actions = [e.action for e in await AuditLog(host.shop.db).entries()]
    assert actions.count("просмотр пропущенного") == 3


async def test_rights(web_client: Client, host: Host, ids: dict) -> None:
    await add_user(host, "maria", "manager")
    await add_user(host, "pavel", "manager")
    admin = await logged_in(web_client, host, "admin")
    set_ext = await web_client.post(
        "/admin/users/extension",
        data={"_csrf": admin, "name": "maria", "extension": "103"},
        allow_redirects=False,
    )
    assert set_ext.status == 303
    await web_client.post("/admin/logout", data={"_csrf": admin})
    assert (await login(web_client, "maria")).status == 303
    page = await missed(web_client, "period=all")
    assert rows_on(page) == [ids["ext_today"]]
    assert "пропущенные на вашем внутреннем номере 103" in page
    assert 'name="source"' not in page  # a manager has one source: the own extension
    assert rows_on(await missed(web_client, "period=all&source=queue:sales")) == [ids["ext_today"]]
    assert (await web_client.get(f"/admin/missed/calls/{ids['ext_today']}")).status == 200
    assert (await web_client.get(f"/admin/missed/calls/{ids['queue_today']}")).status == 404
    export = await web_client.get("/admin/missed/export.csv?period=all")
    assert (await export.read()).decode("utf-8-sig").count("\r\n") == 2  # headers + one row
    token = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert token is not None
    await web_client.post("/admin/logout", data={"_csrf": token.group(1)})
    assert (await login(web_client, "pavel")).status == 303
    nothing = await missed(web_client, "period=all")
    assert rows_on(nothing) == [] and "номер не задан" in nothing
    token = re.search(r'name="_csrf" value="([^"]+)"', nothing)
    assert token is not None
    await web_client.post("/admin/logout", data={"_csrf": token.group(1)})
    await add_user(host, "eva", "editor")
    assert (await login(web_client, "eva")).status == 303
    assert (await web_client.get("/admin/missed")).status == 403
    assert (await web_client.get("/admin/missed/export.xlsx")).status == 403
    assert (await web_client.get(f"/admin/missed/calls/{ids['ext_today']}")).status == 403


async def test_the_menu_links_the_journal(web_client: Client, host: Host, ids: dict) -> None:
    await logged_in(web_client, host, "supervisor")
    home = await (await web_client.get("/admin/journal")).text()
    assert re.search(r'<a href="/admin/missed"\s*>Пропущенные</a>', home)


# -- in Chromium --------------------------------------------------------------------------

Site = tuple[str, Host, dict[str, int]]


async def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    if SHOTS:
        await page.screenshot(path=str(REPO / "docs" / f"{name}.png"), full_page=full_page)


@pytest.fixture
async def site(host: Host, ids: dict[str, int]) -> AsyncIterator[Site]:
    assert CHROMIUM.exists(), "Chromium is missing: apt-get install chromium (bootstrap.sh)"
    await Accounts(host.shop.db, host.settings.admin).create_user("sveta", "supervisor", PASSWORD)
    runner = web.AppRunner(console_app(host))
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", host, ids
    finally:
        await runner.cleanup()


@pytest.fixture
async def supervisor(site: Site) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = await browser.new_context(
            base_url=site[0], viewport={"width": 1280, "height": 860}, locale="ru-RU",
            accept_downloads=True,
        )  # fmt: skip
        tab = await context.new_page()
        tab.set_default_timeout(20_000)
        await tab.goto("/admin/missed")
        await tab.fill("input[name=name]", "sveta")
        await tab.fill("input[name=password]", PASSWORD)
        await tab.click("button[type=submit]")
        await expect(tab.locator("h1")).to_have_text("Пропущенные звонки")
        try:
            yield tab
        finally:
            await browser.close()


async def test_in_chromium(supervisor: Page, site: Site, tmp_path: Path) -> None:
    page, (_base, _host, ids) = supervisor, site
    rows = page.locator("#missed-table tbody tr")
    await expect(rows).to_have_count(4)
    await expect(rows.first.locator(".badge")).to_have_text("Успешно перезвонили")
    await shot(page, "missed")
    await page.fill("input[name=number]", "916")
    await page.click("#missed-filters button[type=submit]")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("+7 916 123-45-67")
    await page.click("text=Сбросить")
    await page.check("input[name=period][value=month]")
    await page.check("input[name=status][value=not_called_back]")
    await page.check("input[name=status][value=calling]")
    await page.click("#missed-filters button[type=submit]")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#missed-total")).to_have_text("Пропущенных: 2")
    async with page.expect_download() as waiting:
        await page.click("#export-xlsx")
    saved = tmp_path / "missed.xlsx"
    await (await waiting.value).save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    assert sheet is not None
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][0] == "Время пропущенного"
    assert [(r[5], r[-1]) for r in table[1:]] == [
        ("Не перезвонили", ids["queue_today"]), ("Звонят сейчас", ids["bot_20days"]),
    ]  # fmt: skip
    await page.click("text=Сбросить")
    await rows.first.locator("a").first.click()
    await expect(page.locator("h1")).to_contain_text("Пропущенный звонок")
    await expect(page.locator("#missed-status")).to_have_text("Успешно перезвонили")
    await expect(page.locator("#missed-history tbody tr")).to_have_count(3)
    await expect(page.locator("#missed-history")).to_contain_text("соединили")
    await shot(page, "missed-call", full_page=True)


async def test_the_dashboard_tile(web_client: Client, host: Host, ids: dict) -> None:
    await logged_in(web_client, host, "supervisor")
    page = await (await web_client.get("/admin/dashboard")).text()
    tile = page[page.index('id="fig-waits"') :]
    tile = tile[: tile.index("</div>")]
    assert "Время ожидания ответа" in tile
    # today 35 and 12 s; the week adds 50 and 5; the month 20 (the 40-day-old one is out)
    assert "сегодня: в среднем 23.5 с, дольше всех 35.0 с · пропущенных 2" in tile
    assert "неделя: в среднем 25.5 с, дольше всех 50.0 с · пропущенных 4" in tile
    assert "месяц: в среднем 24.4 с, дольше всех 50.0 с · пропущенных 5" in tile
    assert 'href="/admin/missed"' in tile


async def test_the_tile_without_missed_calls(host: Host) -> None:
    async with TestClient(TestServer(console_app(host))) as client:
        await logged_in(client, host, "editor")
        page = await (await client.get("/admin/dashboard")).text()
    tile = page[page.index('id="fig-waits"') :]
    tile = tile[: tile.index("</div>")]
    assert "сегодня: пропущенных нет" in tile and "месяц: пропущенных нет" in tile
    assert 'href="/admin/missed"' not in tile  # an editor has no missed-call journal


async def test_the_tile_in_chromium(supervisor: Page) -> None:
    page = supervisor
    await page.click("nav >> text=Сводка")
    await expect(page.locator("#wait-today")).to_contain_text("пропущенных 2")
    await expect(page.locator("#wait-month")).to_contain_text("в среднем 24.4 с")
    await page.locator("#fig-waits").scroll_into_view_if_needed()
    await shot(page, "missed-dashboard")


# -- voice messages ------------------------------------------------------------------------


@pytest.fixture
async def voices(host: Host, ids: dict[str, int], tmp_path: Path) -> dict[str, int]:
    folder = tmp_path / "voicemail"
    host.settings.callbacks = CallbackSettings(voicemail_dir=folder)
    return await seed_voicemail(host.shop.db, folder, ids, ZONE)


def voices_on(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-id="(\d+)"', page)]


async def test_voice_messages(web_client: Client, host: Host, voices: dict, ids: dict) -> None:
    await logged_in(web_client, host, "supervisor")
    page = await (await web_client.get("/admin/voicemail")).text()
    assert voices_on(page) == [voices["today"], voices["yesterday"]]  # the week
    assert "Сообщений: 2" in page and "+7 903 567-78-76" in page and "2.5 с" in page
    assert f'href="/admin/missed/calls/{ids["ext_today"]}"' in page
    every = await (await web_client.get("/admin/voicemail?period=all")).text()
    assert voices_on(every) == [voices["today"], voices["yesterday"], voices["old"]]
    today = await (await web_client.get("/admin/voicemail?period=today")).text()
    assert voices_on(today) == [voices["today"]]
    found = await (await web_client.get("/admin/voicemail?period=all&number=8+916+111")).text()
    assert voices_on(found) == [voices["old"]]
    dialled = await (await web_client.get("/admin/voicemail?period=all&number=2223344")).text()
    assert voices_on(dialled) == [voices["yesterday"]]
    played = await web_client.get(f"/admin/voicemail/{voices['today']}/audio")
    assert played.status == 200 and played.headers["Content-Type"] == "audio/ogg; codecs=opus"
    body = await played.read()
    assert body[:4] == b"OggS"
    again = await web_client.get(
        f"/admin/voicemail/{voices['today']}/audio", headers={"Range": "bytes=0-99"}
    )
    assert again.status == 206 and len(await again.read()) == 100
    saved = await web_client.get(f"/admin/voicemail/{voices['today']}/audio?download=1")
    assert saved.status == 200 and (await saved.read()) == body
    assert 'attachment; filename="voicemail-' in saved.headers["Content-Disposition"]
    actions = [e.action for e in await AuditLog(host.shop.db).entries()]
    assert actions.count("прослушивание голосового сообщения") == 1  # once per session
    assert actions.count("скачивание голосового сообщения") == 1
    assert (await web_client.get("/admin/voicemail/999/audio")).status == 404


async def test_a_row_links_its_voice_message(
    web_client: Client, host: Host, voices: dict, ids: dict
) -> None:
    store = MissedCallStore(host.shop.db)
    detail = {"event": "callback", "outcome": "voicemail", "voice_message": voices["today"]}
    await store.set_status(ids["ext_today"], "called_back", detail)
    await logged_in(web_client, host, "supervisor")
    page = await (await web_client.get(f"/admin/missed/calls/{ids['ext_today']}")).text()
    assert "оставил голосовое сообщение" in page
    link = f"/admin/voicemail?period=all&amp;number=9035677876#vm-{voices['today']}"
    assert f'href="{link}"' in page
    listed = await (await web_client.get("/admin/voicemail?period=all&number=9035677876")).text()
    assert f'id="vm-{voices["today"]}"' in listed


async def test_voice_messages_rights_and_paths(
    web_client: Client, host: Host, voices: dict, tmp_path: Path
) -> None:
    await add_user(host, "maria", "manager")
    admin = await logged_in(web_client, host, "admin")
    await web_client.post(
        "/admin/users/extension", data={"_csrf": admin, "name": "maria", "extension": "103"}
    )
    # a row whose file lies outside the folder is never served
    outside = tmp_path / "secret.opus"
    outside.write_bytes(b"OggS-not-yours")

    def point_outside(conn: sa.Connection) -> None:
        conn.execute(
            voice_messages.update()
            .where(voice_messages.c.id == voices["old"])
            .values(recording="../secret.opus")
        )

    await host.shop.db.write(point_outside)
    assert (await web_client.get(f"/admin/voicemail/{voices['old']}/audio")).status == 404
    await web_client.post("/admin/logout", data={"_csrf": admin})
    assert (await login(web_client, "maria")).status == 303
    page = await (await web_client.get("/admin/voicemail?period=all")).text()
    assert voices_on(page) == [voices["today"]] and "вашем внутреннем номере 103" in page
    assert (await web_client.get(f"/admin/voicemail/{voices['today']}/audio")).status == 200
    assert (await web_client.get(f"/admin/voicemail/{voices['yesterday']}/audio")).status == 404
    token = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert token is not None
    await web_client.post("/admin/logout", data={"_csrf": token.group(1)})
    await add_user(host, "eva", "editor")
    assert (await login(web_client, "eva")).status == 303
    assert (await web_client.get("/admin/voicemail")).status == 403


async def test_voice_messages_in_chromium(supervisor: Page, voices: dict) -> None:
    page = supervisor
    await page.click("nav >> text=Голосовые сообщения")
    rows = page.locator("#voicemail-table tbody tr")
    await expect(rows).to_have_count(2)
    await page.fill("input[name=number]", "926")
    await page.click("#voicemail-filters button[type=submit]")
    await expect(rows).to_have_count(1)
    await page.click("text=Сбросить")
    audio = rows.first.locator("audio")
    await audio.evaluate("a => a.play()")
    await page.wait_for_function(
        "() => document.querySelector('#voicemail-table audio').currentTime > 0.3"
    )
    duration = await audio.evaluate("a => a.duration")
    assert abs(duration - 2.5) < 0.3, duration
    await audio.evaluate("a => a.pause()")
    await shot(page, "missed-voicemail")
    async with page.expect_download() as waiting:
        await rows.first.locator("a.download").click()
    assert (await waiting.value).suggested_filename.startswith("voicemail-")


async def test_a_bot_handoff_links_the_journal(web_client: Client, host: Host) -> None:
    key = "0123456789abcdef0123456789abcdef"

    def journal_row(conn: sa.Connection) -> None:
        conn.execute(
            bot_calls.insert().values(
                id=key, call_id="sip-call-7", started_at=utc_text(datetime.now(ZONE))
            )
        )

    await host.shop.db.write(journal_row)
    call = await MissedCallStore(host.shop.db).add(
        missed_at=datetime.now(ZONE), caller="9161234567", called="4951112233",
        source_kind="bot", source="operator", wait_s=8.0, intake="bot",
        external_id="sip-call-7", call_id="sip-call-7",
    )  # fmt: skip
    assert call is not None
    await logged_in(web_client, host, "supervisor")
    page = await (await web_client.get(f"/admin/missed/calls/{call.id}")).text()
    assert f'href="/admin/journal/calls/{key}" id="journal-link"' in page
    assert "бот operator · бот" in page
    other = await (await web_client.get("/admin/missed/calls/1")).text()  # a PBX's: no link
    assert 'id="journal-link"' not in other
