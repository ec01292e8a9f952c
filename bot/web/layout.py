"""The console's layout: navigation, permissions by role, page rendering, messages.

A page is a handler decorated with :func:`page` (which permission it needs) and, if it
belongs in the menu, one :func:`nav_item`. Roles are sets of permissions, so a new section
(the supervisors' call journal) adds a permission here and a menu entry, nothing else::

    PERMISSIONS["journal"] = frozenset({"admin", "supervisor"})
    nav_item("journal", "/admin/journal", "Журнал звонков", "journal")
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web.accounts import Session

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_KEY = web.RequestKey("admin_session", Session)

PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset({"admin", "editor", "supervisor"}),  # read every page, listen, try a call
    "edit": frozenset({"admin", "editor"}),  # catalog, phrases and intents, replies, managers
    "users": frozenset({"admin"}),  # accounts and roles
    "audit": frozenset({"admin"}),  # the audit log
    # the call journal (bot/web/pages_journal.py): a manager sees only the calls transferred
    # to the manager's own extension, supervisors and admins every call
    "journal": frozenset({"admin", "supervisor", "manager"}),
    "journal_all": frozenset({"admin", "supervisor"}),
    "dashboard": frozenset({"admin", "supervisor", "editor"}),
    "recordings": frozenset({"admin"}),  # disk use, deleting recordings older than a date
    # missed calls (bot/web/pages_missed.py, pages_voicemail.py): a manager sees only those
    # missed on the manager's own extension; the rules (pages_missed_rules.py) need "edit"
    "missed": frozenset({"admin", "supervisor", "manager"}),
    "missed_all": frozenset({"admin", "supervisor"}),
}
ROLE_TITLES = {
    "admin": "администратор",
    "editor": "редактор",
    "supervisor": "супервизор",
    "manager": "менеджер",
}


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    path: str
    title: str
    permission: str


NAV: list[NavItem] = []


def nav_item(key: str, path: str, title: str, permission: str = "view") -> None:
    """Add (or replace) a menu entry; the menu shows it to roles with ``permission``."""
    NAV[:] = [item for item in NAV if item.key != key]
    NAV.append(NavItem(key, path, title, permission))


nav_item("home", "/admin/", "Главная")
nav_item("journal", "/admin/journal", "Журнал звонков", "journal")
nav_item("missed", "/admin/missed", "Пропущенные", "missed")
nav_item("voicemail", "/admin/voicemail", "Голосовые сообщения", "missed")
nav_item("dashboard", "/admin/dashboard", "Сводка", "dashboard")
nav_item("catalog", "/admin/catalog", "Каталог")
nav_item("nlu", "/admin/nlu", "Фразы и интенты")
nav_item("replies", "/admin/replies", "Ответы бота")
nav_item("talk", "/admin/talk", "Пробный звонок")
nav_item("managers", "/admin/managers", "Менеджеры")
nav_item("missed_rules", "/admin/missed/rules/sms", "Правила пропущенных")
nav_item("history", "/admin/history", "История")
nav_item("audit", "/admin/audit", "Журнал действий", "audit")
nav_item("users", "/admin/users", "Пользователи", "users")
nav_item("recordings", "/admin/recordings", "Записи", "recordings")

MESSAGES = {  # ?ok=<key> after a redirect
    "saved": "Сохранено.",
    "catalog": "Каталог заменён.",
    "activated": "Новая модель включена: звонки с этого момента используют её.",
    "rolled_back": "Версия восстановлена.",
    "to_draft": "Версия загружена в черновик: переобучите модель и включите её.",
    "discarded": "Черновик удалён.",
    "user": "Пользователь сохранён.",
}


def can(session: Session | None, permission: str) -> bool:
    return session is not None and session.user.role in PERMISSIONS.get(permission, frozenset())


def current(request: web.Request) -> Session:
    session = request.get(SESSION_KEY)
    if session is None:
        raise web.HTTPFound("/admin/login")
    return session


def page(permission: str = "view") -> Callable[[Handler], Handler]:
    """Only roles with ``permission`` reach the handler; others get a Russian 403 page."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            session = current(request)
            if not can(session, permission):
                if request.path == "/admin/" and can(session, "journal"):
                    raise web.HTTPFound("/admin/journal")  # a manager's home is the journal
                return render(request, "forbidden.html", {}, status=403)
            return await handler(request)

        checked.permission = permission  # type: ignore[attr-defined]
        return checked

    return wrap


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    session = request.get(SESSION_KEY)
    base = {
        "session": session,
        "user": session.user if session else None,
        "csrf": session.csrf if session else "",
        "nav": [item for item in NAV if can(session, item.permission)],
        "can": lambda permission: can(session, permission),
        "role_title": ROLE_TITLES,
        "path": request.path,
        "message": MESSAGES.get(request.query.get("ok", "")),
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **context})
    response.set_status(status)
    return response
