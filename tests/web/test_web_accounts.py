"""Accounts, lockout, sessions and the history on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from bot.web.accounts import AccountError, Accounts
from bot.web.audit import AuditLog, History
from bot.web.settings import AdminSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import admin_sessions, admin_users
from connectors.shop.settings import ShopSettings
from tests.connectors.shop.conftest import backend, empty_url, pg_url, postgres  # noqa: F401

PASSWORD = "long enough password"


@pytest.fixture
async def db(empty_url: str) -> AsyncIterator[ShopDatabase]:  # noqa: F811
    database = await ShopDatabase.open(ShopSettings(url=empty_url))
    try:
        yield database
    finally:
        await database.close()


async def test_passwords_are_argon2id_and_checked(db: ShopDatabase) -> None:
    accounts = Accounts(db, AdminSettings())
    user = await accounts.create_user("anna", "editor", PASSWORD)
    stored = await db.read(lambda c: c.execute(sa.select(admin_users.c.password_hash)).scalar_one())
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert (await accounts.authenticate("anna", PASSWORD)).user == user
    assert (await accounts.authenticate("anna", PASSWORD + "x")).user is None
    assert (await accounts.authenticate("nobody", PASSWORD)).user is None
    with pytest.raises(AccountError, match="уже есть"):
        await accounts.create_user("anna", "admin", PASSWORD)
    with pytest.raises(AccountError, match="не короче"):
        await accounts.create_user("boris", "admin", "short")
    with pytest.raises(AccountError, match="Роль"):
        await accounts.create_user("boris", "root", PASSWORD)


async def test_lockout_after_failures_and_a_new_password_unlocks(db: ShopDatabase) -> None:
    accounts = Accounts(db, AdminSettings(lockout_failures=3, lockout_minutes=15))
    await accounts.create_user("anna", "editor", PASSWORD)
    results = [await accounts.authenticate("anna", "wrong password") for _ in range(3)]
    assert [r.locked_minutes for r in results] == [0, 0, 15]
    locked = await accounts.authenticate("anna", PASSWORD)  # the right password, still locked
    assert locked.user is None and locked.locked_minutes > 0
    await accounts.update("anna", password="another long password")
    assert (await accounts.authenticate("anna", "another long password")).user is not None


async def test_sessions_expire_end_with_logout_and_with_a_disabled_user(db: ShopDatabase) -> None:
    accounts = Accounts(db, AdminSettings())
    user = await accounts.create_user("anna", "admin", PASSWORD)
    token, session = await accounts.open_session(user)
    found = await accounts.session(token)
    assert found is not None and found.csrf == session.csrf and found.user.role == "admin"
    stored = await db.read(lambda c: c.execute(sa.select(admin_sessions.c.token_hash)).scalar())
    assert stored != token  # only a hash of the cookie is kept
    assert await accounts.session(token + "x") is None
    await accounts.close_session(token)
    assert await accounts.session(token) is None
    token, _ = await accounts.open_session(user)
    await accounts.update("anna", disabled=True)
    assert await accounts.session(token) is None
    idle = Accounts(db, dataclasses.replace(AdminSettings(), idle_minutes=1e-6))
    await accounts.update("anna", disabled=False)
    token, _ = await idle.open_session(user)
    assert await idle.session(token) is None  # idle longer than the limit


async def test_history_keeps_the_newest_versions_and_the_audit_log_every_change(
    db: ShopDatabase,
) -> None:
    history = History(db, keep=3)
    await history.ensure_baseline("responses", b"v0")
    await history.ensure_baseline("responses", b"ignored")  # only before the first change
    for n in range(1, 5):
        await history.save("responses", f"v{n}".encode(), "anna", f"change {n}")
    versions = await history.versions("responses")
    assert [v.summary for v in versions] == ["change 4", "change 3", "change 2"]
    found = await history.content(versions[-1].id)
    assert found is not None and found[1] == b"v2"
    audit = AuditLog(db)
    await audit.record("anna", "ответ изменён", "utter_goodbye", before="a", after="b")
    entries = await audit.entries()
    assert [(e.user_name, e.action, e.before, e.after) for e in entries] == [
        ("anna", "ответ изменён", "a", "b")
    ]
    assert await audit.entries(query="utter_goodbye") and not await audit.entries(query="zzz")
