"""Login, cookies, CSRF on every form, roles and logout, over HTTP."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.web.conftest import PASSWORD, Host, add_user, csrf_of, logged_in, login

Client = TestClient[Any, Any]


async def test_pages_need_a_login_and_the_login_cookie_is_strict(
    client: Client, host: Host
) -> None:
    response = await client.get("/admin/catalog", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/login?next=")
    page = await (await client.get("/admin/login")).text()
    assert "create-user" in page  # no users yet: the page says how to make the first one
    await add_user(host, "anna", "editor")
    response = await login(client, "anna")
    assert response.status == 303 and response.headers["Location"] == "/admin/"
    cookie = response.cookies["bot_admin"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/admin"
    assert not cookie["secure"]  # plain HTTP here; Secure with HTTPS or admin.secure_cookie
    assert (await client.get("/admin/catalog")).status == 200


async def test_secure_cookie_when_configured(client: Client, host: Host) -> None:
    host.settings.admin.secure_cookie = True  # behind a TLS proxy: the browser sees HTTPS
    response = await client.get("/admin/login")
    assert response.cookies["bot_admin_login"]["secure"]
    host.settings.admin.secure_cookie = None
    response = await client.get("/admin/login")
    assert not response.cookies["bot_admin_login"]["secure"]  # auto: plain HTTP here


async def test_wrong_password_locks_and_logs_no_name_or_password(
    client: Client, host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    host.settings.admin.lockout_failures = 2
    await add_user(host, "anna", "editor")
    caplog.set_level(logging.INFO)
    first = await login(client, "anna", "not the password")
    assert first.status == 401 and "Неверное имя или пароль" in await first.text()
    second = await login(client, "anna", "not the password")
    assert "заблокирован" in await second.text()
    third = await login(client, "anna")  # the right password while locked
    assert third.status == 401 and "заблокирован" in await third.text()
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "anna" not in logged and "not the password" not in logged and PASSWORD not in logged


async def test_a_login_form_without_its_token_is_refused(client: Client, host: Host) -> None:
    await add_user(host, "anna", "editor")
    response = await client.post(
        "/admin/login", data={"name": "anna", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 403 and "bot_admin" not in response.cookies


async def test_every_post_needs_the_session_csrf_token(client: Client, host: Host) -> None:
    token = await logged_in(client, host, "admin")
    managers = host.router.managers
    form = {"rules": "9035677876=103"}
    assert (await client.post("/admin/managers", data=form)).status == 403
    wrong = await client.post("/admin/managers", data={**form, "_csrf": token + "x"})
    assert wrong.status == 403 and "Форма устарела" in await wrong.text()
    other_site = await client.post(
        "/admin/managers", data={**form, "_csrf": token}, headers={"Origin": "http://evil.test"}
    )
    assert other_site.status == 403
    assert "9035677876" not in managers.table
    assert (await client.post("/admin/users", data={"action": "create"})).status == 403
    listen = await client.post("/admin/replies/listen", json={"text": "Привет"})
    assert listen.status == 403  # fetch() needs X-CSRF-Token
    ok = await client.post("/admin/managers", data={**form, "_csrf": token})
    assert ok.status == 200 and managers.table["9035677876"] == "103"


async def test_an_editor_cannot_manage_users_or_read_the_audit_log(
    client: Client, host: Host
) -> None:
    token = await logged_in(client, host, "editor")
    assert (await client.get("/admin/users")).status == 403
    assert (await client.get("/admin/audit")).status == 403
    response = await client.post(
        "/admin/users",
        data={
            "_csrf": token,
            "action": "create",
            "name": "eve",
            "role": "admin",
            "password": PASSWORD,
        },
    )
    assert response.status == 403
    assert [u.name for u in await _users(host)] == ["editor1"]
    assert "Пользователи" not in await (await client.get("/admin/")).text()  # not in the menu


async def test_a_supervisor_cannot_change_phrases_replies_or_the_catalog(
    client: Client, host: Host
) -> None:
    token = await logged_in(client, host, "supervisor")
    nlu_before = host.settings.nlu.data.read_bytes()
    page = await (await client.get("/admin/nlu/intent/greet")).text()
    assert "Сохранить" not in page  # read-only for this role
    refused = await client.post(
        "/admin/nlu/intent/greet", data={"_csrf": token, "new": "приветик робот"}
    )
    assert refused.status == 403
    assert (await client.post("/admin/nlu/train", data={"_csrf": token})).status == 403
    reply = await client.post(
        "/admin/replies/utter_goodbye", data={"_csrf": token, "text-0": "Пока"}
    )
    assert reply.status == 403
    assert not (host.settings.admin.work_dir / "nlu.draft.yml").exists()
    assert host.settings.nlu.data.read_bytes() == nlu_before
    listen = await client.post(
        "/admin/replies/listen", json={"text": "Привет"}, headers={"X-CSRF-Token": token}
    )
    assert listen.status == 200  # listening is reading


async def test_logout_ends_the_session(client: Client, host: Host) -> None:
    token = await logged_in(client, host, "editor")
    response = await client.post("/admin/logout", data={"_csrf": token}, allow_redirects=False)
    assert response.status == 303
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"bot_admin": "stolen-but-closed"}, response.url)
    assert (await client.get("/admin/catalog", allow_redirects=False)).status == 303


async def test_admin_creates_and_changes_users_and_it_is_audited(
    client: Client, host: Host
) -> None:
    token = await logged_in(client, host, "admin")
    created = await client.post(
        "/admin/users",
        data={
            "_csrf": token,
            "action": "create",
            "name": "boris",
            "role": "supervisor",
            "password": PASSWORD,
        },
    )
    assert created.status == 200 and "boris" in await created.text()
    await client.post(
        "/admin/users", data={"_csrf": token, "action": "role", "name": "boris", "role": "editor"}
    )
    assert {u.name: u.role for u in await _users(host)}["boris"] == "editor"
    audit = await (await client.get("/admin/audit")).text()
    assert "пользователь создан" in audit and "роль изменена" in audit and "вход" in audit
    token2 = await csrf_of(client, "/admin/users")
    mine = await client.post(
        "/admin/users", data={"_csrf": token2, "action": "disable", "name": "admin1"}
    )
    assert mine.status == 400  # an admin does not lock themselves out


async def _users(host: Host) -> list[Any]:
    from bot.web.accounts import Accounts

    return await Accounts(host.shop.db, host.settings.admin).users()
