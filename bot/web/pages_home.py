"""The home page, login and logout."""

from __future__ import annotations

from aiohttp import web

from bot.web import nlu_doc, replies_doc
from bot.web.app import Console, console
from bot.web.catalog import current_items
from bot.web.layout import page, render
from bot.web.security import LoginPages


@page("view")
async def home(request: web.Request) -> web.StreamResponse:
    state = console(request)
    text, draft = state.nlu_text()
    doc = nlu_doc.parse(text)
    intents = [i for i in doc.items if i.kind == "intent"]
    report = state.trainer.comparison()
    active = report.active if report else None
    replies = replies_doc.parse(state.host.settings.dialog.responses.read_text("utf-8"))
    context = {
        "catalog_count": len(await current_items(state.db)),
        "examples": sum(len(i.examples) for i in intents),
        "intents": len(intents),
        "draft": draft,
        "f1": active["macro_f1"] if active else None,
        "replies": len(replies.replies),
        "managers": len(state.host.router.managers.table),
    }
    return render(request, "home.html", context)


def add_routes(app: web.Application, state: Console) -> None:
    login = LoginPages(state.accounts, state.settings, state.audit)
    app.router.add_get("/", home)
    app.router.add_get("/login", login.show)
    app.router.add_post("/login", login.submit)
    app.router.add_post("/logout", login.logout)
