"""Call-back rules: the working intervals of the manual (Monday to Thursday 10:00–18:00, Friday
10:00–16:30; no intervals = round the clock; a call-back due outside the hours waits for the
next interval), the time zone, rule matching, and the YAML file the console edits (Russian
errors with their line, the starter file, a round trip)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.missed.callback_rules import (
    STARTER,
    CallbackRule,
    Interval,
    RulesError,
    RulesFile,
    allowed,
    dump_rules,
    ensure_starter,
    load_rules,
    next_allowed,
    parse_rules,
    rule_for,
    save_rules,
    validate,
)
from bot.missed.callback_settings import CallbackSettings

MSK = ZoneInfo("Europe/Moscow")
WEEK = (
    Interval((0, 1, 2, 3), time(10), time(18)),
    Interval((4,), time(10), time(16, 30)),
)


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026: the 4th is a Friday, the 7th a Monday."""
    return datetime(2026, 12, day, hour, minute, tzinfo=MSK)


def test_friday_ends_at_16_30_and_the_next_call_back_is_monday_10_00() -> None:
    assert msk(4, 1).weekday() == 4
    assert next_allowed(msk(4, 16, 29), WEEK, MSK) == msk(4, 16, 29)
    assert allowed(msk(4, 16, 29), WEEK, MSK)
    assert not allowed(msk(4, 16, 30), WEEK, MSK)
    assert next_allowed(msk(4, 16, 30), WEEK, MSK) == msk(7, 10)
    assert next_allowed(msk(5, 12), WEEK, MSK) == msk(7, 10)  # Saturday
    # Thursday still runs to 18:00
    assert allowed(msk(3, 17, 59), WEEK, MSK)
    assert next_allowed(msk(3, 18), WEEK, MSK) == msk(4, 10)


def test_a_call_back_due_before_the_hours_waits_for_the_interval() -> None:
    assert next_allowed(msk(1, 7, 15), WEEK, MSK) == msk(1, 10)
    assert next_allowed(msk(1, 10), WEEK, MSK) == msk(1, 10)


def test_no_intervals_is_round_the_clock_and_a_day_without_hours_is_the_whole_day() -> None:
    for moment in (msk(5, 3, 17), msk(6, 23, 59), msk(1, 0)):
        assert next_allowed(moment, (), MSK) == moment
    sunday = (Interval((6,)),)
    assert next_allowed(msk(6, 0, 0), sunday, MSK) == msk(6, 0, 0)
    assert next_allowed(msk(6, 23, 59), sunday, MSK) == msk(6, 23, 59)
    assert next_allowed(msk(7, 0, 1), sunday, MSK) == msk(13, 0, 0)


def test_time_zone_of_the_intervals_is_the_shops() -> None:
    # 06:30 UTC is 09:30 in Moscow: before the opening; the answer is 10:00 Moscow time
    at = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    answer = next_allowed(at, WEEK, MSK)
    assert answer == msk(1, 10) and answer.utcoffset() == timedelta(hours=3)
    vladivostok = ZoneInfo("Asia/Vladivostok")  # 16:30 there is 09:30 in Moscow
    assert not allowed(msk(4, 9, 30), WEEK, vladivostok)
    with pytest.raises(ValueError):
        next_allowed(datetime(2026, 12, 1, 12), WEEK, MSK)


def test_an_interval_past_midnight_and_several_a_day() -> None:
    night = (Interval((4,), time(22), time(2)),)  # Friday night into Saturday
    assert allowed(msk(5, 1, 30), night, MSK)
    assert next_allowed(msk(5, 2), night, MSK) == msk(11, 22)
    split = (Interval((0,), time(9), time(12)), Interval((0,), time(14), time(18)))
    assert next_allowed(msk(7, 12, 30), split, MSK) == msk(7, 14)


GOOD = """\
rules:
  - name: Продажи
    source_kind: queue
    source: sales
    delay_s: 300
    min_wait_s: 15
    intervals:
      - {days: [пн, вт, ср, чт], from: "10:00", to: "18:00"}
      - {days: [fri], from: "10:00", to: "16:30"}
    first: client
    target_kind: dispatcher
    targets: ["101"]
    voicemail_after_s: 45
  - name: Сайт
    source_kind: number
    source: "+7 (495) 123-45-67"
    target_kind: queue
    targets: [support]
"""


def test_the_file_parses_into_rules_and_back() -> None:
    rules = parse_rules(GOOD)
    assert [r.name for r in rules] == ["Продажи", "Сайт"]
    sales = rules[0]
    assert sales.intervals == WEEK
    assert sales.delay_s == 300 and sales.min_wait_s == 15 and sales.voicemail_after_s == 45
    assert sales.line == 2 and rules[1].line == 14
    again = parse_rules(dump_rules(rules))
    assert [{**_fields(r), "line": 0} for r in again] == [{**_fields(r), "line": 0} for r in rules]


def _fields(rule: CallbackRule) -> dict[str, object]:
    return {name: getattr(rule, name) for name in CallbackRule.__dataclass_fields__}


def test_which_rule_a_missed_call_falls_under() -> None:
    rules = parse_rules(GOOD)
    assert rule_for(rules, "queue", "sales", "", 20) is rules[0]
    assert rule_for(rules, "queue", "sales", "", 10) is None  # waited less than 15 s
    assert rule_for(rules, "queue", "other", "", 20) is None
    assert rule_for(rules, "number", "", "84951234567", 0) is rules[1]  # last 10 digits
    assert rule_for(rules, "bot", "", "74951234567", 0) is rules[1]  # the bot's own handoff
    assert rule_for(rules, "extension", "101", "", 99) is None


def test_errors_are_russian_with_the_field_and_the_line() -> None:
    bad = """\
rules:
  - name: Продажи
    source_kind: shop
    intervals:
      - {days: [fri], from: "10:00", to: "16:70"}
    target_kind: dispatcher
    targets: ["101"]
  - name: Второе
    target_kind: dispatcher
    targets: ["102"]
"""
    with pytest.raises(RulesError) as caught:
        parse_rules(bad)
    errors = {(e.field, e.line): e.message for e in caught.value.errors}
    assert errors[("rules[0].source_kind", 3)].startswith("Источник")
    assert "ЧЧ:ММ" in errors[("rules[0].intervals[0].to", 5)]
    with pytest.raises(RulesError) as twice:
        parse_rules(bad.replace("shop", "queue").replace("16:70", "16:30"))
    assert [(e.message, e.line) for e in twice.value.errors] == [
        ("«Диспетчерская» доступна только для одного правила.", 8)
    ]
    assert validate("rules: [") and validate("rules: [")[0].message == "Ошибка синтаксиса YAML."
    assert validate("rules:\n  - name: x\n    first: employee\n    target_kind: queue\n"
                    "    targets: [q]\n")[0].field == "rules[0].first"  # fmt: skip
    assert validate(GOOD) == []


def test_save_checks_first_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "missed" / "callback_rules.yml"
    ensure_starter(path)
    assert path.read_text("utf-8") == STARTER
    starter = load_rules(path)
    assert len(starter) == 1 and not starter[0].enabled  # the commented example is off
    watched = RulesFile(path)
    assert watched.current() == starter
    with pytest.raises(RulesError):
        save_rules(path, "rules:\n  - name: ''\n")
    assert path.read_text("utf-8") == STARTER
    save_rules(path, GOOD)
    assert [r.name for r in watched.current()] == ["Продажи", "Сайт"]
    assert load_rules(tmp_path / "none.yml") == []


def test_the_repository_file_is_valid_and_settings_check_their_values() -> None:
    repo = Path(__file__).resolve().parents[3] / "data" / "missed" / "callback_rules.yml"
    assert load_rules(repo) is not None
    assert CallbackSettings().zone == MSK
    with pytest.raises(ValueError, match="timezone"):
        CallbackSettings(timezone="Mars/Base")
    with pytest.raises(ValueError, match="dialer"):
        CallbackSettings(dialer="pigeon")
