"""The journal over HTTP: filters, a call's page, the recording (audited), exports equal to
the list, rights (supervisor all, manager own extension only, editor no journal), deleting
recordings older than a date (admins, CSRF), a manager's extension."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from bot.web.audit import AuditLog
from connectors.shop.schema import bot_calls
from tests.web.conftest import PASSWORD, Host, add_user, console_app, csrf_of, logged_in, login
from tests.web.journal_data import journal_host, seed_calls

Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
def journal_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("journal-nlu")


@pytest.fixture
async def host(tmp_path: Path, journal_model: Path) -> AsyncIterator[Host]:
    made = await journal_host(tmp_path, journal_model)
    try:
        yield made
    finally:
        await made.shop.close()


@pytest.fixture
async def calls(host: Host, tmp_path: Path) -> dict[str, str]:
    return await seed_calls(host.shop.db, tmp_path / "recordings")


@pytest.fixture
async def web(host: Host, calls: dict[str, str]) -> AsyncIterator[Client]:
    async with TestClient(TestServer(console_app(host))) as test_client:
        yield test_client


def keys_on(page: str) -> list[str]:
    return re.findall(r"/admin/journal/calls/([0-9a-f]{32})\"", page)


async def journal(web: Client, query: str = "") -> str:
    response = await web.get(f"/admin/journal?{query}")
    assert response.status == 200
    return await response.text()


async def test_a_supervisor_filters_the_journal(web: Client, host: Host, calls: dict) -> None:
    await logged_in(web, host, "supervisor")
    week = keys_on(await journal(web))
    assert week == [calls["to104"], calls["to103"], calls["order"], calls["hangup"]], "newest first"
    assert keys_on(await journal(web, "period=today")) == [
        calls["to104"], calls["to103"], calls["order"],
    ]  # fmt: skip
    assert keys_on(await journal(web, "period=yesterday")) == [calls["hangup"]]
    assert calls["old"] in keys_on(await journal(web, "period=month"))
    assert keys_on(await journal(web, "period=month&number=7775")) == [calls["order"], calls["old"]]
    assert keys_on(await journal(web, "result=transfer")) == [calls["to104"], calls["to103"]]
    assert keys_on(await journal(web, "reason=article_not_recognized&number=916")) == [
        calls["to103"]
    ]
    assert keys_on(await journal(web, "route=-")) == [calls["order"], calls["hangup"]]
    text = await journal(web, "period=today")
    assert "+7 960 777-55-77" in text and "заказ принят" in text and "не понял артикул" in text


async def test_a_call_page_and_its_recording_audited_once(
    web: Client, host: Host, calls: dict
) -> None:
    await logged_in(web, host, "supervisor")
    page = await web.get(f"/admin/journal/calls/{calls['order']}")
    text = await page.text()
    assert page.status == 200
    for needle in ("Назовите артикул товара.", "артикул один два три", "Заказ №41", "Чайник"):
        assert needle in text
    assert 'id="call-audio"' in text and "give_article · 0.86" in text
    assert text.count('class="caller"') == 6 and 'class="bot missed"' in text
    assert 'data-at="6.20"' in text, "a caller's line starts where the speech began"
    url = f"/admin/journal/calls/{calls['order']}/recording"
    first = await web.get(url)
    assert first.status == 200 and first.headers["Content-Type"].startswith("audio/ogg")
    body = await first.read()
    assert body[:4] == b"OggS"
    ranged = await web.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status == 206 and len(await ranged.read()) == 100, "seeking needs ranges"
    download = await web.get(url + "?download=1")
    assert "attachment" in download.headers["Content-Disposition"]
    actions = [e.action for e in await AuditLog(host.shop.db).entries() if e.target]
    assert actions.count("прослушивание записи") == 1, "the player's pieces: one audit row"
    assert actions.count("скачивание записи") == 1 and "просмотр звонка" in actions
    none = await web.get(f"/admin/journal/calls/{calls['to103']}/recording")
    assert none.status == 404


async def test_exports_hold_the_same_rows_as_the_list(web: Client, host: Host, calls: dict) -> None:
    await logged_in(web, host, "supervisor")
    shown = keys_on(await journal(web, "period=month"))
    xlsx = await web.get("/admin/journal/export.xlsx?period=month")
    assert xlsx.status == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(await xlsx.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Начало" and [r[-1] for r in rows[1:]] == shown
    assert rows[1][1] == "9260000000" and rows[1][5] == "переведён"
    response = await web.get("/admin/journal/export.csv?period=month&result=order")
    text = (await response.read()).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert [r[-1] for r in table[1:]] == [calls["order"], calls["old"]]
    actions = [e.action for e in await AuditLog(host.shop.db).entries()]
    assert actions.count("выгрузка журнала") == 2


async def test_a_manager_sees_only_calls_to_the_own_extension(
    web: Client, host: Host, calls: dict
) -> None:
    await add_user(host, "maria", "manager")
    admin = await logged_in(web, host, "admin")
    set_ext = await web.post(
        "/admin/users/extension",
        data={"_csrf": admin, "name": "maria", "extension": "103"},
        allow_redirects=False,
    )
    assert set_ext.status == 303
    users = await (await web.get("/admin/users")).text()
    assert 'value="103"' in users
    await web.post("/admin/logout", data={"_csrf": admin})
    response = await login(web, "maria")
    assert response.status == 303
    home = await web.get("/admin/", allow_redirects=False)
    assert home.status == 302 and home.headers["Location"] == "/admin/journal"
    assert keys_on(await journal(web, "period=all")) == [calls["to103"]]
    export = await web.get("/admin/journal/export.csv?period=all")
    assert len(list(csv.reader(io.StringIO((await export.read()).decode("utf-8-sig"))))) == 2
    assert (await web.get(f"/admin/journal/calls/{calls['to103']}")).status == 200
    for other in ("to104", "order"):
        assert (await web.get(f"/admin/journal/calls/{calls[other]}")).status == 404
    assert (await web.get(f"/admin/journal/calls/{calls['order']}/recording")).status == 404
    for forbidden in ("/admin/dashboard", "/admin/recordings", "/admin/catalog"):
        assert (await web.get(forbidden)).status == 403, forbidden
    token = await csrf_of(web, "/admin/journal")
    refused = await web.post(
        "/admin/recordings/delete", data={"_csrf": token, "before": "2100-01-01", "confirm": "yes"}
    )
    assert refused.status == 403


async def test_a_manager_without_an_extension_sees_nothing(
    web: Client, host: Host, calls: dict
) -> None:
    await add_user(host, "pavel", "manager")
    assert (await login(web, "pavel")).status == 303
    assert keys_on(await journal(web, "period=all")) == []


async def test_an_editor_has_the_dashboard_not_the_journal(
    web: Client, host: Host, calls: dict
) -> None:
    await logged_in(web, host, "editor")
    assert (await web.get("/admin/journal")).status == 403
    assert (await web.get(f"/admin/journal/calls/{calls['order']}/recording")).status == 403
    dashboard = await web.get("/admin/dashboard?period=month")
    text = await dashboard.text()
    assert dashboard.status == 200 and "<svg" in text
    assert re.search(r'id="fig-calls">5<', text) and re.search(r'id="fig-orders">2<', text)
    missed = text.split('id="missed-articles"')[1].split("</table>")[0]
    # 2 orders and 2 transfers with a «не понял» after it, and the 2 transfers themselves
    assert "артикул сто сорок два" in missed and ">6<" in missed
    assert "не понял артикул" in text  # the handoff reason's title
    today = await (await web.get("/admin/dashboard?period=today")).text()
    assert re.search(r'id="fig-calls">3<', today) and "00</text>" in today, "hours for a day"


async def test_an_admin_deletes_recordings_older_than_a_date(
    web: Client, host: Host, calls: dict, tmp_path: Path
) -> None:
    token = await logged_in(web, host, "admin")
    page = await (await web.get("/admin/recordings")).text()
    assert re.search(r"Записей: <b>2</b>", page)
    no_csrf = await web.post("/admin/recordings/delete", data={"before": "2100-01-01"})
    assert no_csrf.status == 403
    unconfirmed = await web.post(
        "/admin/recordings/delete", data={"_csrf": token, "before": "2100-01-01"}
    )
    assert unconfirmed.status == 400
    from datetime import date, timedelta

    before = (date.today() - timedelta(days=3)).isoformat()
    done = await web.post(
        "/admin/recordings/delete", data={"_csrf": token, "before": before, "confirm": "yes"}
    )
    text = await done.text()
    assert done.status == 200 and "Удалено записей: 1" in text
    assert len(list((tmp_path / "recordings").rglob("*.opus"))) == 1
    with host.shop.db.engine.connect() as conn:
        kept = dict(conn.execute(sa.select(bot_calls.c.id, bot_calls.c.recording)).all())
    assert kept[calls["old"]] is None and kept[calls["order"]] is not None
    entries = await AuditLog(host.shop.db).entries()
    assert entries[0].action == "записи удалены" and "1 файлов" in entries[0].after


async def test_the_command_line_creates_a_manager_with_an_extension(host: Host) -> None:
    import argparse

    from bot.web.accounts import Accounts
    from bot.web.cli import run_admin

    args = argparse.Namespace(
        admin_command="create-user", name="oleg", role="manager", extension="105"
    )
    assert await run_admin(host.settings, args, io.StringIO(PASSWORD + "\n")) == 0
    user = await Accounts(host.shop.db, host.settings.admin).get("oleg")
    assert user is not None and user.role == "manager" and user.extension == "105"
    bad = argparse.Namespace(
        admin_command="create-user", name="olga", role="manager", extension="1 05"
    )
    assert await run_admin(host.settings, bad, io.StringIO(PASSWORD + "\n")) == 2
    assert await Accounts(host.shop.db, host.settings.admin).get("olga") is None
