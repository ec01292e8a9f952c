"""A missed call's page, «Что было дальше»: ``missed_calls.details`` (free-form JSON) and its
``history`` (every status change with what the intake and the call-back scheduler added: the
attempt, who was called first, the target, the SIP code, the outcome, the voice message…) as
a table with Russian column titles and values; the other keys as facts. Unknown keys and
values are shown as they are, times in the shop's zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import tzinfo

from bot.missed.statuses import label
from bot.missed.store import MissedCall
from bot.web.missed_export import moment

ATTEMPT_TITLES = {  # the keys of missed_calls.details and its history (bot/missed)
    "at": "Когда",
    "status": "Статус",
    "event": "Событие",
    "outcome": "Итог",
    "attempt": "Попытка",
    "first": "Кому сначала",
    "target": "Кому",
    "employee": "Сотрудник",
    "answered_by": "Кто говорил с клиентом",
    "answered_at": "Клиент дозвонился",
    "transfer": "Перевод",
    "sip_status": "Код SIP",
    "sip_code": "Код SIP",
    "voice_message": "Голосовое сообщение",
    "next_at": "Следующая попытка",
    "tried": "Кому звонили",
    "duration_s": "Длительность, с",
    "reason": "Причина",
    "call_id": "Звонок",
    "order_id": "Заказ",
    "by": "Кто",
    "error": "Ошибка",
    "worker": "Обработчик",
}
VALUE_TITLES = {
    "event": {
        "missed": "звонок пропущен",
        "answered": "клиент позвонил и дозвонился",
        "callback": "перезвон",
    },
    "outcome": {
        "connected": "соединили",
        "voicemail": "оставил голосовое сообщение",
        "busy": "занято",
        "no_answer": "не ответил",
        "failed": "не удалось",
        "employee_no_answer": "сотрудник не ответил",
    },
    "first": {"client": "клиенту", "employee": "сотруднику"},
    "transfer": {
        "transferred": "переведён",
        "refused": "АТС отказала",
        "timeout": "не дождались",
        "failed": "не удался",
        "ended": "разговор закончился",
    },
    "by": {"bot": "бот"},
}


@dataclass(slots=True)
class Details:
    """What a row's page shows of ``missed_calls.details`` (free-form JSON)."""

    history: list[dict[str, str]]
    columns: list[str]
    facts: list[tuple[str, str]]


def _text(key: str, value: object, zone: tzinfo) -> str:
    if key == "status" and isinstance(value, str):
        return label(value)
    if key in VALUE_TITLES and isinstance(value, str):
        return VALUE_TITLES[key].get(value, value)
    if (key == "at" or key.endswith("_at")) and isinstance(value, str):
        when = moment(value, zone)
        return when.strftime("%d.%m.%Y %H:%M:%S") if when else value
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def details_of(call: MissedCall, zone: tzinfo) -> Details:
    """The history (status changes, call-back attempts) as a table, the rest as facts."""
    data = call.details if isinstance(call.details, dict) else {"details": call.details}
    entries = data.get("history", [])
    history = [
        {str(k): _text(str(k), v, zone) for k, v in item.items()}
        for item in (entries if isinstance(entries, list) else [])
        if isinstance(item, dict)
    ]
    columns = ["at", "status"] if history else []
    for item in history:
        columns.extend(k for k in item if k not in columns)
    facts = [(str(k), _text(str(k), v, zone)) for k, v in data.items() if k != "history"]
    return Details(history, columns, facts)
