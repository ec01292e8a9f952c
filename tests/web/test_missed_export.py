"""«Скачать отчёт» of the missed-call journal: ``.xlsx`` opened with openpyxl and ``.csv``
(UTF-8 with BOM, ``;``) read back, the same rows as the list for the same filters, local
times, the Russian status labels, formula-like cells defused, every export audited."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from bot.missed.callback_settings import CallbackSettings
from bot.missed.store import MissedCall, MissedCallStore
from bot.routing import Managers, Router
from bot.shop_setup import load_language, open_shop
from bot.web import missed_export
from bot.web.audit import AuditLog
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import bot_calls, utc_text
from tests.connectors.shop.conftest import pg_url, postgres  # noqa: F401
from tests.web.conftest import (
    FakeSynthesizer,
    Host,
    add_user,
    console_app,
    console_settings,
    logged_in,
    login,
)
from tests.web.journal_data import journal_host
from tests.web.missed_data import IN_WEEK, ZONE, seed_missed, seed_voicemail

Client = TestClient[Any, Any]


def a_call(**changes: Any) -> MissedCall:
    values: dict[str, Any] = {
        "id": 7,
        "missed_at": datetime(2026, 3, 6, 13, 30, 5, 120000, tzinfo=UTC),
        "caller": "9161234567",
        "called": "4951112233",
        "source_kind": "queue",
        "source": "sales",
        "wait_s": 35.04,
        "intake": "ami",
        "external_id": "1741267805.42",
        "status": "called_back",
        "status_at": datetime(2026, 3, 6, 14, 0, tzinfo=UTC),
        "attempts": 2,
    }
    values.update(changes)
    return MissedCall(**values)


def test_xlsx_cells_are_local_times_and_russian_labels() -> None:
    calls = [a_call(), a_call(id=8, caller="", status="not_called_back", source_kind="bot")]
    body = missed_export.to_xlsx(calls, ZONE)
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    assert sheet is not None and sheet.title == "Пропущенные"
    table = list(sheet.iter_rows(values_only=True))
    assert table[0] == missed_export.HEADERS
    assert table[1] == (
        datetime(2026, 3, 6, 16, 30, 5),  # Moscow, UTC+3, without the offset
        "9161234567",
        "4951112233",
        "очередь sales",
        35.0,
        "Успешно перезвонили",
        datetime(2026, 3, 6, 17, 0),
        2,
        "Asterisk AMI",
        7,
    )
    assert table[2][1] == "скрыт" and table[2][3] == "бот sales" and table[2][5] == "Не перезвонили"


def test_csv_opens_in_excel_and_defuses_formulas() -> None:
    body = missed_export.to_csv([a_call(called="=HYPERLINK(1)", source="+sales")], ZONE)
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert table[0] == list(missed_export.HEADERS)
    row = table[1]
    assert row[0] == "2026-03-06 16:30:05" and row[6] == "2026-03-06 17:00:00"
    assert row[2] == "'=HYPERLINK(1)" and row[3] == "очередь +sales"
    assert row[5] == "Успешно перезвонили" and row[-1] == "7"
    assert text.endswith("\r\n") and text.count("\r\n") == 2


def test_an_empty_export_has_the_headers() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(missed_export.to_xlsx([], ZONE))).active
    assert sheet is not None
    assert list(sheet.iter_rows(values_only=True)) == [missed_export.HEADERS]
    assert missed_export.to_csv([], ZONE).decode("utf-8-sig").count("\r\n") == 1


# -- over HTTP --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def journal_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("missed-export-nlu")


@pytest.fixture
async def host(tmp_path: Path, journal_model: Path) -> AsyncIterator[Host]:
    made = await journal_host(tmp_path, journal_model)
    made.settings.journal = dataclasses.replace(made.settings.journal, timezone="Europe/Moscow")
    try:
        yield made
    finally:
        await made.shop.close()


@pytest.fixture
async def client(host: Host) -> AsyncIterator[Client]:
    async with TestClient(TestServer(console_app(host))) as test_client:
        yield test_client


async def test_exports_equal_the_list(client: Client, host: Host) -> None:
    ids = await seed_missed(host.shop.db, ZONE)
    await logged_in(client, host, "supervisor")
    xlsx = await client.get("/admin/missed/export.xlsx")
    assert xlsx.status == 200
    assert xlsx.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="missed-' in xlsx.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(await xlsx.read())).active
    assert sheet is not None
    table = list(sheet.iter_rows(values_only=True))
    assert [r[-1] for r in table[1:]] == [ids[k] for k in IN_WEEK]
    assert [r[5] for r in table[1:]] == [
        "Успешно перезвонили", "Не перезвонили", "Неуспешный вызов", "Клиент позвонил сам",
    ]  # fmt: skip
    moscow = datetime.now(ZONE).replace(tzinfo=None)
    assert abs((moscow - table[1][0]).total_seconds() - 120) < 60  # local, 2 minutes ago
    csv_file = await client.get("/admin/missed/export.csv?period=all&status=not_called_back")
    assert csv_file.headers["Content-Type"] == "text/csv; charset=utf-8"
    raw = await csv_file.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert [int(r[-1]) for r in rows[1:]] == [ids["queue_today"], ids["old_40days"]]
    assert rows[2][1] == "скрыт" and rows[2][3] == "очередь support"
    audit = [
        e for e in await AuditLog(host.shop.db).entries() if e.action == "выгрузка пропущенных"
    ]
    assert [(e.target, e.after) for e in audit] == [(".csv", "2 звонков"), (".xlsx", "4 звонков")]


async def test_the_export_is_capped(client: Client, host: Host) -> None:
    await seed_missed(host.shop.db, ZONE)
    host.settings.journal = dataclasses.replace(host.settings.journal, export_max_rows=3)
    await logged_in(client, host, "admin")
    body = await (await client.get("/admin/missed/export.csv?period=all")).read()
    assert body.decode("utf-8-sig").count("\r\n") == 4  # headers + 3 rows


# -- the same pages on a real PostgreSQL ---------------------------------------------------

JOURNAL_KEY = "0123456789abcdef0123456789abcdef"


async def bot_handoff(db: ShopDatabase) -> int:
    """A bot call in the journal and its transfer nobody took: the missed call's id."""

    def journal_row(conn: sa.Connection) -> None:
        started = utc_text(datetime.now(ZONE))
        conn.execute(bot_calls.insert().values(id=JOURNAL_KEY, call_id="sip-7", started_at=started))

    await db.write(journal_row)
    call = await MissedCallStore(db).add(
        missed_at=datetime.now(ZONE), caller="9161234567", called="4951112233",
        source_kind="bot", source="operator", wait_s=8.0, intake="bot", external_id="sip-7",
        call_id="sip-7",
    )  # fmt: skip
    assert call is not None
    return call.id


async def test_the_pages_on_postgresql(
    tmp_path: Path,
    journal_model: Path,
    pg_url: str,  # noqa: F811
) -> None:
    """The pages' own SQL (the sources seen, a bot handoff's journal call, a manager's voice
    messages) and the store's filters behind them on PostgreSQL."""
    settings = console_settings(tmp_path)
    settings.shop = dataclasses.replace(settings.shop, url=pg_url)
    settings.nlu.model_dir = journal_model
    settings.journal = dataclasses.replace(settings.journal, timezone="Europe/Moscow")
    settings.callbacks = CallbackSettings(voicemail_dir=tmp_path / "voicemail")
    shop = await open_shop(settings)
    try:
        nlu, responses = await load_language(settings, shop)
        services = SimpleNamespace(nlu=nlu, responses=responses, synthesizer=FakeSynthesizer())
        managers = Managers(Path(settings.server.managers_file or ""))
        host = Host(settings, shop, services, Router([], settings.dialog, managers))
        ids = await seed_missed(shop.db, ZONE)
        voices = await seed_voicemail(shop.db, tmp_path / "voicemail", ids, ZONE)
        await add_user(host, "maria", "manager")
        async with TestClient(TestServer(console_app(host))) as client:
            admin = await logged_in(client, host, "admin")
            page = await (
                await client.get("/admin/missed?number=916&status=not_called_back")
            ).text()
            assert re.findall(r'data-id="(\d+)"', page) == [str(ids["queue_today"])]
            sources = await (await client.get("/admin/missed?source=queue:sales")).text()
            assert '<option value="queue:sales" selected>очередь sales</option>' in sources
            assert '<option value="extension:103"' in sources
            body = await (await client.get("/admin/missed/export.xlsx?period=all")).read()
            sheet = openpyxl.load_workbook(io.BytesIO(body)).active
            assert sheet is not None and sheet.max_row == 7  # the headers and six calls
            row = await (await client.get(f"/admin/missed/calls/{ids['ext_today']}")).text()
            assert "соединили" in row and 'id="journal-link"' not in row
            handoff = await bot_handoff(shop.db)
            row = await (await client.get(f"/admin/missed/calls/{handoff}")).text()
            assert f'href="/admin/journal/calls/{JOURNAL_KEY}" id="journal-link"' in row
            tile = await (await client.get("/admin/dashboard")).text()
            assert "сегодня: в среднем 18.3 с, дольше всех 35.0 с · пропущенных 3" in tile
            await client.post(
                "/admin/users/extension", data={"_csrf": admin, "name": "maria", "extension": "103"}
            )
            await client.post("/admin/logout", data={"_csrf": admin})
            assert (await login(client, "maria")).status == 303
            mine = await (await client.get("/admin/voicemail?period=all")).text()
            assert re.findall(r'<tr data-id="(\d+)"', mine) == [str(voices["today"])]
            heard = await client.get(f"/admin/voicemail/{voices['yesterday']}/audio")
            assert heard.status == 404
            assert (await client.get(f"/admin/voicemail/{voices['today']}/audio")).status == 200
    finally:
        await shop.close()


async def test_times_are_the_shops_missed_timezone(client: Client, host: Host) -> None:
    """``missed.timezone`` (the shop's, as the intake reads it) wins over journal.timezone."""
    await seed_missed(host.shop.db, ZONE)
    host.settings.missed = dataclasses.replace(host.settings.missed, timezone="Asia/Vladivostok")
    await logged_in(client, host, "supervisor")
    body = await (await client.get("/admin/missed/export.csv?period=all")).read()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    row = await MissedCallStore(host.shop.db).get(int(rows[1][-1]))
    assert row is not None
    local = row.missed_at.astimezone(ZoneInfo("Asia/Vladivostok"))
    assert rows[1][0] == local.strftime("%Y-%m-%d %H:%M:%S")
    page = await (await client.get("/admin/missed?period=all")).text()
    assert local.strftime("%d.%m.%Y %H:%M:%S") in page
