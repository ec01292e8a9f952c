"""Записи разговоров (admins): the disk the recordings take, deleting those older than a date
(the seed CRM's «Управлять записями разговоров»); a manager's extension on the users page.

Deleting is audited with the date and what went; the scheduled clean-up
(``recordings.keep_days``) does the same on its own (:mod:`bot.journal.retention`).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa
from aiohttp import web

from bot.journal import queries
from bot.journal.retention import delete_recordings_before, disk_use
from bot.routing import EXTENSION_RE
from bot.web.app import Console, console
from bot.web.forms import read_form, text
from bot.web.layout import page, render
from connectors.shop.schema import admin_users


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} МБ"


def _root(state: Console) -> Path | None:
    folder = state.host.settings.recordings.dir
    return Path(folder) if folder is not None else None


async def _page(request: web.Request, **extra: object) -> web.StreamResponse:
    state = console(request)
    root = _root(state)
    use = await asyncio.to_thread(disk_use, root) if root is not None else None
    settings = state.host.settings.recordings
    zone = queries.zone_of(state.host.settings.journal.timezone)
    default = (datetime.now(zone) - timedelta(days=settings.keep_days or 90)).date()
    context = {
        "use": use,
        "root": root,
        "settings": settings,
        "megabytes": megabytes,
        "default_date": default.isoformat(),
        "deleted": None,
        "before": "",
        "error": "",
        **extra,
    }
    return render(request, "recordings.html", context, status=400 if context["error"] else 200)


@page("recordings")
async def show(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@page("recordings")
async def delete(request: web.Request) -> web.StreamResponse:
    state = console(request)
    form = await read_form(request)
    root = _root(state)
    try:
        before = date.fromisoformat(text(form, "before", 20))
    except ValueError:
        return await _page(request, error="Укажите дату в виде ГГГГ-ММ-ДД.")
    if text(form, "confirm", 10) != "yes":
        return await _page(request, error="Подтвердите удаление: отметьте флажок.")
    if root is None:
        return await _page(request, error="Записи выключены (recordings.dir: null).")
    zone = queries.zone_of(state.host.settings.journal.timezone)
    moment = datetime.combine(before, time(), zone)
    gone = await delete_recordings_before(state.db, root, moment)
    summary = f"{gone.files} файлов, {megabytes(gone.bytes)}"
    await state.record(request, "записи удалены", f"старше {before.isoformat()}", "", summary)
    return await _page(request, deleted=gone, before=before.isoformat())


@page("users")
async def set_extension(request: web.Request) -> web.StreamResponse:
    state = console(request)
    form = await read_form(request)
    name = text(form, "name", 64).strip()
    extension = text(form, "extension", 80).strip()
    if extension and not EXTENSION_RE.match(extension):
        raise web.HTTPBadRequest(text="Внутренний номер: цифры и буквы, без пробелов.")
    user = await state.accounts.get(name)
    if user is None:
        raise web.HTTPNotFound(text="Нет такого пользователя.")

    def _save(conn: sa.Connection) -> None:
        conn.execute(
            admin_users.update()
            .where(admin_users.c.id == user.id)
            .values(extension=extension or None)
        )

    await state.db.write(_save)
    await state.record(request, "внутренний номер", name, user.extension or "", extension or "—")
    raise web.HTTPSeeOther("/admin/users?ok=user")


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/recordings", show)
    app.router.add_post("/recordings/delete", delete)
    app.router.add_post("/users/extension", set_extension)
