"""Правила пропущенных: the editors' pages for the SMS rules (Case 3, ``sms.rules_file``) and
the call-back rules (the manual's «Настройка автоперезвона», ``callbacks.rules_file``).

Each page shows the rules in force as a table (what an editor reads: which calls, which
text or whom to call and when) and the file itself in an editor: «Проверить» checks a text
without saving it, «Сохранить» checks it and replaces the file atomically
(:func:`bot.missed.sms_rules.save_rules`, :func:`bot.missed.callback_rules.save_rules`); a
text with errors is refused with each error in Russian, its field and its YAML line, and
the file in force stays as it was. The SMS sender and the call-back scheduler read the file
again when it changes, so a saved rule applies to the next missed call. Someone else's save
in the meantime is refused (the text's hash, as «Ответы бота» does).

Rights: everyone with ``view`` reads, ``edit`` (admins, editors) saves; every save is a
row of the audit log with the text before and after (numbers masked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.missed import callback_rules, sms_rules
from bot.web.app import Console, console
from bot.web.audit import sha256
from bot.web.forms import read_form, text
from bot.web.layout import page, render
from bot.web.missed_rules_try import KINDS as TRIAL_KINDS
from bot.web.missed_rules_try import Trial, outcome
from bot.web.pages_journal import phone
from bot.web.pages_missed import missed_zone

MAX_TEXT = 256 * 1024
DAY_TITLES = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
SOURCE_TITLES = {"number": "внешний номер", "queue": "очередь", "extension": "добавочный"}
FIRST_TITLES = {"client": "сначала клиенту", "employee": "сначала сотруднику"}
TARGET_TITLES = {
    "dispatcher": "диспетчерская",
    "employees": "сотрудники",
    "queue": "очередь",
    "voicemail": "голосовая почта",
}


@dataclass(frozen=True, slots=True)
class FieldError:
    line: int | None
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class RulesKind:
    """One rules file as the page edits it."""

    key: str  # the URL part: /admin/missed/rules/<key>
    title: str
    audit: str  # the audit log's action
    path: Callable[[Console], Path]
    check: Callable[[Console, str], tuple[list[dict[str, str]], list[FieldError]]]
    save: Callable[[Console, Path, str], None]
    columns: tuple[str, ...]


# -- SMS -----------------------------------------------------------------------------------


def _sms_path(state: Console) -> Path:
    return Path(state.host.settings.sms.rules_file)


def _sms_check(state: Console, content: str) -> tuple[list[dict[str, str]], list[FieldError]]:
    limit = state.host.settings.sms.max_text_chars
    try:
        found = sms_rules.validate(content, limit)
    except sms_rules.SmsRulesError as exc:
        return [], [FieldError(e.line, e.field, e.message) for e in exc.errors]
    rows = []
    for rule in found.rules:
        when = [
            *(f"набран {phone(n)}" for n in rule.called),  # the shop's own numbers
            *(f"очередь {q}" for q in rule.queues),
            *(f"добавочный {x}" for x in rule.extensions),
        ]
        rows.append(
            {
                "Правило": rule.name,
                "Вкл.": "да" if rule.enabled else "нет",
                "Для звонков": "все остальные" if rule.default else ", ".join(when),
                "Текст SMS": rule.text,
                "Знаков": str(len(rule.text)),
            }
        )
    return rows, []


def _sms_save(state: Console, path: Path, content: str) -> None:
    sms_rules.save_rules(path, content, state.host.settings.sms.max_text_chars)


# -- call-backs ----------------------------------------------------------------------------


def _callback_path(state: Console) -> Path:
    return Path(state.host.settings.callbacks.rules_file)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    whole = round(value)
    return f"{whole // 60} мин {whole % 60:02d} с" if whole >= 60 else f"{whole} с"


def _intervals(rule: callback_rules.CallbackRule) -> str:
    if not rule.intervals:
        return "круглосуточно"
    parts = []
    for interval in rule.intervals:
        days = ", ".join(DAY_TITLES[d] for d in interval.days)
        if interval.start is None or interval.end is None:
            parts.append(f"{days}: весь день")
        else:
            end = "24:00" if interval.end.hour == 0 and interval.end.minute == 0 else None
            parts.append(f"{days}: {interval.start:%H:%M}–{end or f'{interval.end:%H:%M}'}")
    return "; ".join(parts)


def _callback_check(state: Console, content: str) -> tuple[list[dict[str, str]], list[FieldError]]:
    try:
        found = callback_rules.parse_rules(content)
    except callback_rules.RulesError as exc:
        return [], [FieldError(e.line, e.field, e.message) for e in exc.errors]
    rows = []
    for rule in found:
        source = SOURCE_TITLES.get(rule.source_kind, rule.source_kind)
        rows.append(
            {
                "Правило": rule.name,
                "Вкл.": "да" if rule.enabled else "нет",
                "Источник": f"{source} {rule.source or '(любой)'}",
                "Через": _seconds(rule.delay_s),
                "Ожидание от": _seconds(rule.min_wait_s),
                "Когда": _intervals(rule),
                "Сценарий": f"{FIRST_TITLES.get(rule.first, rule.first)}, "
                f"{TARGET_TITLES.get(rule.target_kind, rule.target_kind)}"
                + (f": {', '.join(rule.targets)}" if rule.targets else ""),
                "Голосовая почта": (
                    f"после {_seconds(rule.voicemail_after_s)}"
                    if rule.voicemail_after_s is not None
                    else "нет"
                ),
            }
        )
    return rows, []


def _callback_save(state: Console, path: Path, content: str) -> None:
    callback_rules.save_rules(path, content)


KINDS = {
    "sms": RulesKind(
        "sms",
        "SMS после пропущенного",
        "правила SMS",
        _sms_path,
        _sms_check,
        _sms_save,
        ("Правило", "Вкл.", "Для звонков", "Текст SMS", "Знаков"),
    ),
    "callbacks": RulesKind(
        "callbacks",
        "Автоперезвон",
        "правила автоперезвона",
        _callback_path,
        _callback_check,
        _callback_save,
        (
            "Правило",
            "Вкл.",
            "Источник",
            "Через",
            "Ожидание от",
            "Когда",
            "Сценарий",
            "Голосовая почта",
        ),
    ),
}


def _kind(request: web.Request) -> RulesKind:
    kind = KINDS.get(request.match_info["kind"])
    if kind is None:
        raise web.HTTPNotFound(text="Нет таких правил.")
    return kind


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        return ""


async def _page(
    request: web.Request,
    kind: RulesKind,
    *,
    content: str | None = None,
    errors: list[FieldError] | None = None,
    checked: bool = False,
    status: int = 200,
) -> web.StreamResponse:
    state = console(request)
    path = kind.path(state)
    active = await asyncio.to_thread(_read, path)
    rows, active_errors = kind.check(state, active)
    shown = active if content is None else content
    preview: list[dict[str, str]] = rows
    if content is not None and not errors:
        preview, _none = kind.check(state, content)
    zone = missed_zone(state.host.settings)
    trial = Trial.parse(request.query, zone)
    tried = None
    if trial.asked and not trial.error:
        now = datetime.now(zone)
        tried = await asyncio.to_thread(outcome, state.host.settings, trial, now)
    context: dict[str, Any] = {
        "trial": trial,
        "tried": tried,
        "trial_kinds": TRIAL_KINDS,
        "kind": kind,
        "kinds": KINDS,
        "path": str(path),
        "exists": path.exists(),
        "content": shown,
        "base": sha256(active.encode()),
        "rows": preview,
        "active_errors": active_errors if content is None else [],
        "errors": errors or [],
        "checked": checked and not errors,
        "edited": content is not None and content != active,
    }
    return render(request, "missed_rules.html", context, status=status)


@page("view")
async def show(request: web.Request) -> web.StreamResponse:
    return await _page(request, _kind(request))


@page("edit")
async def save(request: web.Request) -> web.StreamResponse:
    kind = _kind(request)
    state = console(request)
    form = await read_form(request)
    content = text(form, "content", MAX_TEXT).replace("\r\n", "\n")
    if len(form.get("content", "")) > MAX_TEXT:
        errors = [FieldError(None, "", f"Файл правил больше {MAX_TEXT // 1024} КБ.")]
        return await _page(request, kind, content=content, errors=errors, status=400)
    _rows, errors = kind.check(state, content)
    if errors:
        return await _page(request, kind, content=content, errors=errors, status=400)
    if form.get("action") == "check":
        return await _page(request, kind, content=content, checked=True)
    path = kind.path(state)
    before = await asyncio.to_thread(_read, path)
    if text(form, "base", 100) != sha256(before.encode()):
        stale = {
            "title": "Правила изменились",
            "text": "Пока вы редактировали, правила изменил кто-то другой. "
            "Откройте страницу заново и внесите правку ещё раз.",
            "back": f"/admin/missed/rules/{kind.key}",
        }
        return render(request, "message.html", stale, status=409)
    try:
        await asyncio.to_thread(kind.save, state, path, content)
    except (ValueError, OSError) as exc:  # refused after all, or the disk
        message = "Файл не записан: " + (
            str(exc) if isinstance(exc, ValueError) else "ошибка диска."
        )
        errors = [FieldError(None, "", message)]
        return await _page(request, kind, content=content, errors=errors, status=400)
    await state.record(request, kind.audit, path.name, before, content)
    raise web.HTTPSeeOther(f"/admin/missed/rules/{kind.key}?ok=saved")


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/missed/rules/{kind:sms|callbacks}", show)
    app.router.add_post("/missed/rules/{kind:sms|callbacks}", save)
