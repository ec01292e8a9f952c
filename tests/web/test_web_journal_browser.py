"""The journal in a real browser (Playwright driving Debian's Chromium, headless): filter the
list, open a call, play its recording (speed, seek from the transcript), export, see the
dashboard, delete recordings older than a date. ``ADMIN_SCREENSHOTS=1`` also saves
``docs/journal.png``, ``docs/journal-call.png`` and ``docs/journal-dashboard.png``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from aiohttp import web
from playwright.async_api import Page, async_playwright, expect

from bot.web.accounts import Accounts
from tests.web.conftest import PASSWORD, REPO, Host, console_app
from tests.web.journal_data import ORDER_SECONDS, journal_host, seed_calls
from tests.web.test_web_browser import ARGS, CHROMIUM, SHOTS

Site = tuple[str, Host, dict[str, str]]


async def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    if SHOTS:
        await page.screenshot(path=str(REPO / "docs" / f"{name}.png"), full_page=full_page)


@pytest.fixture(scope="module")
def journal_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("journal-nlu")


@pytest.fixture
async def site(tmp_path: Path, journal_model: Path) -> AsyncIterator[Site]:
    assert CHROMIUM.exists(), "Chromium is missing: apt-get install chromium (bootstrap.sh)"
    host = await journal_host(tmp_path, journal_model)
    keys = await seed_calls(host.shop.db, tmp_path / "recordings")
    accounts = Accounts(host.shop.db, host.settings.admin)
    await accounts.create_user("sveta", "supervisor", PASSWORD)
    await accounts.create_user("anna", "admin", PASSWORD)
    runner = web.AppRunner(console_app(host))
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", host, keys
    finally:
        await runner.cleanup()
        await host.shop.close()


async def open_as(base: str, name: str) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = await browser.new_context(
            base_url=base, viewport={"width": 1280, "height": 860}, locale="ru-RU",
            accept_downloads=True,
        )  # fmt: skip
        tab = await context.new_page()
        tab.set_default_timeout(20_000)
        await tab.goto("/admin/journal")
        await tab.fill("input[name=name]", name)
        await tab.fill("input[name=password]", PASSWORD)
        await tab.click("button[type=submit]")
        await expect(tab.locator("h1")).to_have_text("Журнал звонков")
        try:
            yield tab
        finally:
            await browser.close()


@pytest.fixture
async def supervisor(site: Site) -> AsyncIterator[Page]:
    async for tab in open_as(site[0], "sveta"):
        yield tab


async def test_filter_open_play_and_export(supervisor: Page, site: Site, tmp_path: Path) -> None:
    page, (_base, _host, keys) = supervisor, site
    rows = page.locator("#journal-table tbody tr")
    await expect(rows).to_have_count(4)  # the week by default
    await shot(page, "journal")
    await page.fill("input[name=number]", "916")
    await page.click("#journal-filters button[type=submit]")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("+7 916 123-45-67")
    await page.click("text=Сбросить")
    await page.check("input[name=period][value=month]")
    await page.select_option("select[name=result]", "order")
    await page.click("#journal-filters button[type=submit]")
    await expect(rows).to_have_count(2)
    async with page.expect_download() as waiting:
        await page.click("#export-xlsx")
    saved = tmp_path / "export.xlsx"
    await (await waiting.value).save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    assert [r[-1] for r in list(sheet.iter_rows(values_only=True))[1:]] == [
        keys["order"], keys["old"],
    ]  # fmt: skip

    await rows.first.locator("a").first.click()
    await expect(page.locator("h1")).to_contain_text("Звонок")
    await expect(page.locator("#transcript li.caller")).to_have_count(6)
    await expect(page.locator("#order-items")).to_contain_text("Чайник электрический")
    audio = page.locator("#call-audio")
    await page.wait_for_function(
        "() => document.getElementById('call-audio').readyState >= 1", timeout=15_000
    )
    duration = await audio.evaluate("a => a.duration")
    assert abs(duration - ORDER_SECONDS) < 0.5, duration
    await page.click("button.speed[data-rate='1.5']")
    assert await audio.evaluate("a => a.playbackRate") == 1.5
    line = page.locator("#transcript li.caller", has_text="артикул один два три")
    await line.click()  # seeks there and plays
    start = float(await line.get_attribute("data-at") or 0)
    await page.wait_for_function(
        f"() => document.getElementById('call-audio').currentTime > {start + 0.4}"
    )
    assert not await audio.evaluate("a => a.paused")
    await expect(line).to_have_class("caller now")
    await page.click("button.speed[data-rate='1']")
    await audio.evaluate("a => a.pause()")
    await page.evaluate("window.scrollTo(0, 0)")
    await shot(page, "journal-call", full_page=True)


async def test_the_dashboard(supervisor: Page) -> None:
    page = supervisor
    await page.click("nav >> text=Сводка")
    await page.check("input[name=period][value=month]")
    await page.click("#dashboard-period button[type=submit]")
    await expect(page.locator("#fig-calls")).to_have_text("5")
    await expect(page.locator("#fig-orders")).to_have_text("2")
    await expect(page.locator("svg.chart")).to_have_count(6)
    await expect(page.locator("#missed-articles")).to_contain_text("артикул сто сорок два")
    bars = page.locator("svg.chart rect title")
    assert await bars.count() >= 4
    await shot(page, "journal-dashboard")


async def test_an_admin_deletes_old_recordings(site: Site, tmp_path: Path) -> None:
    async for page in open_as(site[0], "anna"):
        await page.click("nav >> text=Записи")
        await expect(page.locator("#disk-use")).to_contain_text("Записей: 2")
        before = (date.today() - timedelta(days=3)).isoformat()
        await page.fill("#delete-recordings input[name=before]", before)
        await page.check("#delete-recordings input[name=confirm]")
        await page.click("#delete-recordings button[type=submit]")
        await expect(page.locator("#deleted")).to_contain_text("Удалено записей: 1")
        await expect(page.locator("#disk-use")).to_contain_text("Записей: 1")
    assert len(list((tmp_path / "recordings").rglob("*.opus"))) == 1
