"""«SMS после пропущенного» and «Автоперезвон» (bot/web/pages_missed_rules.py): the rules in
force as a table, «Проверить» without saving, a bad text refused with Russian errors and
their YAML lines (the file untouched), a good one saved and audited, someone else's save in
the meantime refused, rights (editor saves, supervisor reads, manager none), CSRF; in
Chromium an editor fixes an interval and saves it."""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import async_playwright, expect

from bot.missed import callback_rules, sms_rules
from bot.missed.callback_settings import CallbackSettings
from bot.web.accounts import Accounts
from bot.web.audit import AuditLog
from tests.web.conftest import PASSWORD, REPO, Host, add_user, console_app, csrf_of, login
from tests.web.journal_data import journal_host
from tests.web.test_web_browser import ARGS, CHROMIUM, SHOTS

Client = TestClient[Any, Any]
BASE_RE = re.compile(r'name="base" value="([^"]+)"')


@pytest.fixture(scope="module")
def journal_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("missed-rules-nlu")


@pytest.fixture
async def host(tmp_path: Path, journal_model: Path) -> AsyncIterator[Host]:
    made = await journal_host(tmp_path, journal_model)
    for name in ("sms_rules.yml", "callback_rules.yml"):
        shutil.copy(REPO / "data" / "missed" / name, tmp_path / name)
    settings = made.settings
    settings.sms = dataclasses.replace(settings.sms, rules_file=tmp_path / "sms_rules.yml")
    settings.callbacks = CallbackSettings(rules_file=str(tmp_path / "callback_rules.yml"))
    try:
        yield made
    finally:
        await made.shop.close()


@pytest.fixture
async def client(host: Host) -> AsyncIterator[Client]:
    async with TestClient(TestServer(console_app(host))) as test_client:
        yield test_client


async def as_user(client: Client, host: Host, name: str, role: str) -> None:
    await add_user(host, name, role)
    assert (await login(client, name)).status == 303


async def form_of(client: Client, kind: str) -> tuple[str, str, str]:
    """The page, its CSRF token and the base hash of the file in force."""
    response = await client.get(f"/admin/missed/rules/{kind}")
    assert response.status == 200
    page = await response.text()
    base = BASE_RE.search(page)
    assert base is not None
    return page, await csrf_of(client, f"/admin/missed/rules/{kind}"), base.group(1)


async def test_sms_rules_shown_checked_refused_and_saved(client: Client, host: Host) -> None:
    await as_user(client, host, "eva", "editor")
    path = Path(host.settings.sms.rules_file)
    original = path.read_text("utf-8")
    page, token, base = await form_of(client, "sms")
    table = page[page.index('id="rules-table"') : page.index("</table>")]
    assert "Основной номер" in table and "набран +7 900 900-90-90" in table
    assert "очередь delivery" in table and "все остальные" in table  # the default rule
    bad = original.replace('queues: ["delivery"]', "queues: delivery: x")
    refused = await client.post(
        "/admin/missed/rules/sms",
        data={"_csrf": token, "base": base, "content": bad, "action": "save"},
    )
    assert refused.status == 400
    text = await refused.text()
    errors = text[text.index('id="rules-errors"') :]
    assert "Не сохранено" in errors and re.search(r"строка \d+", errors)
    assert "queues: delivery: x" in text  # the editor keeps the text typed
    assert path.read_text("utf-8") == original
    no_text = original.replace(
        "    text: >-\n      Здравствуйте! Вы звонили в службу",
        "    x: >-\n      Здравствуйте! Вы звонили в службу",
    )
    refused = await client.post(
        "/admin/missed/rules/sms",
        data={"_csrf": token, "base": base, "content": no_text, "action": "save"},
    )
    assert refused.status == 400 and path.read_text("utf-8") == original
    changed = original.replace("Мы перезвоним вам в ближайшее время.", "Перезвоним за 15 минут.")
    checked = await client.post(
        "/admin/missed/rules/sms",
        data={"_csrf": token, "base": base, "content": changed, "action": "check"},
    )
    assert checked.status == 200
    assert 'id="rules-checked"' in await checked.text()
    assert path.read_text("utf-8") == original  # «Проверить» saves nothing
    saved = await client.post(
        "/admin/missed/rules/sms",
        data={"_csrf": token, "base": base, "content": changed, "action": "save"},
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
    assert path.read_text("utf-8") == changed
    chosen = sms_rules.load_rules(path).choose("+79009009090", "queue", "sales")
    assert chosen is not None and chosen.text.endswith("Перезвоним за 15 минут.")
    entries = [e for e in await AuditLog(host.shop.db).entries() if e.action == "правила SMS"]
    assert len(entries) == 1 and "15 минут" in entries[0].after
    assert "9009009090" not in entries[0].after  # numbers masked in the audit log
    # a save from a page opened before this one is refused
    stale = await client.post(
        "/admin/missed/rules/sms",
        data={"_csrf": token, "base": base, "content": original, "action": "save"},
    )
    assert stale.status == 409 and path.read_text("utf-8") == changed


async def test_callback_rules_with_line_numbered_errors(client: Client, host: Host) -> None:
    await as_user(client, host, "anna", "admin")
    path = Path(host.settings.callbacks.rules_file)
    original = path.read_text("utf-8")
    page, token, base = await form_of(client, "callbacks")
    table = page[page.index('id="rules-table"') : page.index("</table>")]
    assert "очередь sales" in table and "2 мин 00 с" in table
    assert "пн, вт, ср, чт: 10:00–18:00; пт: 10:00–16:30" in table
    assert "сначала клиенту, диспетчерская: 101, 102" in table and "после 1 мин 00 с" in table
    lines = original.splitlines()
    to_line = next(i for i, line in enumerate(lines, 1) if '"16:30"' in line)
    bad = original.replace('to: "16:30"', 'to: "16:70"')
    refused = await client.post(
        "/admin/missed/rules/callbacks",
        data={"_csrf": token, "base": base, "content": bad, "action": "check"},
    )
    assert refused.status == 400
    text = await refused.text()
    assert f"строка {to_line}: <code>rules[0].intervals[1].to</code>" in text
    assert "Время в виде ЧЧ:ММ" in text
    two = original + original[original.index("  - name: Продажи") :].replace("Продажи", "Опт")
    refused = await client.post(
        "/admin/missed/rules/callbacks",
        data={"_csrf": token, "base": base, "content": two, "action": "save"},
    )
    assert refused.status == 400
    assert "«Диспетчерская» доступна только для одного правила." in await refused.text()
    assert path.read_text("utf-8") == original
    # round the clock: no intervals
    always = re.sub(r"    intervals:\n(      - .*\n)+", "    intervals: []\n", original)
    always = always.replace("enabled: false", "enabled: true")
    saved = await client.post(
        "/admin/missed/rules/callbacks",
        data={"_csrf": token, "base": base, "content": always, "action": "save"},
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
    rules = callback_rules.load_rules(path)
    assert rules[0].enabled and rules[0].intervals == ()
    page = await (await client.get("/admin/missed/rules/callbacks?ok=saved")).text()
    assert "Сохранено." in page and "круглосуточно" in page
    actions = [e.action for e in await AuditLog(host.shop.db).entries()]
    assert actions.count("правила автоперезвона") == 1


async def test_rights_and_csrf(client: Client, host: Host) -> None:
    path = Path(host.settings.sms.rules_file)
    original = path.read_text("utf-8")
    await as_user(client, host, "sveta", "supervisor")
    page, token, base = await form_of(client, "sms")
    assert "readonly" in page and "Сохранить</button>" not in page
    refused = await client.post(
        "/admin/missed/rules/sms",
        data={"_csrf": token, "base": base, "content": "rules: []\n", "action": "save"},
    )
    assert refused.status == 403 and path.read_text("utf-8") == original
    await client.post("/admin/logout", data={"_csrf": token})
    await as_user(client, host, "maria", "manager")
    assert (await client.get("/admin/missed/rules/sms")).status == 403
    assert (await client.get("/admin/missed/rules/other")).status == 404
    token = await csrf_of(client, "/admin/missed")
    await client.post("/admin/logout", data={"_csrf": token})
    await as_user(client, host, "eva", "editor")
    no_csrf = await client.post(
        "/admin/missed/rules/sms", data={"base": base, "content": "rules: []\n", "action": "save"}
    )
    assert no_csrf.status == 403 and path.read_text("utf-8") == original


async def test_a_missing_file_is_no_rules(client: Client, host: Host) -> None:
    Path(host.settings.callbacks.rules_file).unlink()
    await as_user(client, host, "eva", "editor")
    page, _token, _base = await form_of(client, "callbacks")
    assert "Правил нет" in page and "ещё нет" in page
    assert re.search(r'<a href="/admin/missed/rules/sms"\s*>Правила пропущенных</a>', page)


async def test_an_editor_fixes_an_interval_in_chromium(host: Host) -> None:
    assert CHROMIUM.exists(), "Chromium is missing: apt-get install chromium (bootstrap.sh)"
    await Accounts(host.shop.db, host.settings.admin).create_user("eva", "editor", PASSWORD)
    runner = web.AppRunner(console_app(host))
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            context = await browser.new_context(
                base_url=f"http://127.0.0.1:{port}", viewport={"width": 1280, "height": 900},
                locale="ru-RU",
            )  # fmt: skip
            page = await context.new_page()
            page.set_default_timeout(20_000)
            await page.goto("/admin/missed/rules/callbacks")
            await page.fill("input[name=name]", "eva")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await expect(page.locator("h1")).to_have_text("Автоперезвон")
            area = page.locator("#rules-text")
            content = await area.input_value()
            await area.fill(content.replace('to: "16:30"', 'to: "16:3"'))
            await page.click("button[value=check]")
            await expect(page.locator("#rules-errors")).to_contain_text("Время в виде ЧЧ:ММ")
            if SHOTS:
                await page.screenshot(path=str(REPO / "docs" / "missed-rules.png"))
            await area.fill(content.replace('to: "16:30"', 'to: "17:00"'))
            await page.click("button[value=save]")
            await expect(page.locator("p.ok")).to_have_text("Сохранено.")
            await expect(page.locator("#rules-table")).to_contain_text("пт: 10:00–17:00")
            await browser.close()
    finally:
        await runner.cleanup()
    rules = callback_rules.load_rules(Path(host.settings.callbacks.rules_file))
    assert rules[0].intervals[1].end is not None and rules[0].intervals[1].end.hour == 17


async def test_what_happens_to_a_missed_call(client: Client, host: Host) -> None:
    """The preview: a call missed in «sales» on a Friday at 16:45 (the rule's Friday ends at
    16:30) is called back on Monday at 10:00; its SMS is the «Доставка» rule's."""
    host.settings.missed = dataclasses.replace(host.settings.missed, timezone="Europe/Moscow")
    path = Path(host.settings.callbacks.rules_file)
    path.write_text(path.read_text("utf-8").replace("enabled: false", "enabled: true"), "utf-8")
    await as_user(client, host, "sveta", "supervisor")  # reading is enough
    base = "/admin/missed/rules/callbacks?try=1&try_kind=queue&try_source=sales"
    friday = "&try_called=%2B7+333+333-22-44&try_at=2026-12-04T16:45"
    page = await (await client.get(base + friday + "&try_wait=30")).text()
    callback = page[page.index('id="try-callback"') :]
    assert "Перезвон по правилу «Продажи» пн 07.12.2026 10:00 (Europe/Moscow)" in callback
    assert "сначала клиенту, диспетчерская: 101, 102" in callback
    sms = page[page.index('id="try-sms"') :]
    assert "SMS по правилу «Доставка», если клиенту не отправляли SMS за последние 24 ч" in sms
    thursday = "&try_called=4951112233&try_at=2026-12-03T11:00&try_wait=30"
    page = await (await client.get(base + thursday)).text()
    assert "пн" not in page[page.index('id="try-callback"') :][:80]
    assert "чт 03.12.2026 11:02" in page  # two minutes later, inside the interval
    assert "SMS не будет" in page  # no rule for that number or queue
    short = await (await client.get(base + friday + "&try_wait=5")).text()
    assert "Перезвона не будет" in short  # waited less than min_wait_s
    bad = await (await client.get(base + "&try_wait=abc")).text()
    assert 'id="try-error"' in bad and 'id="try-result"' not in bad
