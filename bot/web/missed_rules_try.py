"""«Что будет с пропущенным звонком»: the rules pages' preview (the manual's «окно
предварительного просмотра»). An editor gives a missed call — where it was missed (a number,
a queue, an extension, the bot's own handoff), the number dialled, the wait and when — and
reads which SMS the caller would get and when the bot would call them back, by the rules in
force: :meth:`bot.missed.sms_rules.SmsRules.choose`, :func:`bot.missed.callback_rules.rule_for`
and :func:`bot.missed.callback_rules.next_allowed` in ``callbacks.timezone``, the same
functions the SMS outbox and the call-back scheduler use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.missed import callback_rules, sms_rules

KINDS = {
    "queue": "очередь",
    "number": "внешний номер",
    "extension": "добавочный",
    "bot": "перевод бота",
}
DAY_TITLES = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
FIRST_TITLES = {"client": "сначала клиенту", "employee": "сначала сотруднику"}
TARGET_TITLES = {
    "dispatcher": "диспетчерская",
    "employees": "сотрудники",
    "queue": "очередь",
    "voicemail": "голосовая почта",
}
FIELD_MAX = 80
WAIT_MAX_S = 86400.0


@dataclass(slots=True)
class Trial:
    """The missed call an editor tries (from the query string); ``asked``: the form was sent."""

    kind: str = "queue"
    source: str = ""
    called: str = ""
    wait_s: float = 30.0
    at: datetime | None = None  # local; None: now
    asked: bool = False
    error: str = ""

    @classmethod
    def parse(cls, query: Mapping[str, str], zone: tzinfo) -> Trial:
        trial = cls(asked="try" in query)
        kind = query.get("try_kind", "queue")
        trial.kind = kind if kind in KINDS else "queue"
        trial.source = query.get("try_source", "").strip()[:FIELD_MAX]
        trial.called = query.get("try_called", "").strip()[:FIELD_MAX]
        wait = query.get("try_wait", "30").strip().replace(",", ".")
        try:
            trial.wait_s = float(wait or "0")
            if not 0 <= trial.wait_s <= WAIT_MAX_S:
                raise ValueError(wait)
        except ValueError:
            trial.wait_s, trial.error = 0.0, "Ожидание — число секунд, например 30."
        when = query.get("try_at", "").strip()
        if when:
            try:
                trial.at = datetime.fromisoformat(when[:32]).replace(tzinfo=zone)
            except ValueError:
                trial.error = "Время звонка в виде ГГГГ-ММ-ДДTЧЧ:ММ."
        return trial

    def local_input(self) -> str:
        """``at`` for the form's ``datetime-local`` field."""
        return self.at.strftime("%Y-%m-%dT%H:%M") if self.at else ""


@dataclass(frozen=True, slots=True)
class Outcome:
    sms: str
    callback: str


def _when(moment: datetime) -> str:
    return f"{DAY_TITLES[moment.weekday()]} {moment:%d.%m.%Y %H:%M}"


def sms_outcome(settings: Settings, trial: Trial) -> str:
    try:
        rules = sms_rules.load_rules(Path(settings.sms.rules_file), settings.sms.max_text_chars)
    except sms_rules.SmsRulesError:
        return "Файл правил SMS с ошибками: SMS не отправляются, пока его не исправят."
    rule = rules.choose(trial.called, trial.kind, trial.source)
    if rule is None:
        return "SMS не будет: ни одно включённое правило не подходит."
    hours = settings.sms.once_per_hours
    off = "" if settings.sms.enabled else " (сейчас SMS выключены: sms.enabled: false)"
    return (
        f"SMS по правилу «{rule.name}», если клиенту не отправляли SMS за последние {hours:g} ч"
        f"{off}: «{rule.text}»"
    )


def callback_outcome(settings: Settings, trial: Trial, now: datetime) -> str:
    try:
        rules = callback_rules.load_rules(Path(settings.callbacks.rules_file))
    except callback_rules.RulesError:
        return "Файл правил автоперезвона с ошибками: перезвонов нет, пока его не исправят."
    rule = callback_rules.rule_for(rules, trial.kind, trial.source, trial.called, trial.wait_s)
    if rule is None:
        return (
            "Перезвона не будет: ни одно включённое правило не подходит "
            "(источник, номер или ожидание меньше минимального)."
        )
    zone = ZoneInfo(settings.callbacks.timezone)
    missed = (trial.at or now).astimezone(zone)
    due = callback_rules.next_allowed(
        missed + timedelta(seconds=rule.delay_s), rule.intervals, zone
    )
    targets = f": {', '.join(rule.targets)}" if rule.targets else ""
    off = "" if settings.callbacks.enabled else " (сейчас автоперезвон выключен)"
    return (
        f"Перезвон по правилу «{rule.name}» {_when(due)} ({settings.callbacks.timezone}), "
        f"{FIRST_TITLES.get(rule.first, rule.first)}, "
        f"{TARGET_TITLES.get(rule.target_kind, rule.target_kind)}{targets}{off}."
    )


def outcome(settings: Settings, trial: Trial, now: datetime) -> Outcome:
    return Outcome(sms_outcome(settings, trial), callback_outcome(settings, trial, now))
