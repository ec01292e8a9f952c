"""Catalog uploads, phrases and retraining, replies and managers over HTTP."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from bot.web import nlu_doc, replies_doc
from bot.web.app import CONSOLE
from bot.web.catalog import check_upload
from bot.web.pages_managers import check_rules
from bot.web.settings import ManagerRules
from connectors.pbx.transport import CallInfo
from tests.web.conftest import REPO, Host, csrf_of, logged_in

Client = TestClient[Any, Any]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["Артикул", "Наименование", "Единица"], *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(client: Client, token: str, content: bytes, name: str = "new.xlsx") -> Any:
    form = FormData()
    form.add_field("_csrf", token)
    form.add_field("file", content, filename=name, content_type=XLSX)
    return await client.post("/admin/catalog/upload", data=form)


async def test_a_good_catalog_is_previewed_then_replaces_the_old_one(
    client: Client, host: Host
) -> None:
    token = await logged_in(client, host, "editor")
    before = await host.shop.db.articles()
    content = workbook([["007", "Гвозди", "уп"], [9001, "Молоток", None], ["A1", "Клей", "шт"]])
    preview = await upload(client, token, content)
    page = await preview.text()
    assert preview.status == 200 and "В файле <b>3</b> товаров" in page and "Молоток" in page
    assert await host.shop.db.articles() == before  # nothing replaced before «Заменить»
    staged = page.split('name="token" value="')[1].split('"')[0]
    applied = await client.post(
        "/admin/catalog/apply", data={"_csrf": token, "token": staged, "file_name": "new.xlsx"}
    )
    assert applied.status == 200 and "Каталог заменён" in await applied.text()
    assert await host.shop.db.articles() == ["007", "9001", "A1"]
    parsed = host.services.nlu.parse("артикул девять тысяч один", "article")
    article = next(e for e in parsed.entities if e.entity == "article")
    assert article.match == "exact"  # the NLU knows the new articles at once
    download = await client.get("/admin/catalog/download")
    path = host.settings.admin.work_dir / "down.xlsx"
    path.write_bytes(await download.read())
    assert [(i.article, i.name) for i in check_upload(path, 10**6).items] == [
        ("007", "Гвозди"),
        ("9001", "Молоток"),
        ("A1", "Клей"),
    ]
    found = await (await client.get("/admin/catalog?q=молот")).text()
    assert "Молоток" in found and "Гвозди" not in found
    history = await (await client.get("/admin/history?kind=catalog")).text()
    assert "исходная версия" in history and "new.xlsx: 3 товаров" in history


async def test_a_bad_catalog_shows_every_bad_row_and_changes_nothing(
    client: Client, host: Host
) -> None:
    token = await logged_in(client, host, "editor")
    before = await host.shop.db.articles()
    content = workbook(
        [["1", "Ок", "шт"], [None, "Без артикула", "шт"], ["1", "Дубль", "шт"], ["5", None, "шт"]]
    )
    response = await upload(client, token, content, "bad.xlsx")
    page = await response.text()
    assert response.status == 400 and "каталог не изменён" in page
    for row, column in (("3", "Артикул"), ("4", "Артикул"), ("5", "Наименование")):
        assert f'data-row="{row}" data-column="{column}"' in page
    assert await host.shop.db.articles() == before
    not_excel = await upload(client, token, b"just text", "prices.xlsx")
    assert not_excel.status == 400 and "не файл Excel" in await not_excel.text()
    host.settings.admin.max_upload_bytes = 1000
    big = await upload(client, token, workbook([[str(n), "x" * 50, "шт"] for n in range(200)]))
    assert big.status == 400 and "Файл больше" in await big.text()
    no_token = FormData()
    no_token.add_field("file", content, filename="bad.xlsx", content_type=XLSX)
    assert (await client.post("/admin/catalog/upload", data=no_token)).status == 403
    assert await host.shop.db.articles() == before


def test_the_shipped_files_come_back_byte_for_byte() -> None:
    nlu_text = (REPO / "data" / "nlu.yml").read_text("utf-8")
    assert nlu_doc.render(nlu_doc.parse(nlu_text))[0] == nlu_text
    replies_text = (REPO / "data" / "responses.yml").read_text("utf-8")
    assert replies_doc.render(replies_doc.parse(replies_text)) == replies_text


async def test_examples_are_edited_in_a_draft_with_field_errors(client: Client, host: Host) -> None:
    token = await logged_in(client, host, "editor")
    active = host.settings.nlu.data.read_bytes()
    page = await (await client.get("/admin/nlu/intent/ask_operator")).text()
    base = page.split('name="base" value="')[1].split('"')[0]
    duplicate = await client.post(
        "/admin/nlu/intent/ask_operator",
        data={"_csrf": token, "base": base, "text-0": "здравствуйте"},  # greet has it
    )
    body = await duplicate.text()
    assert duplicate.status == 400 and "уже есть в интенте «greet»" in body
    assert 'name="text-0" value="здравствуйте" aria-label="Пример 1" class="invalid"' in body
    first = nlu_doc.parse(active.decode()).find("intent", "ask_operator")
    assert first is not None
    saved = await client.post(
        "/admin/nlu/intent/ask_operator",
        data={
            "_csrf": token,
            "base": base,
            "del-1": "on",
            "move-2": "goodbye",
            "new": "позовите бригадира\nдайте живого бригадира",
        },
    )
    assert saved.status == 200
    assert host.settings.nlu.data.read_bytes() == active  # the file in force is untouched
    draft = nlu_doc.parse((host.settings.admin.work_dir / "nlu.draft.yml").read_text("utf-8"))
    item = draft.find("intent", "ask_operator")
    goodbye = draft.find("intent", "goodbye")
    assert item is not None and goodbye is not None
    assert item.examples[-1] == "дайте живого бригадира" and first.examples[1] not in item.examples
    assert goodbye.examples[-1] == first.examples[2]
    stale = await client.post(
        "/admin/nlu/intent/ask_operator", data={"_csrf": token, "base": base, "new": "ещё"}
    )
    assert stale.status == 409  # the draft changed since that form was shown


async def test_retrain_compares_and_activation_changes_what_nlu_parse_answers(
    client: Client, host: Host
) -> None:
    token = await logged_in(client, host, "editor")
    phrase = "кликни завхоза"
    before = host.services.nlu.parse(phrase).intent
    doc = nlu_doc.parse(host.settings.nlu.data.read_text("utf-8"))
    item = doc.find("intent", "ask_operator")
    assert item is not None
    item.examples += ["кликни завхоза", "кликните завхоза", "кликни завхоза пожалуйста"]
    text, errors = nlu_doc.validate(doc)
    assert not errors
    host_console = client.app._subapps[0][CONSOLE]
    host_console.save_nlu_draft(text)
    await client.post("/admin/nlu/train", data={"_csrf": token})
    await host_console.trainer.wait()
    page = await (await client.get("/admin/nlu/train")).text()
    assert "Новая модель" in page and "macro F1" in page and 'id="scores"' in page
    assert (await client.get("/admin/nlu/train/confusion.png")).content_type == "image/png"
    assert host.services.nlu.parse(phrase).intent == before  # not in force yet
    data_sha = page.split('name="data_sha" value="')[1].split('"')[0]
    form = {"_csrf": token, "data_sha": data_sha, "confirm_worse": "on"}
    activated = await client.post("/admin/nlu/activate", data=form)
    assert activated.status == 200 and "Новая модель включена" in await activated.text()
    assert host.services.nlu.parse(phrase).intent == "ask_operator"
    env = {
        **os.environ,
        "BOT_NLU__DATA": str(host.settings.nlu.data),
        "BOT_NLU__MODEL_DIR": str(host.settings.nlu.model_dir),
        "BOT_SHOP__URL": host.settings.shop.url,
        "BOT_DEMO__MAIL_SINK": "false",
    }
    model_json = host.settings.nlu.model_dir / "model.json"
    trained_at = json.loads(model_json.read_text())["trained_at"]
    result = subprocess.run(
        [sys.executable, "-m", "bot", "nlu", "parse"],
        input=phrase + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    assert json.loads(result.stdout)["intent"] == "ask_operator"
    assert json.loads(model_json.read_text())["trained_at"] == trained_at  # not retrained
    history = await (await client.get("/admin/history?kind=nlu")).text()
    assert "модель включена" in history


async def test_replies_check_placeholders_and_new_calls_get_the_new_text(
    client: Client, host: Host
) -> None:
    token = await logged_in(client, host, "editor")
    path = host.settings.dialog.responses
    before = path.read_bytes()
    running_call = host.services.responses  # what a call in progress holds
    page = await (await client.get("/admin/replies")).text()
    base = page.split('name="base" value="')[1].split('"')[0]
    bad = await client.post(
        "/admin/replies/utter_ask_quantity",
        data={"_csrf": token, "base": base, "text-0": "{product}. Сколько {quantity}?"},
    )
    assert bad.status == 400 and "Подстановку {quantity} бот здесь не заполняет" in await bad.text()
    unpaired = await client.post(
        "/admin/replies/utter_ask_quantity",
        data={"_csrf": token, "base": base, "text-0": "{product. Сколько?"},
    )
    assert unpaired.status == 400 and path.read_bytes() == before
    good = await client.post(
        "/admin/replies/utter_ask_quantity",
        data={
            "_csrf": token,
            "base": base,
            "text-0": "{product}. Сколько штук положить?",
            "new": "Сколько нужно: {product}?",
        },
    )
    assert good.status == 200
    assert host.services.responses.variants["utter_ask_quantity"] == [
        "{product}. Сколько штук положить?",
        "Сколько нужно: {product}?",
    ]
    assert running_call.variants["utter_ask_quantity"] == ["{product}. Сколько штук вам нужно?"]
    assert "Сколько штук положить" in path.read_text("utf-8")
    listen = await client.post(
        "/admin/replies/listen",
        json={"text": "Вы хотите заказать {quantity}?"},
        headers={"X-CSRF-Token": token},
    )
    assert listen.status == 200 and listen.content_type == "audio/wav"
    assert (await listen.read())[:4] == b"RIFF"
    assert host.services.synthesizer.said[-1] == "Вы хотите заказать две штуки?"


def test_manager_rules_are_checked_as_the_seed_server_does() -> None:
    good, refused = check_rules(
        [
            "9035677876=103",
            "+7 (916) 123-45-67=2045",
            "903567=103",
            "9035677876=1",
            "9035677876=123456",
            "9035677876=abc",
            "9035677876",
            "79035677876=104",
        ],
        ManagerRules(min_phone_digits=10, extension_min=2, extension_max=5),
    )
    assert {p: e for p, (e, _) in good.items()} == {"9035677876": "104", "9161234567": "2045"}
    assert [r.code for r in refused] == [
        "phone_short",
        "extension_length",
        "extension_length",
        "extension_format",
        "format",
    ]


async def test_managers_page_and_api_apply_rules_to_the_next_transfer(
    client: Client, host: Host
) -> None:
    token = await logged_in(client, host, "editor")
    response = await client.post(
        "/admin/managers", data={"_csrf": token, "rules": "9035677876=103\n12345=1\n9161234567=109"}
    )
    page = await response.text()
    assert response.status == 400 and "Принято правил: 2" in page and "12345=1" in page
    call = CallInfo(call_id="c1", caller="+79035677876", called="100", connector="browser")
    assert host.router.dialog_for(call).operator == "103"
    assert "9161234567=109" in Path(host.settings.server.managers_file or "").read_text()
    api = "/admin/api/managers"
    assert (await client.post(api, data="9035677876=105")).status == 401
    client.session.cookie_jar.clear()  # the API takes the token, not a session
    auth = {"Authorization": "Bearer api-token-0123456789"}
    reply = await client.post(api, json={"rules": ["9035677876=105", "1=2"]}, headers=auth)
    body = await reply.json()
    assert reply.status == 200 and body["applied"][0]["replaced"] == "103"
    assert body["refused"][0]["code"] == "phone_short"
    assert host.router.dialog_for(call).operator == "105"
    listed = await (await client.get(api, headers=auth)).json()
    assert "9035677876=105" in listed["rules"]


async def test_a_reply_version_is_rolled_back(client: Client, host: Host) -> None:
    token = await logged_in(client, host, "editor")
    path = host.settings.dialog.responses
    original = path.read_bytes()
    page = await (await client.get("/admin/replies")).text()
    base = page.split('name="base" value="')[1].split('"')[0]
    await client.post(
        "/admin/replies/utter_goodbye", data={"_csrf": token, "base": base, "text-0": "Пока!"}
    )
    assert b"\xd0\x9f\xd0\xbe\xd0\xba\xd0\xb0!" in path.read_bytes()
    history = await (await client.get("/admin/history?kind=responses")).text()
    first = history.split('name="version" value="')[1].split('"')[0]
    token = await csrf_of(client, "/admin/history?kind=responses")
    back = await client.post("/admin/history/rollback", data={"_csrf": token, "version": first})
    assert back.status == 200 and path.read_bytes() == original
    assert host.services.responses.variants["utter_goodbye"] == ["До свидания!"]
