"""The SMS rules of Case 3 (called number / queue / extension ➜ text): matching, the shipped
starter file, Russian errors with their YAML line, saving, and the sms: settings checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.missed.sms_rules import SmsRulesError, load_rules, rules_text, save_rules, validate

REPO = Path(__file__).resolve().parents[3]
RULES = """version: 1
rules:
  - name: Основной
    called: ["+7 900 900-90-90", "8 (495) 111-22-33"]
    text: "Основной текст"
  - name: Очередь доставки
    queues: ["Delivery"]
    extensions: ["103"]
    text: "Доставка"
  - name: По умолчанию
    default: true
    text: "Прочие"
  - name: Выключено
    enabled: false
    called: ["+7 333 333-22-44"]
    text: "Никогда"
"""


def test_the_first_matching_rule_wins_and_the_default_comes_last() -> None:
    rules = validate(RULES)
    choose = rules.choose
    assert choose("+79009009090", "number", "").name == "Основной"  # type: ignore[union-attr]
    assert choose("84951112233", "queue", "delivery").name == "Основной"  # type: ignore[union-attr]
    assert choose("", "queue", " DELIVERY ").name == "Очередь доставки"  # type: ignore[union-attr]
    assert choose("", "extension", "103").name == "Очередь доставки"  # type: ignore[union-attr]
    assert choose("", "queue", "103").name == "По умолчанию"  # type: ignore[union-attr]
    # a disabled rule never matches: its number falls to the default
    assert choose("+73333332244", "number", "").name == "По умолчанию"  # type: ignore[union-attr]
    without_default = validate(
        RULES.replace("default: true", "default: false\n    called: [84950000000]")
    )
    assert without_default.choose("+73333332244", "number", "") is None


def test_the_shipped_rules_file_loads() -> None:
    rules = load_rules(REPO / "data" / "missed" / "sms_rules.yml")
    assert rules.choose("+7 900 900-90-90", "number", "") is not None
    assert rules.choose("+7 333 333-22-44", "number", "") is not None
    assert rules.choose("+7 111 111-11-11", "number", "") is None  # its default is disabled


def test_errors_are_russian_with_their_line() -> None:
    text = """rules:
  - name: a
    called: [123]
    text: ""
  - name: b
    colour: red
    text: ok
  - text: no name
    called: ["+79001112233"]
  - name: d
    text: nothing to match
"""
    with pytest.raises(SmsRulesError) as caught:
        validate(text)
    found = {(e.line, e.field) for e in caught.value.errors}
    assert (3, "called") in found  # «123» is not a phone number
    assert (4, "text") in found  # empty text
    assert (6, "colour") in found  # unknown field
    assert (8, "name") in found  # no name
    assert (10, "called") in found  # nothing to match and not the default
    messages = " ".join(e.message for e in caught.value.errors)
    assert "10 цифр" in messages and "обязательное поле" in messages
    assert "строка 3" in str(caught.value)


def test_cross_rule_problems_and_syntax_errors() -> None:
    dup = (
        'rules:\n  - {name: a, called: ["+79001112233"], text: x}\n'
        '  - {name: A, called: ["89001112233"], text: y}\n'
    )
    with pytest.raises(SmsRulesError) as caught:
        validate(dup)
    messages = [e.message for e in caught.value.errors]
    assert any("повторяется" in m for m in messages) and any("…2233" in m for m in messages)
    two_defaults = (
        "rules:\n  - {name: a, default: true, text: x}\n  - {name: b, default: true, text: y}\n"
    )
    with pytest.raises(SmsRulesError, match="только одно"):
        validate(two_defaults)
    with pytest.raises(SmsRulesError) as syntax:
        validate("rules:\n  - name: a\n    text: [\n")
    assert syntax.value.errors[0].line is not None and "YAML" in syntax.value.errors[0].message
    with pytest.raises(SmsRulesError, match="не длиннее 10"):
        validate('rules:\n  - {name: a, default: true, text: "' + "я" * 11 + '"}\n', max_text=10)
    with pytest.raises(SmsRulesError, match="версия 1"):
        validate("version: 2\nrules: []\n")


def test_save_checks_first_and_writes_atomically(tmp_path: Path) -> None:
    path = tmp_path / "missed" / "sms_rules.yml"
    save_rules(path, RULES)
    assert path.read_text("utf-8") == RULES
    with pytest.raises(SmsRulesError):
        save_rules(path, "rules: 5\n")
    assert path.read_text("utf-8") == RULES  # a refused text changes nothing
    assert list(path.parent.iterdir()) == [path]
    assert validate(rules_text(validate(RULES))) == validate(RULES)
    assert load_rules(tmp_path / "missing.yml").rules == ()


def test_sms_settings_are_checked_with_their_key() -> None:
    settings = load_settings(environ={"BOT_SMS__GATEWAY": "smpp", "BOT_SMS__SMPP__PORT": "2776"})
    assert settings.sms.gateway == "smpp" and settings.sms.smpp.port == 2776
    assert settings.sms.once_per_hours == 24.0
    for name, value in (
        ("BOT_SMS__GATEWAY", "pigeon"),
        ("BOT_SMS__SENDER", "Очень длинное имя"),
        ("BOT_SMS__ONCE_PER_HOURS", "0"),
        ("BOT_SMS__SMPP__PASSWORD", "longer-than-8"),
        ("BOT_SMS__KANNEL__URL", "ftp://x"),
    ):
        with pytest.raises((ConfigError, ValueError)):
            load_settings(environ={name: value})
