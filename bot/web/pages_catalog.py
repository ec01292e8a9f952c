"""Каталог: the upload form of Case 1 with a preview before the whole catalog is replaced,
every bad row and column shown in the page, browse and search, download as ``.xlsx``."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from pathlib import Path

from aiohttp import BodyPartReader, web

from bot.web import catalog
from bot.web.app import Console, console
from bot.web.forms import multipart, read_form, text
from bot.web.layout import SESSION_KEY, page, render
from bot.web.security import csrf_refused, same_token
from connectors.shop.catalog_errors import CatalogError

log = logging.getLogger(__name__)
PAGE_SIZE = 50
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
STAGED_TTL_S = 3600


def _staged_dir(state: Console) -> Path:
    return state.settings.work_dir / "uploads"


def _staged(state: Console, token: str, user_id: int) -> Path | None:
    if not TOKEN_RE.match(token):
        return None
    path = _staged_dir(state) / f"{user_id}-{token}.xlsx"
    return path if path.is_file() else None


def _clean_staged(state: Console) -> None:
    folder = _staged_dir(state)
    if not folder.is_dir():
        return
    for path in folder.glob("*.xlsx"):
        if time.time() - path.stat().st_mtime > STAGED_TTL_S:
            path.unlink(missing_ok=True)


async def _page(request: web.Request, **extra: object) -> web.Response:
    state = console(request)
    items = await catalog.current_items(state.db)
    query = request.query.get("q", "").strip()[:100]
    found = catalog.search(items, query)
    try:
        number = max(1, int(request.query.get("page", "1")))
    except ValueError:
        number = 1
    pages = max(1, -(-len(found) // PAGE_SIZE))
    number = min(number, pages)
    context = {
        "total": len(items),
        "query": query,
        "found": len(found),
        "rows": found[(number - 1) * PAGE_SIZE : number * PAGE_SIZE],
        "page_number": number,
        "pages": pages,
        "errors": [],
        "file_name": "",
        "max_mb": state.settings.max_upload_bytes // (1024 * 1024),
        **extra,
    }
    status = 400 if context["errors"] else 200
    return render(request, "catalog.html", context, status=status)


@page("view")
async def show(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@page("edit")
async def upload(request: web.Request) -> web.StreamResponse:
    """Multipart: ``_csrf`` first (checked before the file is read), then ``file``."""
    state = console(request)
    session = request[SESSION_KEY]
    reader = await multipart(request)
    first = await reader.next()
    if not isinstance(first, BodyPartReader) or first.name != "_csrf":
        return csrf_refused(request, "upload without a token first")
    if not same_token(
        (await first.read(decode=True))[:200].decode("ascii", "replace"), session.csrf
    ):
        return csrf_refused(request, "upload token")
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != "file" or not part.filename:
        return await _page(request, errors=[_problem("Выберите файл .xlsx для загрузки.")])
    _clean_staged(state)
    folder = _staged_dir(state)
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    path = folder / f"{session.user.id}-{token}.xlsx"
    limit = state.settings.max_upload_bytes
    size = 0
    with path.open("wb") as out:
        while chunk := await part.read_chunk(65536):
            size += len(chunk)
            if size > limit:
                out.close()
                path.unlink(missing_ok=True)
                message = f"Файл больше {limit // (1024 * 1024)} МБ: такой каталог не принимается."
                return await _page(request, errors=[_problem(message)], file_name=part.filename)
            out.write(chunk)
    checked = await asyncio.to_thread(catalog.check_upload, path, limit)
    name = Path(part.filename).name[:200]
    if checked.errors:
        path.unlink(missing_ok=True)
        log.info("catalog upload refused", extra={"errors": len(checked.errors)})
        return await _page(request, errors=checked.errors, file_name=name)
    current = await catalog.current_items(state.db)
    context = {
        "token": token,
        "file_name": name,
        "count": len(checked.items),
        "rows": checked.items[: catalog.PREVIEW_ROWS],
        "changes": catalog.changes(current, checked.items),
        "current": len(current),
    }
    return render(request, "catalog_preview.html", context)


def _problem(message: str) -> catalog.RowError:
    return catalog.RowError(message, None, None, "form")


@page("edit")
async def apply(request: web.Request) -> web.StreamResponse:
    state = console(request)
    session = request[SESSION_KEY]
    form = await read_form(request)
    path = _staged(state, text(form, "token", 100), session.user.id)
    if path is None:
        message = "Загруженный файл не найден (прошло больше часа?): загрузите его ещё раз."
        return await _page(request, errors=[_problem(message)])
    try:
        checked = await asyncio.to_thread(
            catalog.check_upload, path, state.settings.max_upload_bytes
        )
        if checked.errors:
            return await _page(request, errors=checked.errors)
        await replace(request, state, checked.items, text(form, "file_name", 200))
    finally:
        path.unlink(missing_ok=True)
    raise web.HTTPSeeOther("/admin/catalog?ok=catalog")


async def replace(request: web.Request, state: Console, items: list, source: str) -> None:
    """Replace the catalog, keep both versions, refresh the NLU's articles at once, audit."""
    old = await catalog.current_items(state.db)
    await state.history.ensure_baseline("catalog", catalog.to_json(old))
    count = await state.db.replace_catalog(items)
    state.services.nlu.set_articles(sorted(i.article for i in items))
    diff = catalog.changes(old, items)
    summary = f"{count} товаров: +{diff.added} −{diff.removed}, изменено {diff.changed}"
    user = request[SESSION_KEY].user.name
    await state.history.save("catalog", catalog.to_json(items), user, f"{source}: {summary}")
    await state.record(request, "каталог заменён", source, f"{len(old)} товаров", summary)


@page("view")
async def download(request: web.Request) -> web.StreamResponse:
    state = console(request)
    items = await catalog.current_items(state.db)
    body = await asyncio.to_thread(catalog.to_xlsx, items)
    stamp = time.strftime("%Y%m%d-%H%M")
    return web.Response(
        body=body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="catalog-{stamp}.xlsx"'},
    )


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/catalog", show)
    app.router.add_post("/catalog/upload", upload)
    app.router.add_post("/catalog/apply", apply)
    app.router.add_get("/catalog/download", download)


__all__ = ["CatalogError", "add_routes", "replace"]
