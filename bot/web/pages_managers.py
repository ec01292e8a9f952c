"""Персональные менеджеры: the 1C-Rarus routing table (seed 003) as a page and a token API.

A rule is ``9035677876=103``: the client's phone and the extension of the client's manager.
As the seed's server does, a rule is taken only when the phone has at least
``admin.managers.min_phone_digits`` digits and the extension's length is within
``extension_min..extension_max``; a bad rule is refused with its reason and the others still
apply; a rule for a number that has one replaces it. The table is written to
``server.managers_file`` at once and used from the next call (:meth:`bot.routing.Managers.save`).

API: ``POST /admin/api/managers`` with ``Authorization: Bearer <admin.api_token>``; the body
is the rules (``text/plain``, one or many, separated by new lines, spaces, ``,`` or ``;``) or
JSON ``{"rules": ["9035677876=103", …]}``; ``GET`` lists the table.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass

from aiohttp import web

from bot.routing import Managers, ManagersError
from bot.web.app import Console, console, mask_phones
from bot.web.audit import AuditLog
from bot.web.forms import read_form, text
from bot.web.layout import SESSION_KEY, page, render
from bot.web.settings import ManagerRules
from nlu.phones import normalize_phone

SPLIT_RE = re.compile(r"[\s,;]+")
MAX_RULES = 5000


@dataclass(frozen=True, slots=True)
class Refused:
    rule: str
    reason: str
    code: str


@dataclass(frozen=True, slots=True)
class Applied:
    rule: str
    phone: str
    extension: str
    replaced: str | None  # the extension it had before


def check_rules(
    rules: list[str], limits: ManagerRules
) -> tuple[dict[str, tuple[str, str]], list[Refused]]:
    """phone10 ➜ (extension, rule as given) for the good rules; the refused ones with reasons."""
    good: dict[str, tuple[str, str]] = {}
    refused: list[Refused] = []
    for rule in rules[:MAX_RULES]:
        phone_text, sep, extension = (p.strip() for p in rule.partition("="))
        digits = re.sub(r"\D", "", phone_text)
        if not sep or not phone_text or not extension:
            refused.append(Refused(rule, "Правило пишется так: 9035677876=103.", "format"))
        elif re.search(r"[^\d\s()+-]", phone_text):
            refused.append(Refused(rule, "В номере телефона только цифры.", "phone_format"))
        elif len(digits) < limits.min_phone_digits:
            refused.append(
                Refused(
                    rule,
                    f"В номере {len(digits)} цифр, нужно не меньше {limits.min_phone_digits}.",
                    "phone_short",
                )
            )
        elif (phone := normalize_phone(phone_text)) is None:
            refused.append(Refused(rule, "Это не номер телефона.", "phone_invalid"))
        elif not extension.isdigit():
            refused.append(Refused(rule, "Внутренний номер — только цифры.", "extension_format"))
        elif not limits.extension_min <= len(extension) <= limits.extension_max:
            refused.append(
                Refused(
                    rule,
                    f"Внутренний номер из {len(extension)} цифр, нужно от "
                    f"{limits.extension_min} до {limits.extension_max}.",
                    "extension_length",
                )
            )
        else:
            good[phone] = (extension, rule)
    refused.extend(
        Refused(r, "Слишком много правил за раз.", "too_many") for r in rules[MAX_RULES:]
    )
    return good, refused


def _header(managers: Managers) -> str:
    if managers.path is None or not managers.path.exists():
        return ""
    lines = managers.path.read_text("utf-8").splitlines(keepends=True)
    head = []
    for line in lines:
        if not line.startswith("#"):
            break
        head.append(line)
    return "".join(head)


def apply_rules(
    managers: Managers, rules: list[str], limits: ManagerRules
) -> tuple[list[Applied], list[Refused]]:
    managers.reload()
    good, refused = check_rules(rules, limits)
    table = dict(managers.table)
    applied = []
    for phone, (extension, rule) in good.items():
        applied.append(Applied(rule, phone, extension, table.get(phone)))
        table[phone] = extension
    if applied:
        managers.save(table, _header(managers))
    return applied, refused


def _summary(applied: list[Applied], refused: list[Refused]) -> str:
    parts = [
        f"{a.phone}={a.extension}" + (f" (было {a.replaced})" if a.replaced else "")
        for a in applied
    ]
    if refused:
        parts.append(f"отклонено {len(refused)}")
    return "; ".join(parts)


async def _keep(state: Console, user: str, before: bytes, summary: str) -> None:
    managers = state.host.router.managers
    assert managers.path is not None
    await state.history.ensure_baseline("managers", before)
    await state.history.save("managers", managers.path.read_bytes(), user, mask_phones(summary))


@page("view")
async def show(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def _page(request: web.Request, **extra: object) -> web.StreamResponse:
    state = console(request)
    managers = state.host.router.managers
    managers.reload()
    context = {
        "configured": managers.path is not None,
        "table": sorted(managers.table.items()),
        "limits": state.settings.managers,
        "applied": [],
        "refused": [],
        "rules_text": "",
        **extra,
    }
    return render(request, "managers.html", context, status=400 if context["refused"] else 200)


@page("edit")
async def add(request: web.Request) -> web.StreamResponse:
    state = console(request)
    managers = state.host.router.managers
    form = await read_form(request)
    raw = text(form, "rules", 200_000)
    rules = [r for r in SPLIT_RE.split(raw.replace(" =", "=").replace("= ", "=")) if r]
    if managers.path is None:
        return await _page(request)
    before = managers.path.read_bytes() if managers.path.exists() else b""
    try:
        applied, refused = apply_rules(managers, rules, state.settings.managers)
    except ManagersError as exc:
        applied, refused = [], [Refused("", f"Таблица не сохранена: {exc}", "save")]
    if applied:
        summary = _summary(applied, refused)
        await _keep(state, request[SESSION_KEY].user.name, before, summary)
        await state.record(request, "правила менеджеров", f"{len(applied)} правил", "", summary)
    keep = "\n".join(r.rule for r in refused)
    return await _page(request, applied=applied, refused=refused, rules_text=keep)


@page("edit")
async def delete(request: web.Request) -> web.StreamResponse:
    state = console(request)
    managers = state.host.router.managers
    form = await read_form(request)
    phone = text(form, "phone", 20)
    managers.reload()
    if managers.path is not None and phone in managers.table:
        before = managers.path.read_bytes()
        table = dict(managers.table)
        extension = table.pop(phone)
        managers.save(table, _header(managers))
        await _keep(state, request[SESSION_KEY].user.name, before, f"удалено {phone}")
        await state.record(request, "правило менеджера удалено", "", f"{phone}={extension}", "")
    raise web.HTTPSeeOther("/admin/managers?ok=saved")


def _token_ok(request: web.Request, state: Console) -> bool:
    expected = state.settings.api_token
    given = request.headers.get("Authorization", "")
    if not expected or not given.startswith("Bearer "):
        return False
    return hmac.compare_digest(given[7:].strip().encode(), expected.encode())


async def api(request: web.Request) -> web.StreamResponse:
    state = console(request)
    if not state.settings.api_token:
        return web.json_response(
            {"error": "API выключен (admin.api_token)", "code": "disabled"}, status=404
        )
    if not _token_ok(request, state):
        return web.json_response(
            {"error": "Нужен верный токен", "code": "unauthorized"}, status=401
        )
    managers = state.host.router.managers
    if managers.path is None:
        return web.json_response(
            {"error": "server.managers_file не задан", "code": "no_file"}, status=503
        )
    if request.method == "GET":
        managers.reload()
        return web.json_response({"rules": [f"{p}={e}" for p, e in sorted(managers.table.items())]})
    body = (await request.content.read(1024 * 1024)).decode("utf-8", "replace")
    if request.content_type == "application/json":
        try:
            payload = json.loads(body)
            rules = [str(r).strip() for r in payload["rules"]]
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"error": 'Ожидается {"rules": [...]}', "code": "bad_json"}, status=400
            )
    else:
        rules = [r for r in SPLIT_RE.split(body) if r]
    before = managers.path.read_bytes() if managers.path.exists() else b""
    applied, refused = apply_rules(managers, rules, state.settings.managers)
    if applied:
        summary = _summary(applied, refused)
        await _keep(state, "api", before, summary)
        audit: AuditLog = state.audit
        await audit.record(
            "api",
            "правила менеджеров",
            f"{len(applied)} правил",
            after=mask_phones(summary),
            remote=request.remote or "",
        )
    return web.json_response(
        {
            "applied": [
                {"rule": a.rule, "phone": a.phone, "extension": a.extension, "replaced": a.replaced}
                for a in applied
            ],
            "refused": [{"rule": r.rule, "reason": r.reason, "code": r.code} for r in refused],
        },
        status=200 if applied or not refused else 422,
    )


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/managers", show)
    app.router.add_post("/managers", add)
    app.router.add_post("/managers/delete", delete)
    app.router.add_get("/api/managers", api)
    app.router.add_post("/api/managers", api)
