"""История (every version, rollback), Журнал действий (the audit log, admins) and
Пользователи (accounts and roles, admins)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.web import catalog
from bot.web.accounts import AccountError
from bot.web.app import Console, console
from bot.web.audit import KINDS
from bot.web.files import write_atomic
from bot.web.forms import read_form, text
from bot.web.layout import ROLE_TITLES, SESSION_KEY, page, render
from bot.web.pages_catalog import replace as replace_catalog
from bot.web.settings import ROLES
from dialogs.responses import Responses


@page("view")
async def history(request: web.Request) -> web.StreamResponse:
    state = console(request)
    kind = request.query.get("kind", "nlu")
    if kind not in KINDS:
        kind = "nlu"
    versions = await state.history.versions(kind)
    return render(request, "history.html", {"kinds": KINDS, "kind": kind, "versions": versions})


@page("edit")
async def rollback(request: web.Request) -> web.StreamResponse:
    """Bring back a version: nlu goes to the draft (retrain, then activate); the rest at once."""
    state = console(request)
    form = await read_form(request)
    try:
        found = await state.history.content(int(text(form, "version", 20)))
    except ValueError:
        found = None
    if found is None:
        raise web.HTTPNotFound(text="Нет такой версии.")
    version, content = found
    user = request[SESSION_KEY].user.name
    note = f"версия №{version.id} от {version.at[:16].replace('T', ' ')}"
    settings = state.host.settings
    ok = "rolled_back"
    if version.kind == "nlu":
        await asyncio.to_thread(state.save_nlu_draft, content.decode("utf-8"))
        ok = "to_draft"
    elif version.kind == "responses":
        path = settings.dialog.responses
        await state.history.ensure_baseline("responses", path.read_bytes())
        write_atomic(path, content)
        state.services.responses = Responses.load(path)
        await state.history.save("responses", content, user, f"возврат: {note}")
    elif version.kind == "managers":
        managers = state.host.router.managers
        if managers.path is None:
            raise web.HTTPConflict(text="Файл менеджеров не задан.")
        await state.history.ensure_baseline("managers", managers.path.read_bytes())
        write_atomic(managers.path, content)
        managers.reload()
        await state.history.save("managers", content, user, f"возврат: {note}")
    else:
        await replace_catalog(request, state, catalog.from_json(content), f"возврат: {note}")
    await state.record(request, "возврат версии", KINDS[version.kind], "", note)
    target = "/admin/nlu/train" if version.kind == "nlu" else f"/admin/history?kind={version.kind}"
    raise web.HTTPSeeOther(f"{target}{'&' if '?' in target else '?'}ok={ok}")


@page("audit")
async def audit(request: web.Request) -> web.StreamResponse:
    state = console(request)
    query = request.query.get("q", "").strip()[:100]
    try:
        offset = max(0, int(request.query.get("offset", "0")))
    except ValueError:
        offset = 0
    entries = await state.audit.entries(limit=100, offset=offset, query=query)
    return render(request, "audit.html", {"entries": entries, "query": query, "offset": offset})


@page("users")
async def users(request: web.Request) -> web.StreamResponse:
    return await _users_page(request, "")


@page("users")
async def change_user(request: web.Request) -> web.StreamResponse:
    state = console(request)
    form = await read_form(request)
    action = text(form, "action", 20)
    name = text(form, "name", 64).strip()
    me = request[SESSION_KEY].user
    try:
        if action == "create":
            role = text(form, "role", 20)
            user = await state.accounts.create_user(name, role, text(form, "password", 1024))
            await state.record(request, "пользователь создан", user.name, "", ROLE_TITLES[role])
        else:
            before = await state.accounts.get(name)
            if before is None:
                raise AccountError(f"Пользователя «{name}» нет.")
            if name == me.name and action in ("role", "disable"):
                raise AccountError("Свою роль и доступ меняет другой администратор.")
            if action == "role":
                role = text(form, "role", 20)
                await state.accounts.update(name, role=role)
                after = ROLE_TITLES.get(role, role)
                await state.record(request, "роль изменена", name, ROLE_TITLES[before.role], after)
            elif action in ("disable", "enable"):
                await state.accounts.update(name, disabled=action == "disable")
                after = "отключён" if action == "disable" else "включён"
                await state.record(request, f"пользователь {after}", name)
            elif action == "password":
                await state.accounts.update(name, password=text(form, "password", 1024))
                await state.record(request, "пароль изменён", name)
            elif action == "unlock":
                await state.accounts.update(name, unlock=True)
                await state.record(request, "вход разблокирован", name)
            else:
                raise AccountError("Неизвестное действие.")
    except AccountError as exc:
        return await _users_page(request, str(exc))
    raise web.HTTPSeeOther("/admin/users?ok=user")


async def _users_page(request: web.Request, error: str) -> web.StreamResponse:
    state = console(request)
    context = {"users": await state.accounts.users(), "roles": ROLES, "error": error}
    return render(request, "users.html", context, status=400 if error else 200)


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/history", history)
    app.router.add_post("/history/rollback", rollback)
    app.router.add_get("/audit", audit)
    app.router.add_get("/users", users)
    app.router.add_post("/users", change_user)
