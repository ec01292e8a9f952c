"""The SMS rules of Case 3: which text a caller gets after a missed call.

The old script had the binding «queue ➜ mobile number ➜ text» in its code; here it is the YAML
file ``sms.rules_file`` (default ``data/missed/sms_rules.yml``) that editors change in the
console::

    version: 1
    rules:
      - name: Основной номер          # unique; shown in the journal
        called: ["+7 900 900-90-90"]  # the numbers dialled, compared by their last 10 digits
        queues: ["sales"]             # queue names (a call missed in this queue)
        extensions: ["103"]           # an employee's extension (a call missed there)
        text: "Здравствуйте! …"
      - name: Остальные
        default: true                 # any other missed call
        text: "…"
      - name: Выключено
        enabled: false                # kept in the file, never matches
        called: ["+7 333 333-22-44"]
        text: "…"

The first enabled rule (in file order) whose ``called``, ``queues`` or ``extensions`` matches
the missed call wins; the ``default: true`` rule (at most one) is taken only when no other
rule matches; no match at all means no SMS (the decision «no_rule» is stored).

:func:`load_rules` reads the file, :func:`validate` checks a text and returns the rules or
raises :class:`SmsRulesError` whose ``errors`` are Russian messages with the YAML line (for
the console's form), :func:`save_rules` checks and writes a new text atomically;
:class:`RulesFile` is the outbox's view of the file, read again when it changes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from connectors.shop.phone import phone10

log = logging.getLogger(__name__)

MAX_RULES = 200
MAX_FILE_BYTES = 256 * 1024
NAME_MAX = 80
DEFAULT_TEXT_MAX = 670
_RULE_KEYS = {"name", "called", "queues", "extensions", "text", "default", "enabled"}


@dataclass(frozen=True, slots=True)
class RuleError:
    """One problem of a rules file: the YAML line (1-based, None if unknown) and the field."""

    line: int | None
    field: str
    message: str  # Russian, for the editors

    def __str__(self) -> str:
        where = f"строка {self.line}: " if self.line else ""
        return f"{where}{self.field}: {self.message}" if self.field else where + self.message


class SmsRulesError(ValueError):
    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class SmsRule:
    name: str
    text: str
    called: tuple[str, ...] = ()  # last 10 digits of each number
    queues: tuple[str, ...] = ()  # compared case-insensitively
    extensions: tuple[str, ...] = ()
    default: bool = False
    enabled: bool = True

    def matches(self, called: str, source_kind: str, source: str) -> bool:
        if not self.enabled or self.default:
            return False
        if self.called and called:
            key = phone10(called)
            if key is not None and key in self.called:
                return True
        name = source.strip().casefold()
        if source_kind == "queue" and name and name in self.queues:
            return True
        return source_kind == "extension" and bool(name) and name in self.extensions


@dataclass(frozen=True, slots=True)
class SmsRules:
    rules: tuple[SmsRule, ...] = ()

    def choose(self, called: str, source_kind: str, source: str) -> SmsRule | None:
        """The rule for a missed call (see the module docstring), or None: no SMS."""
        for rule in self.rules:
            if rule.matches(called, source_kind, source):
                return rule
        for rule in self.rules:
            if rule.default and rule.enabled:
                return rule
        return None


def load_rules(path: Path, max_text: int = DEFAULT_TEXT_MAX) -> SmsRules:
    """The rules in ``path``; a missing file means no rules (no SMS is sent)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return SmsRules()
    if len(raw) > MAX_FILE_BYTES:
        raise SmsRulesError([RuleError(None, "", "файл правил больше 256 КБ")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SmsRulesError([RuleError(None, "", "файл не в кодировке UTF-8")]) from None
    return validate(text, max_text)


def save_rules(path: Path, text: str, max_text: int = DEFAULT_TEXT_MAX) -> SmsRules:
    """Check ``text`` and write it to ``path`` atomically; a refused text changes nothing."""
    rules = validate(text, max_text)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)
    return rules


def validate(text: str, max_text: int = DEFAULT_TEXT_MAX) -> SmsRules:
    """Parse and check a rules text; raise :class:`SmsRulesError` with every problem found."""
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise SmsRulesError([RuleError(None, "", "файл правил больше 256 КБ")])
    try:
        root = yaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "ошибка разметки"
        raise SmsRulesError([RuleError(line, "", f"ошибка YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise SmsRulesError([RuleError(None, "", f"ошибка YAML: {exc}")]) from None
    return _Checker(max_text).check(root)


class _Checker:
    def __init__(self, max_text: int) -> None:
        self.max_text = max_text
        self.errors: list[RuleError] = []

    def fail(self, node: Node | None, field: str, message: str) -> None:
        self.errors.append(RuleError(node.start_mark.line + 1 if node else None, field, message))

    def check(self, root: Node | None) -> SmsRules:
        if root is None:
            return SmsRules()
        if not isinstance(root, MappingNode):
            self.fail(root, "", "нужен словарь с ключами version и rules")
            raise SmsRulesError(self.errors)
        top = _mapping(root)
        for key, (key_node, _) in top.items():
            if key not in ("version", "rules"):
                self.fail(key_node, key, "неизвестный ключ (нужны version и rules)")
        version = top.get("version")
        if version is not None and _scalar(version[1]) != "1":
            self.fail(version[1], "version", "поддерживается только версия 1")
        rules_node = top.get("rules")
        rules: list[SmsRule] = []
        if rules_node is not None and not _is_null(rules_node[1]):
            items = rules_node[1]
            if not isinstance(items, SequenceNode):
                self.fail(items, "rules", "нужен список правил")
            elif len(items.value) > MAX_RULES:
                self.fail(items, "rules", f"не больше {MAX_RULES} правил")
            else:
                for item in items.value:
                    rule = self.rule(item)
                    if rule is not None:
                        rules.append(rule)
        self.cross_check(rules, rules_node[1] if rules_node else None)
        if self.errors:
            raise SmsRulesError(self.errors)
        return SmsRules(tuple(rules))

    def rule(self, node: Node) -> SmsRule | None:
        if not isinstance(node, MappingNode):
            self.fail(node, "", "правило должно быть словарём (name, called, text, …)")
            return None
        fields = _mapping(node)
        before = len(self.errors)
        for key, (key_node, _) in fields.items():
            if key not in _RULE_KEYS:
                self.fail(key_node, key, "неизвестное поле правила")
        name = self.string(fields, node, "name", required=True, limit=NAME_MAX)
        text = self.string(fields, node, "text", required=True, limit=self.max_text)
        default = self.flag(fields, "default", False)
        enabled = self.flag(fields, "enabled", True)
        called = self.numbers(fields)
        queues = self.names(fields, "queues")
        extensions = self.names(fields, "extensions")
        if not default and not (called or queues or extensions) and len(self.errors) == before:
            self.fail(node, "called", "укажите номера, очереди или добавочные (или default: true)")
        if default and (called or queues or extensions):
            self.fail(node, "default", "правило по умолчанию не перечисляет номера и очереди")
        if len(self.errors) != before:
            return None
        return SmsRule(name, text, called, queues, extensions, default, enabled)

    def string(
        self,
        fields: dict[str, tuple[Node, Node]],
        node: Node,
        key: str,
        *,
        required: bool,
        limit: int,
    ) -> str:
        entry = fields.get(key)
        if entry is None or _is_null(entry[1]):
            if required:
                self.fail(node, key, "обязательное поле")
            return ""
        value = entry[1]
        if not isinstance(value, ScalarNode):
            self.fail(value, key, "нужна строка")
            return ""
        text = str(value.value).strip()
        if required and not text:
            self.fail(value, key, "не может быть пустым")
        elif len(text) > limit:
            self.fail(value, key, f"не длиннее {limit} символов (сейчас {len(text)})")
        elif any(ord(ch) < 32 and ch not in "\n" for ch in text):
            self.fail(value, key, "недопустимые управляющие символы")
        return text

    def flag(self, fields: dict[str, tuple[Node, Node]], key: str, default: bool) -> bool:
        entry = fields.get(key)
        if entry is None:
            return default
        value = _scalar(entry[1])
        if value is None or value.lower() not in ("true", "false", "yes", "no"):
            self.fail(entry[1], key, "нужно true или false")
            return default
        return value.lower() in ("true", "yes")

    def items(self, fields: dict[str, tuple[Node, Node]], key: str) -> list[ScalarNode]:
        entry = fields.get(key)
        if entry is None or _is_null(entry[1]):
            return []
        value = entry[1]
        if isinstance(value, ScalarNode):
            return [value]
        if not isinstance(value, SequenceNode):
            self.fail(value, key, "нужен список")
            return []
        result: list[ScalarNode] = []
        for item in value.value:
            if isinstance(item, ScalarNode) and str(item.value).strip():
                result.append(item)
            else:
                self.fail(item, key, "пустое или не строковое значение")
        return result

    def numbers(self, fields: dict[str, tuple[Node, Node]]) -> tuple[str, ...]:
        result: list[str] = []
        for item in self.items(fields, "called"):
            key = phone10(str(item.value))
            if key is None:
                self.fail(item, "called", f"«{item.value}» — номер должен иметь 10 цифр или больше")
            elif key not in result:
                result.append(key)
        return tuple(result)

    def names(self, fields: dict[str, tuple[Node, Node]], key: str) -> tuple[str, ...]:
        result: list[str] = []
        for item in self.items(fields, key):
            name = str(item.value).strip().casefold()
            if len(name) > NAME_MAX:
                self.fail(item, key, f"не длиннее {NAME_MAX} символов")
            elif name not in result:
                result.append(name)
        return tuple(result)

    def cross_check(self, rules: list[SmsRule], node: Node | None) -> None:
        seen: set[str] = set()
        for rule in rules:
            if rule.name.casefold() in seen:
                self.fail(node, "name", f"имя правила «{rule.name}» повторяется")
            seen.add(rule.name.casefold())
        if sum(1 for r in rules if r.default) > 1:
            self.fail(node, "default", "правило по умолчанию может быть только одно")
        owner: dict[str, str] = {}
        for rule in rules:
            if not rule.enabled:
                continue
            for number in rule.called:
                if number in owner and owner[number] != rule.name:
                    self.fail(
                        node,
                        "called",
                        f"номер …{number[-4:]} есть в правилах «{owner[number]}» "
                        f"и «{rule.name}»: сработает только первое",
                    )
                owner.setdefault(number, rule.name)


def _mapping(node: MappingNode) -> dict[str, tuple[Node, Node]]:
    return {str(k.value): (k, v) for k, v in node.value if isinstance(k, ScalarNode)}


def _scalar(node: Node) -> str | None:
    return str(node.value) if isinstance(node, ScalarNode) else None


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag.endswith(":null")


def rules_text(rules: SmsRules) -> str:
    """A rules file for ``rules`` (for tools; editors keep their own text with comments)."""
    data: dict[str, Any] = {"version": 1, "rules": []}
    for rule in rules.rules:
        item: dict[str, Any] = {"name": rule.name}
        if rule.default:
            item["default"] = True
        if not rule.enabled:
            item["enabled"] = False
        for key in ("called", "queues", "extensions"):
            if getattr(rule, key):
                item[key] = list(getattr(rule, key))
        item["text"] = rule.text
        data["rules"].append(item)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


class RulesFile:
    """The rules of ``sms.rules_file``, read again when the file changes; a broken file keeps
    the rules read before (and says so in the log)."""

    def __init__(self, path: Path, max_text: int) -> None:
        self.path = path
        self.max_text = max_text
        self._rules = SmsRules()
        self._stamp: tuple[float, int] | bool | None = False  # False: not read yet

    def current(self) -> SmsRules:
        try:
            stat = self.path.stat()
            stamp: tuple[float, int] | None = (stat.st_mtime, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            if stamp is None:
                log.warning(
                    "no SMS rules file: no missed call gets an SMS",
                    extra={"rules_file": str(self.path)},
                )
            try:
                self._rules = load_rules(self.path, self.max_text) if stamp else SmsRules()
            except SmsRulesError as exc:
                log.error("SMS rules not loaded; the old ones stay", extra={"error": str(exc)})
            self._stamp = stamp
        return self._rules
