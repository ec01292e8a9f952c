"""The call-back rules file ``callbacks.rules_file`` (``data/missed/callback_rules.yml``) that
editors change in the console: :func:`load_rules` reads it (a missing file: no rules),
:func:`validate` answers the Russian errors with their field and line, :func:`save_rules`
checks the text before it replaces the file (atomically), :func:`dump_rules` writes rules
back to text, :class:`RulesFile` reads the file again when it changes. The rule itself and its
YAML form are :mod:`bot.missed.callback_rule`, the working intervals
:mod:`bot.missed.working_hours`; both are re-exported here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

import yaml

from bot.missed.callback_rule import (
    DEFAULT_GREETING,
    DEFAULT_VOICEMAIL,
    FIRST,
    SOURCE_KINDS,
    TARGET_KINDS,
    CallbackRule,
    RuleError,
    RulesError,
    parse_rules,
    rule_for,
)
from bot.missed.working_hours import DAYS, Interval, allowed, next_allowed

__all__ = [
    "DAYS",
    "DEFAULT_GREETING",
    "DEFAULT_VOICEMAIL",
    "FIRST",
    "SOURCE_KINDS",
    "STARTER",
    "TARGET_KINDS",
    "CallbackRule",
    "Interval",
    "RuleError",
    "RulesError",
    "RulesFile",
    "allowed",
    "dump_rules",
    "ensure_starter",
    "load_rules",
    "next_allowed",
    "parse_rules",
    "rule_for",
    "save_rules",
    "validate",
]

STARTER = """\
# Правила автоперезвона («Контроль пропущенных»). Первое подходящее включённое правило
# решает, кому и когда перезвонить. Файл правят в консоли (страница «Автоперезвон»).
#
# source_kind: number (внешний номер) | queue (очередь) | extension (добавочный сотрудника)
# source: номер / имя очереди / добавочный; пусто — любой
# delay_s: через сколько секунд после пропущенного звонить; min_wait_s: учитывать звонки,
#   ожидавшие не меньше стольких секунд
# intervals: дни (mon..sun или пн..вс) и часы from–to; нет интервалов — круглосуточно,
#   интервал без часов — весь день
# first: client (сначала клиенту) | employee (сначала сотруднику)
# target_kind: dispatcher (диспетчерская: приветствие, музыка, голосовая почта) |
#   employees (сотрудники из targets) | queue (очередь targets[0]) | voicemail
# greeting: что слышит клиент ({shop} — название магазина); music: WAV во время дозвона
# voicemail_after_s: ожидание дольше — голосовая почта (пусто — без почты)
rules:
  - name: Продажи
    enabled: false
    source_kind: queue
    source: sales
    delay_s: 120
    min_wait_s: 10
    intervals:
      - {days: [mon, tue, wed, thu], from: "10:00", to: "18:00"}
      - {days: [fri], from: "10:00", to: "16:30"}
    first: client
    target_kind: dispatcher
    targets: ["101", "102"]
    greeting: "Здравствуйте! Вы звонили в {shop}. Соединяю с сотрудником."
    music: ""
    voicemail_after_s: 60
    voicemail_greeting: "Сейчас все сотрудники заняты. Оставьте сообщение после сигнала."
"""


def load_rules(path: Path) -> list[CallbackRule]:
    """The rules of ``path`` (none if it does not exist); :class:`RulesError` if it is bad."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return []
    return parse_rules(text)


def validate(text: str) -> list[RuleError]:
    """The errors of a rules text (empty: it can be saved)."""
    try:
        parse_rules(text)
    except RulesError as exc:
        return exc.errors
    return []


def save_rules(path: Path, text: str) -> list[CallbackRule]:
    """Check ``text`` and replace the file with it atomically (the old one stays on error)."""
    rules = parse_rules(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".callback-rules-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return rules


def ensure_starter(path: Path) -> None:
    """Write the commented starter file if there is none (its rule is disabled)."""
    if not path.exists():
        save_rules(path, STARTER)


def dump_rules(rules: Sequence[CallbackRule]) -> str:
    """Rules back to YAML text (for a form-based editor); :func:`parse_rules` reads it."""
    items = []
    for rule in rules:
        item: dict[str, Any] = {
            "name": rule.name,
            "enabled": rule.enabled,
            "source_kind": rule.source_kind,
            "source": rule.source,
            "delay_s": rule.delay_s,
            "min_wait_s": rule.min_wait_s,
            "intervals": [_interval_dict(i) for i in rule.intervals],
            "first": rule.first,
            "target_kind": rule.target_kind,
            "targets": list(rule.targets),
            "greeting": rule.greeting,
            "music": rule.music,
            "voicemail_after_s": rule.voicemail_after_s,
            "voicemail_greeting": rule.voicemail_greeting,
        }
        items.append(item)
    return yaml.safe_dump({"rules": items}, allow_unicode=True, sort_keys=False)


def _interval_dict(interval: Interval) -> dict[str, Any]:
    out: dict[str, Any] = {"days": [DAYS[d] for d in interval.days]}
    if interval.start is not None and interval.end is not None:
        out["from"] = interval.start.strftime("%H:%M")
        out["to"] = "24:00" if interval.end == time(0) else interval.end.strftime("%H:%M")
    return out


@dataclass(slots=True)
class RulesFile:
    """The rules of a file, read again when it changes (the console saves it)."""

    path: Path
    rules: list[CallbackRule] = field(default_factory=list)
    _mtime: float | None = None

    def current(self) -> list[CallbackRule]:
        """The rules now; a broken new version keeps the old ones (and raises once)."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self.rules, self._mtime = [], None
            return self.rules
        if mtime != self._mtime:
            self._mtime = mtime
            self.rules = load_rules(self.path)
        return self.rules
