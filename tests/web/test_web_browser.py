"""The console in a real browser: Playwright driving Debian's Chromium, headless.

Chromium is ``/usr/bin/chromium`` (Debian package ``chromium``, in scripts/apt-packages.txt;
never ``playwright install``); a missing browser or Playwright fails these tests. The server
is the console on a demo shop (tests/web/conftest.py) with the real Festival voice, so
«Прослушать» plays what the bot would say. ``ADMIN_SCREENSHOTS=1`` also saves the main pages
as ``docs/admin-*.png``.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from playwright.async_api import Page, async_playwright, expect

from bot.voice import build_synthesizer
from bot.web.accounts import Accounts
from nlu.verbalize import verbalize
from tests.web.conftest import PASSWORD, REPO, Host, console_app, make_host

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SHOTS = os.environ.get("ADMIN_SCREENSHOTS") == "1"


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=str(REPO / "docs" / f"admin-{name}.png"), full_page=False)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, Host]]:
    assert CHROMIUM.exists(), "Chromium is missing: apt-get install chromium (bootstrap.sh)"
    synthesizer = build_synthesizer(_tts())
    synthesizer.preprocess = verbalize
    host = await make_host(tmp_path, synthesizer)
    await Accounts(host.shop.db, host.settings.admin).create_user("anna", "admin", PASSWORD)
    runner = web.AppRunner(console_app(host))
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", host
    finally:
        await runner.cleanup()
        await host.shop.close()


def _tts() -> Any:
    from bot.voice_settings import TtsSettings

    return TtsSettings(engine="festival", fallback=[], cache_dir=None)


@pytest.fixture
async def page(site: tuple[str, Host]) -> AsyncIterator[Page]:
    base, _host = site
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = await browser.new_context(
            base_url=base, viewport={"width": 1280, "height": 860}, locale="ru-RU"
        )
        tab = await context.new_page()
        tab.set_default_timeout(20_000)
        await tab.goto("/admin/")
        await tab.fill("input[name=name]", "anna")
        await tab.fill("input[name=password]", PASSWORD)
        await tab.click("button[type=submit]")
        await expect(tab.locator("h1")).to_have_text("Здравствуйте, anna")
        try:
            yield tab
        finally:
            await browser.close()


def workbook(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["Артикул", "Наименование", "Единица"], *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_upload_a_bad_then_a_good_catalog(
    page: Page, site: tuple[str, Host], tmp_path: Path
) -> None:
    _base, host = site
    before = await host.shop.db.articles()
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(
        workbook([["11", "Совок", "шт"], ["11", "Совок ещё раз", "шт"], [None, "Ведро", "шт"]])
    )
    await page.goto("/admin/catalog")
    await page.set_input_files("input[type=file]", str(bad))
    await page.click("text=Проверить файл")
    errors = page.locator("#upload-errors tr.bad")
    await expect(errors).to_have_count(2)
    await expect(errors.first).to_contain_text("3")
    await expect(
        page.locator('#upload-errors tr[data-row="4"][data-column="Артикул"]')
    ).to_have_count(1)
    await shot(page, "catalog-errors")
    assert await host.shop.db.articles() == before
    good = tmp_path / "good.xlsx"
    good.write_bytes(
        workbook([["11", "Совок", "шт"], ["12", "Ведро 12 л", "шт"], ["007", "Гвозди", "уп"]])
    )
    await page.set_input_files("input[type=file]", str(good))
    await page.click("text=Проверить файл")
    await expect(page.locator("#preview-count")).to_contain_text("3")
    await expect(page.locator("#preview-table tbody tr")).to_have_count(3)
    await page.click("#apply-catalog")
    await expect(page.locator(".ok")).to_have_text("Каталог заменён.")
    await expect(page.locator("#catalog-table tbody tr")).to_have_count(3)
    await shot(page, "catalog")
    assert await host.shop.db.articles() == ["007", "11", "12"]


async def test_edit_an_example_and_retrain(page: Page, site: tuple[str, Host]) -> None:
    _base, host = site
    await page.goto("/admin/nlu/intent/ask_operator")
    await page.fill("textarea[name=new]", "кликни завхоза\nкликните завхоза\nзовите завхоза")
    await page.fill('input[name="text-0"]', "позовите, пожалуйста, оператора")
    await shot(page, "intent")
    await page.click("text=Сохранить")
    await expect(page.locator(".ok")).to_have_text("Сохранено.")
    await expect(page.locator("#draft-banner")).to_be_visible()
    await page.goto("/admin/nlu/train")
    await page.click("#retrain")
    await expect(page.locator("#result")).to_be_visible(timeout=60_000)
    await expect(page.locator("#scores tbody tr")).to_have_count(9)
    await expect(page.locator("img.confusion")).to_be_visible()
    await page.wait_for_function("document.querySelector('img.confusion').naturalWidth > 100")
    await shot(page, "nlu-train")
    if await page.locator("input[name=confirm_worse]").count():
        await page.check("input[name=confirm_worse]")
    await page.click("#activate")
    await expect(page.locator(".ok")).to_contain_text("Новая модель включена")
    await page.fill("input[name=text]", "кликни завхоза")
    await page.click("text=Разобрать")
    await expect(page.locator("#try-result .intent").first).to_have_text("ask_operator")
    assert host.services.nlu.parse("кликни завхоза").intent == "ask_operator"


async def test_edit_a_reply_and_play_it(page: Page, site: tuple[str, Host]) -> None:
    _base, host = site
    await page.goto("/admin/replies#utter_confirm_quantity")
    field = page.locator("#utter_confirm_quantity-0")
    await field.fill("Вы хотите {quantity}? {product}")
    await page.locator("#utter_confirm_quantity form button[type=submit]").click()
    await expect(page.locator("#utter_confirm_quantity .field-error")).to_contain_text("{product}")
    await page.locator("#utter_confirm_quantity-0").fill("Записать {quantity}?")
    await page.locator("#utter_confirm_quantity form button[type=submit]").click()
    await expect(page.locator(".ok")).to_have_text("Сохранено.")
    assert host.services.responses.variants["utter_confirm_quantity"] == ["Записать {quantity}?"]
    await page.locator('button[data-listen="utter_confirm_quantity-0"]').click()
    await expect(page.locator("#utter_confirm_quantity-0-spoken")).to_have_text(
        "Бот скажет: Записать две штуки?",
        timeout=30_000,  # Festival, on a loaded machine
    )
    player = page.locator("#utter_confirm_quantity-0-audio")
    await expect(player).to_have_attribute("data-state", "ended", timeout=15_000)
    assert await player.evaluate("a => a.duration") > 0.5
    await page.locator("#utter_confirm_quantity").scroll_into_view_if_needed()
    await shot(page, "replies")


async def test_the_audit_log_shows_the_changes(page: Page, site: tuple[str, Host]) -> None:
    await page.goto("/admin/managers")
    await page.fill("#rules", "9035677876=103\n9035677=1")
    await page.click("text=Добавить")
    await expect(page.locator("#applied")).to_contain_text("9035677876=103")
    await expect(page.locator("#refused")).to_contain_text("нужно не меньше 10")
    await shot(page, "managers")
    await page.goto("/admin/audit")
    rows = page.locator("#audit-table tbody tr")
    await expect(rows.first).to_contain_text("правила менеджеров")
    await expect(rows.first).to_contain_text("••••••7876=103")  # phones masked in the log
    await expect(page.locator("#audit-table")).to_contain_text("вход")
    await shot(page, "audit")
    await page.goto("/admin/")
    await shot(page, "home")
