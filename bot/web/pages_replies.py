"""Ответы бота: each reply of ``responses.yml`` with its variants, placeholder checks, and
«Прослушать» (the configured TTS, numbers verbalized as in a call). A saved reply is written
atomically, kept in the history, and used by calls that start after it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.voice import fixed_phrases
from bot.web import replies_doc
from bot.web.app import Console, console
from bot.web.audit import sha256
from bot.web.files import write_atomic
from bot.web.forms import read_form, text
from bot.web.layout import SESSION_KEY, page, render
from dialogs.policy import RESPONSES
from dialogs.responses import Responses, ResponsesError

log = logging.getLogger(__name__)
MAX_TEXT = 1000
_warming: set[asyncio.Task[None]] = set()


def _context(state: Console) -> dict[str, Any]:
    path = state.host.settings.dialog.responses
    content = path.read_text("utf-8")
    doc = replies_doc.parse(content)
    rows = []
    for reply in doc.replies:
        names = replies_doc.allowed(reply.key, reply.texts)
        rows.append(
            {
                "reply": reply,
                "allowed": sorted(names),
                "values": list(reply.texts),
                "errors": {},
                "warnings": _warnings(reply.key, reply.texts, names),
                "new": "",
            }
        )
    return {"rows": rows, "base": sha256(content.encode()), "titles": replies_doc.SLOT_TITLES}


def _warnings(key: str, texts: list[str], names: frozenset[str]) -> dict[int, list[str]]:
    return {k: replies_doc.check_text(key, t, names).warnings for k, t in enumerate(texts)}


@page("view")
async def show(request: web.Request) -> web.StreamResponse:
    return render(request, "replies.html", _context(console(request)))


@page("edit")
async def save(request: web.Request) -> web.StreamResponse:
    state = console(request)
    form = await read_form(request)
    path = state.host.settings.dialog.responses
    content = path.read_text("utf-8")
    if text(form, "base", 100) != sha256(content.encode()):
        stale = {
            "title": "Ответы изменились",
            "text": "Пока вы редактировали, ответы изменил кто-то другой. "
            "Откройте страницу заново.",
            "back": "/admin/replies",
        }
        return render(request, "message.html", stale, status=409)
    doc = replies_doc.parse(content)
    key = request.match_info["key"]
    reply = doc.get(key)
    if reply is None:
        raise web.HTTPNotFound(text="Нет такого ответа.")
    names = replies_doc.allowed(key, reply.texts)
    values: list[str] = []
    errors: dict[int, list[str]] = {}
    submitted = []
    for k in range(len(reply.texts)):
        value = " ".join(text(form, f"text-{k}", MAX_TEXT).split())
        submitted.append(value)
        if f"del-{k}" not in form:
            values.append(value)
            found = replies_doc.check_text(key, value, names).errors
            if found:
                errors[k] = found
    extra = " ".join(text(form, "new", MAX_TEXT).split())
    if extra:
        values.append(extra)
        found = replies_doc.check_text(key, extra, names).errors
        if found:
            errors[-1] = found
    if not values:
        errors[-2] = ["Нужен хотя бы один вариант: иначе боту нечего сказать."]
    if not errors:
        old_texts = list(reply.texts)
        reply.texts = values
        rendered = replies_doc.render(doc)
        problem = await asyncio.to_thread(_loads, rendered)
        if problem:
            errors[-2] = [problem]
    if errors:
        context = _context(state)
        for row in context["rows"]:
            if row["reply"].key == key:
                row.update(values=submitted, errors=errors, new=extra, open=True)
        return render(request, "replies.html", context, status=400)
    await state.history.ensure_baseline("responses", content.encode())
    write_atomic(path, rendered.encode())
    fresh = Responses.load(path)
    state.services.responses = fresh  # calls that start from now on say it
    user = request[SESSION_KEY].user.name
    await state.history.save("responses", rendered.encode(), user, f"{key} изменён")
    await state.record(request, "ответ изменён", key, " | ".join(old_texts), " | ".join(values))
    _warm(state, fresh)
    raise web.HTTPSeeOther(f"/admin/replies?ok=saved#{key}")


def _loads(rendered: str) -> str:
    """The bot's own loader on the new text: a reply the policy needs must stay."""
    with tempfile.TemporaryDirectory(prefix="responses-check-") as folder:
        path = Path(folder) / "responses.yml"
        path.write_text(rendered, "utf-8")
        try:
            Responses.load(path).require(RESPONSES)
        except ResponsesError as exc:
            return f"Файл ответов не принят: {exc}"
    return ""


def _warm(state: Console, responses: Responses) -> None:
    """Synthesize the new fixed phrases ahead of the calls (in the background)."""

    async def warm() -> None:
        with contextlib.suppress(Exception):
            await state.services.synthesizer.warm(fixed_phrases(responses))

    task = asyncio.create_task(warm(), name="tts-warm")
    _warming.add(task)
    task.add_done_callback(_warming.discard)


@page("view")
async def listen(request: web.Request) -> web.StreamResponse:
    state = console(request)
    try:
        payload = json.loads((await request.content.read(16_384)).decode("utf-8"))
        phrase = " ".join(str(payload.get("text", ""))[:MAX_TEXT].split())
    except (ValueError, UnicodeDecodeError, AttributeError):
        return web.json_response({"error": "Неверный запрос."}, status=400)
    if not phrase:
        return web.json_response({"error": "Пустой текст: нечего слушать."}, status=400)
    try:
        filled = replies_doc.sample(phrase)
    except (ValueError, IndexError):
        return web.json_response({"error": "Фигурные скобки { } стоят не парами."}, status=400)
    synthesizer = state.services.synthesizer
    try:
        audio = await synthesizer.synthesize(filled)
    except Exception:
        log.exception("preview synthesis failed")
        return web.json_response(
            {"error": "Синтез речи не удался, попробуйте ещё раз."}, status=503
        )
    return web.Response(
        body=audio.to_wav_bytes(),
        content_type="audio/wav",
        headers={"X-Spoken-Text": quote(synthesizer.spoken(filled))},
    )


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/replies", show)
    app.router.add_post("/replies/listen", listen)
    app.router.add_post("/replies/{key}", save)
