"""«Переобучить»: train a candidate from the draft, show its 5-fold evaluation beside the
model in force (per-intent precision/recall/F1, the confusion picture, «хуже» when macro F1
drops), a try-it box for both models, and «Включить» to put the candidate in force."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from bot.rasa.nlu import keep_engine
from bot.web.app import Console, console
from bot.web.audit import sha256
from bot.web.forms import read_form, text
from bot.web.layout import SESSION_KEY, page, render
from nlu.engine import NluEngine

log = logging.getLogger(__name__)


def _parse(engine: NluEngine | None, phrase: str) -> dict[str, Any] | None:
    if engine is None or not phrase:
        return None
    result = engine.parse(phrase)
    return {
        "intent": result.intent,
        "confidence": result.confidence,
        "ranking": list(result.ranking[:3]),
        "entities": [e.to_json() for e in result.entities],
    }


@page("view")
async def show(request: web.Request) -> web.StreamResponse:
    state = console(request)
    trainer = state.trainer
    current_text, draft = state.nlu_text()
    current_sha = sha256(current_text.encode())
    comparison = trainer.comparison()
    fresh = comparison is not None and comparison.data_sha == current_sha
    phrase = request.query.get("text", "").strip()[:300]
    tried = candidate = None
    if phrase:
        articles = await state.db.articles()
        if fresh:
            engine = await asyncio.to_thread(trainer.candidate_engine, articles)
            candidate = _parse(engine, phrase)
        tried = _parse(state.services.nlu, phrase)
    active = comparison.active if comparison else None
    if active is None and not trainer.running:
        active = await asyncio.to_thread(trainer.active_report)
    context = {
        "draft": draft,
        "job": trainer.job.to_json() if trainer.job and trainer.running else None,
        "failed": trainer.job.error if trainer.job and not trainer.running else "",
        "comparison": comparison if fresh else None,
        "stale": comparison is not None and not fresh,
        "active": active,
        "phrase": phrase,
        "tried": tried,
        "candidate": candidate,
        "current_sha": current_sha,
    }
    return render(request, "nlu_train.html", context)


@page("edit")
async def start(request: web.Request) -> web.StreamResponse:
    state = console(request)
    current_text, _draft = state.nlu_text()
    state.trainer.start(current_text)
    raise web.HTTPSeeOther("/admin/nlu/train")


@page("view")
async def status(request: web.Request) -> web.StreamResponse:
    job = console(request).trainer.job
    if job is None:
        return web.json_response(
            {"running": False, "step": 0, "steps": 3, "stage": "", "seconds": 0}
        )
    return web.json_response(job.to_json())


@page("view")
async def confusion(request: web.Request) -> web.StreamResponse:
    picture = console(request).trainer.folder / "confusion.png"
    if not picture.is_file():
        raise web.HTTPNotFound(text="Картинки нет: переобучите модель.")
    return web.FileResponse(picture, headers={"Cache-Control": "no-store"})


@page("edit")
async def activate(request: web.Request) -> web.StreamResponse:
    state = console(request)
    form = await read_form(request)
    current_text, _draft = state.nlu_text()
    comparison = state.trainer.comparison()
    problem = ""
    if comparison is None or comparison.data_sha != sha256(current_text.encode()):
        problem = "Данные изменились после обучения: переобучите модель ещё раз."
    elif text(form, "data_sha", 100) != comparison.data_sha:
        problem = "Страница устарела: откройте её заново."
    elif comparison.worse and "confirm_worse" not in form:
        problem = "Новая модель хуже прежней: отметьте «Всё равно включить», если вы уверены."
    if problem:
        context = {"title": "Модель не включена", "text": problem, "back": "/admin/nlu/train"}
        return render(request, "message.html", context, status=409)
    assert comparison is not None
    data_path = state.host.settings.nlu.data
    old = data_path.read_bytes()
    await state.history.ensure_baseline("nlu", old)
    articles = await state.db.articles()
    engine = await asyncio.to_thread(state.trainer.activate, articles)
    # calls that start from now on use it (behind Rasa when nlu.engine is rasa)
    state.services.nlu = keep_engine(state.services.nlu, engine)
    state.nlu_draft.unlink(missing_ok=True)
    before = f"macro F1 {comparison.active['macro_f1']:.3f}" if comparison.active else "—"
    after = f"macro F1 {comparison.candidate['macro_f1']:.3f}"
    user = request[SESSION_KEY].user.name
    await state.history.save("nlu", current_text.encode(), user, f"модель включена: {after}")
    await state.record(request, "модель NLU включена", str(data_path.name), before, after)
    log.info("nlu model activated from the console")
    raise web.HTTPSeeOther("/admin/nlu/train?ok=activated")


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/nlu/train", show)
    app.router.add_post("/nlu/train", start)
    app.router.add_get("/nlu/train/status", status)
    app.router.add_get("/nlu/train/confusion.png", confusion)
    app.router.add_post("/nlu/activate", activate)
