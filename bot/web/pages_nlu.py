"""Фразы и интенты: the examples of each intent (add, change, delete, move to another
intent), synonyms and lookups. Changes go to a draft of ``nlu.yml``
(``admin.work_dir/nlu.draft.yml``), checked by the bot's loader; the model in force stays
until a retrained candidate is activated (:mod:`bot.web.pages_training`)."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from bot.web import nlu_doc
from bot.web.app import Console, console
from bot.web.audit import sha256
from bot.web.forms import read_form, text
from bot.web.layout import page, render
from bot.web.nlu_doc import Document, FieldError, Item

NAME_RE = re.compile(r"^[\w][\w .-]{0,63}$")
LIST_KINDS = {"synonym": "синоним", "lookup": "список"}


def _doc(state: Console) -> tuple[Document, str, bool]:
    text_now, draft = state.nlu_text()
    return nlu_doc.parse(text_now), sha256(text_now.encode()), draft


def _errors(found: list[FieldError]) -> dict[str, list[str]]:
    by_field: dict[str, list[str]] = {}
    for error in found:
        by_field.setdefault(error.field, []).append(error.message)
    return by_field


@page("view")
async def intents(request: web.Request) -> web.StreamResponse:
    doc, base, draft = _doc(console(request))
    items = [i for i in doc.items if i.kind == "intent"]
    lists = [(n, i) for n, i in enumerate(doc.items) if i.kind in LIST_KINDS]
    context = {"intents": items, "lists": lists, "draft": draft, "kinds": LIST_KINDS, "base": base}
    return render(request, "nlu.html", context)


def _intent_context(doc: Document, item: Item, base: str, draft: bool) -> dict[str, object]:
    return {
        "item": item,
        "rows": [{"text": t, "move": item.name, "delete": False} for t in item.examples],
        "others": doc.intents(),
        "base": base,
        "draft": draft,
        "errors": {},
        "new": "",
    }


@page("view")
async def intent(request: web.Request) -> web.StreamResponse:
    doc, base, draft = _doc(console(request))
    item = doc.find("intent", request.match_info["name"])
    if item is None:
        raise web.HTTPNotFound(text="Нет такого интента.")
    return render(request, "nlu_intent.html", _intent_context(doc, item, base, draft))


def _stale(request: web.Request) -> web.Response:
    return render(
        request,
        "message.html",
        {
            "title": "Данные изменились",
            "text": "Пока вы редактировали, данные изменил кто-то другой. Откройте страницу "
            "заново и повторите изменение.",
            "back": request.path,
        },
        status=409,
    )


@page("edit")
async def save_intent(request: web.Request) -> web.StreamResponse:
    state = console(request)
    form = await read_form(request)
    doc, base, draft = _doc(state)
    name = request.match_info["name"]
    item = doc.find("intent", name)
    if item is None:
        raise web.HTTPNotFound(text="Нет такого интента.")
    if text(form, "base", 100) != base:
        return _stale(request)
    new = doc.copy()
    target = new.find("intent", name)
    assert target is not None
    kept: list[str] = []
    origins: list[str] = []
    moved: list[tuple[str, str, str]] = []
    rows = []
    for k, old_text in enumerate(item.examples):
        value = " ".join(text(form, f"text-{k}", 2000).split()) if f"text-{k}" in form else old_text
        move = text(form, f"move-{k}", 100) or name
        delete = f"del-{k}" in form
        rows.append({"text": value, "move": move, "delete": delete})
        if delete:
            continue
        if move != name and new.find("intent", move) is not None:
            moved.append((move, value, f"text-{k}"))
        else:
            kept.append(value)
            origins.append(f"text-{k}")
    added = [" ".join(line.split()) for line in text(form, "new", 200_000).splitlines()]
    added = [line for line in added if line]
    kept.extend(added)
    origins.extend("new" for _ in added)
    target.examples, target.origins = kept, origins
    for other in new.items:
        if other.kind == "intent" and other is not target:
            other.origins = ["" for _ in other.examples]
    for move, value, origin in moved:
        destination = new.find("intent", move)
        assert destination is not None
        destination.examples.append(value)
        destination.origins.append(origin)
    rendered, errors = await asyncio.to_thread(nlu_doc.validate, new)
    if errors:
        context = _intent_context(doc, item, base, draft)
        context.update(rows=rows, errors=_errors(errors), new=text(form, "new", 200_000))
        return render(request, "nlu_intent.html", context, status=400)
    summary = nlu_doc.describe(doc, new)
    moved_note = "; ".join(f"«{v}» ➜ {m}" for m, v, _ in moved)
    await asyncio.to_thread(state.save_nlu_draft, rendered)
    await state.record(
        request,
        "примеры интента изменены",
        name,
        f"{len(item.examples)} примеров",
        summary + (f"; перенесены: {moved_note}" if moved_note else ""),
    )
    raise web.HTTPSeeOther(f"/admin/nlu/intent/{name}?ok=saved")


@page("edit")
async def save_list(request: web.Request) -> web.StreamResponse:
    """A synonym or lookup: ``name`` and ``values`` (one per line); ``delete``; index ``new``."""
    state = console(request)
    form = await read_form(request)
    doc, base, _draft = _doc(state)
    if text(form, "base", 100) != base:
        return _stale(request)
    new = doc.copy()
    index = request.match_info["index"]
    name = " ".join(text(form, "name", 200).split())
    values = [" ".join(v.split()) for v in text(form, "values", 100_000).splitlines()]
    values = [v for v in values if v]
    field_errors: list[FieldError] = []
    if index == "new":
        kind = text(form, "kind", 20)
        if kind not in LIST_KINDS:
            raise web.HTTPBadRequest(text="Неизвестный вид списка.")
        item = Item(kind, name, values)
        new.items.append(item)
        before = "—"
    else:
        try:
            item = new.items[int(index)]
        except (ValueError, IndexError):
            raise web.HTTPNotFound(text="Нет такого списка.") from None
        if item.kind not in LIST_KINDS:
            raise web.HTTPNotFound(text="Нет такого списка.")
        before = f"{item.name}: {len(item.examples)} значений"
        if "delete" in form:
            new.items.remove(item)
        else:
            item.name, item.examples = name, values
    if "delete" not in form:
        if not NAME_RE.match(name):
            field_errors.append(FieldError("name", "Название: буквы, цифры, пробел, . _ -", None))
        item.origins = ["values" for _ in item.examples]
    for other in new.items:
        if other is not item:
            other.origins = ["" for _ in other.examples]
    rendered, errors = (
        ("", field_errors) if field_errors else await asyncio.to_thread(nlu_doc.validate, new)
    )
    if errors:
        lists = [(n, i) for n, i in enumerate(doc.items) if i.kind in LIST_KINDS]
        context = {
            "intents": [i for i in doc.items if i.kind == "intent"],
            "lists": lists,
            "base": base,
            "draft": _draft,
            "kinds": LIST_KINDS,
            "failed": {
                "index": index,
                "errors": _errors(errors),
                "name": name,
                "values": "\n".join(values),
            },
        }
        return render(request, "nlu.html", context, status=400)
    await asyncio.to_thread(state.save_nlu_draft, rendered)
    after = "удалён" if "delete" in form else f"{name}: {len(values)} значений"
    await state.record(
        request, f"{LIST_KINDS[item.kind]} изменён", name or item.name, before, after
    )
    raise web.HTTPSeeOther("/admin/nlu?ok=saved#lists")


@page("edit")
async def discard(request: web.Request) -> web.StreamResponse:
    state = console(request)
    doc, _base, draft = _doc(state)
    if draft:
        active = nlu_doc.parse(state.host.settings.nlu.data.read_text("utf-8"))
        state.nlu_draft.unlink(missing_ok=True)
        state.trainer.discard()
        await state.record(request, "черновик nlu.yml удалён", "", nlu_doc.describe(active, doc))
    raise web.HTTPSeeOther("/admin/nlu?ok=discarded")


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/nlu", intents)
    app.router.add_get("/nlu/intent/{name}", intent)
    app.router.add_post("/nlu/intent/{name}", save_intent)
    app.router.add_post("/nlu/item/{index}", save_list)
    app.router.add_post("/nlu/discard", discard)
