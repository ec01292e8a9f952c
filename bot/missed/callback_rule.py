"""One call-back rule (the missed-call manual, «Настройка автоперезвона») and how it is read
from the rules file's YAML, every problem a Russian message with its field and line.

A rule says which missed calls are called back (``source_kind`` ``number`` | ``queue`` |
``extension`` and ``source``, empty = any; only calls that waited at least ``min_wait_s``),
when (``delay_s`` after the missed call, inside ``intervals``:
:mod:`bot.missed.working_hours`), who is called first (``first``: ``client`` | ``employee``)
and who takes the call (``target_kind`` ``dispatcher`` | ``employees`` | ``queue`` and
``targets``), the greeting the client hears, the music while dialling and voicemail when the
wait is too long (``voicemail_after_s``; ``target_kind: voicemail`` sends every call there).
«Диспетчерская» is allowed in one rule only, as in the manual. The first enabled rule that
matches wins (:func:`rule_for`).

:func:`parse_rules` checks everything and raises :class:`RulesError` carrying
:class:`RuleError` s (field, Russian message, YAML line) for the console.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import time

import yaml

from bot.missed.working_hours import DAY_NAMES, Interval

SOURCE_KINDS = ("number", "queue", "extension")
FIRST = ("client", "employee")
TARGET_KINDS = ("dispatcher", "employees", "queue", "voicemail")
HHMM_RE = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
NUMBER_RE = re.compile(r"^\+?[0-9() -]{3,40}$")
TARGET_RE = re.compile(r"^[A-Za-z0-9_.+*#@:/-]{1,80}$")
MAX_RULES = 100
MAX_TEXT = 500
DEFAULT_GREETING = "Здравствуйте! Вы звонили в {shop}. Соединяю с сотрудником."
DEFAULT_VOICEMAIL = (
    "Сейчас все сотрудники заняты. Оставьте сообщение после сигнала, и мы вам перезвоним."
)


@dataclass(frozen=True, slots=True)
class RuleError:
    field: str  # "rules[0].intervals[1].to", or "" for the whole file
    message: str  # Russian, for the editor
    line: int | None  # 1-based line of the YAML text


class RulesError(ValueError):
    def __init__(self, errors: Sequence[RuleError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(_where(e) for e in self.errors))


def _where(error: RuleError) -> str:
    place = f"строка {error.line}: " if error.line else ""
    return f"{place}{error.message}"


@dataclass(frozen=True, slots=True)
class CallbackRule:
    name: str
    source_kind: str = "number"
    source: str = ""
    enabled: bool = True
    delay_s: float = 60.0
    min_wait_s: float = 0.0
    intervals: tuple[Interval, ...] = ()
    first: str = "client"
    target_kind: str = "employees"
    targets: tuple[str, ...] = ()
    greeting: str = DEFAULT_GREETING
    music: str = ""
    voicemail_after_s: float | None = None
    voicemail_greeting: str = DEFAULT_VOICEMAIL
    line: int = 0  # where the rule starts in the file

    def matches(self, source_kind: str, source: str, called: str, wait_s: float) -> bool:
        """Does a missed call (its source, the number dialled, its wait) fall under it?"""
        if not self.enabled or wait_s < self.min_wait_s:
            return False
        if self.source_kind == "number":
            if source_kind not in ("number", "bot"):
                return False
            wanted = _digits(self.source)
            return not wanted or wanted[-10:] in (_digits(called)[-10:], _digits(source)[-10:])
        if source_kind != self.source_kind:
            return False
        return not self.source or self.source.strip().casefold() == source.strip().casefold()

    @property
    def target(self) -> str:
        """Where the client is sent: the first target (a queue, an extension, a URI)."""
        return self.targets[0] if self.targets else ""

    def greeting_text(self, shop: str) -> str:
        return self.greeting.replace("{shop}", shop)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def rule_for(
    rules: Iterable[CallbackRule], source_kind: str, source: str, called: str, wait_s: float
) -> CallbackRule | None:
    for rule in rules:
        if rule.matches(source_kind, source, called, wait_s):
            return rule
    return None


class _Reader:
    """Turns the composed YAML into rules, collecting every error with its line."""

    def __init__(self) -> None:
        self.errors: list[RuleError] = []

    def fail(self, name: str, message: str, node: yaml.Node | None) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.errors.append(RuleError(name, message, line))

    def rules(self, root: yaml.Node | None) -> list[CallbackRule]:
        if root is None:
            return []
        if not isinstance(root, yaml.MappingNode):
            self.fail("", "Ожидается «rules:» со списком правил.", root)
            return []
        fields = _mapping(root)
        unknown = set(fields) - {"rules"}
        for key in sorted(unknown):
            self.fail(key, f"Неизвестный ключ «{key}».", fields[key][0])
        node = fields.get("rules", (None, None))[1]
        if node is None or (isinstance(node, yaml.ScalarNode) and not node.value):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail("rules", "«rules» должен быть списком правил.", node)
            return []
        if len(node.value) > MAX_RULES:
            self.fail("rules", f"Не больше {MAX_RULES} правил.", node)
            return []
        out = [self.rule(i, item) for i, item in enumerate(node.value)]
        rules = [r for r in out if r is not None]
        dispatchers = [r for r in rules if r.target_kind == "dispatcher"]
        if len(dispatchers) > 1:
            self.errors.append(
                RuleError(
                    "target_kind",
                    "«Диспетчерская» доступна только для одного правила.",
                    dispatchers[1].line,
                )
            )
        names = [r.name.casefold() for r in rules]
        for rule in rules:
            if names.count(rule.name.casefold()) > 1:
                self.errors.append(
                    RuleError("name", f"Правило «{rule.name}» названо дважды.", rule.line)
                )
                break
        return rules

    def rule(self, index: int, node: yaml.Node) -> CallbackRule | None:
        where = f"rules[{index}]"
        if not isinstance(node, yaml.MappingNode):
            self.fail(where, "Правило должно быть набором «ключ: значение».", node)
            return None
        fields = _mapping(node)
        before = len(self.errors)
        allowed_keys = {
            "name", "enabled", "source_kind", "source", "delay_s", "min_wait_s", "intervals",
            "first", "target_kind", "targets", "greeting", "music", "voicemail_after_s",
            "voicemail_greeting",
        }  # fmt: skip
        for key in sorted(set(fields) - allowed_keys):
            self.fail(f"{where}.{key}", f"Неизвестный ключ «{key}».", fields[key][0])

        def text(key: str, default: str = "", limit: int = 80) -> str:
            value = fields.get(key, (None, None))[1]
            if value is None:
                return default
            raw = _scalar(value)
            if raw is None:
                self.fail(f"{where}.{key}", f"«{key}» должен быть строкой.", value)
                return default
            if len(raw) > limit:
                self.fail(f"{where}.{key}", f"«{key}»: не длиннее {limit} знаков.", value)
            return raw

        def number(key: str, default: float | None, low: float, high: float) -> float | None:
            value = fields.get(key, (None, None))[1]
            raw = _scalar(value) if value is not None else None
            if value is None or raw in ("", "null", "~"):
                return default
            try:
                result = float(raw or "")
            except ValueError:
                self.fail(f"{where}.{key}", f"«{key}» должно быть числом секунд.", value)
                return default
            if not low <= result <= high:
                self.fail(f"{where}.{key}", f"«{key}»: от {low:g} до {high:g} секунд.", value)
            return result

        def choice(key: str, options: tuple[str, ...], default: str, label: str) -> str:
            value = fields.get(key, (None, None))[1]
            raw = text(key, default)
            if raw not in options:
                self.fail(f"{where}.{key}", f"{label}: одно из {', '.join(options)}.", value)
            return raw

        name = text("name").strip()
        if not name:
            self.fail(f"{where}.name", "У правила должно быть имя.", node)
        enabled_node = fields.get("enabled", (None, None))[1]
        enabled_raw = text("enabled", "true").lower()
        if enabled_raw not in ("true", "false", "yes", "no", "on", "off"):
            self.fail(f"{where}.enabled", "«enabled»: true или false.", enabled_node)
        source_kind = choice("source_kind", SOURCE_KINDS, "number", "Источник")
        source = text("source").strip()
        source_node = fields.get("source", (None, node))[1]
        if source_kind == "number" and source and not NUMBER_RE.match(source):
            self.fail(
                f"{where}.source", "Внешний номер: цифры, например +7 495 123-45-67.", source_node
            )
        elif source_kind != "number" and source and not TARGET_RE.match(source):
            self.fail(f"{where}.source", "Источник: имя очереди или добавочный.", source_node)
        delay = number("delay_s", 60.0, 0, 7 * 86400)
        min_wait = number("min_wait_s", 0.0, 0, 3600)
        intervals = self.intervals(where, fields.get("intervals", (None, None))[1])
        first = choice("first", FIRST, "client", "Кому звонить сначала")
        target_kind = choice("target_kind", TARGET_KINDS, "employees", "На кого направлять")
        targets = self.targets(where, fields.get("targets", (None, None))[1])
        if target_kind in ("employees", "queue", "dispatcher") and not targets:
            self.fail(f"{where}.targets", "Укажите сотрудника (добавочный) или очередь.", node)
        if first == "employee" and target_kind in ("voicemail", "queue"):
            self.fail(
                f"{where}.first", "Сначала сотруднику — только с сотрудниками или диспетчерской.",
                fields.get("first", (None, node))[1],
            )  # fmt: skip
        greeting = text("greeting", DEFAULT_GREETING, MAX_TEXT)
        music = text("music", "", 300)
        voicemail_after = number("voicemail_after_s", None, 5, 3600)
        voicemail_greeting = text("voicemail_greeting", DEFAULT_VOICEMAIL, MAX_TEXT)
        if len(self.errors) > before:
            return None
        return CallbackRule(
            name=name,
            source_kind=source_kind,
            source=source,
            enabled=enabled_raw in ("true", "yes", "on"),
            delay_s=delay or 0.0,
            min_wait_s=min_wait or 0.0,
            intervals=intervals,
            first=first,
            target_kind=target_kind,
            targets=targets,
            greeting=greeting,
            music=music,
            voicemail_after_s=voicemail_after,
            voicemail_greeting=voicemail_greeting,
            line=node.start_mark.line + 1,
        )

    def targets(self, where: str, node: yaml.Node | None) -> tuple[str, ...]:
        if node is None:
            return ()
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = []
        for item in items:
            raw = _scalar(item)
            if raw is None or not TARGET_RE.match(raw.strip()):
                self.fail(f"{where}.targets", "Цель: добавочный, очередь или SIP-адрес.", item)
                continue
            out.append(raw.strip())
        return tuple(out)

    def intervals(self, where: str, node: yaml.Node | None) -> tuple[Interval, ...]:
        if node is None or (isinstance(node, yaml.ScalarNode) and not node.value):
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.fail(f"{where}.intervals", "«intervals» должен быть списком.", node)
            return ()
        out = []
        for k, item in enumerate(node.value):
            name = f"{where}.intervals[{k}]"
            if not isinstance(item, yaml.MappingNode):
                self.fail(name, "Интервал: дни и часы «from», «to».", item)
                continue
            fields = _mapping(item)
            days_node = fields.get("days", (None, None))[1]
            days: list[int] = []
            day_items = days_node.value if isinstance(days_node, yaml.SequenceNode) else [days_node]
            for day in day_items:
                raw = (_scalar(day) or "").strip().lower() if day is not None else ""
                if raw not in DAY_NAMES:
                    self.fail(f"{name}.days", "Дни: mon..sun (или пн..вс).", day or item)
                    continue
                days.append(DAY_NAMES[raw])
            hours: list[time | None] = []
            for key in ("from", "to"):
                value = fields.get(key, (None, None))[1]
                raw = (_scalar(value) or "").strip() if value is not None else ""
                if not raw:
                    hours.append(None)
                    continue
                match = HHMM_RE.match(raw)
                if match is None or (match.group(1) == "24" and match.group(2) != "00"):
                    self.fail(f"{name}.{key}", "Время в виде ЧЧ:ММ, например 16:30.", value)
                    hours.append(None)
                    continue
                hour = int(match.group(1)) % 24
                hours.append(time(hour, int(match.group(2))))
            start, end = hours
            if (start is None) != (end is None):
                self.fail(name, "Укажите оба времени «from» и «to» или ни одного.", item)
                continue
            if start is not None and start == end:
                self.fail(f"{name}.to", "Конец интервала совпадает с началом.", item)
                continue
            if days:
                out.append(Interval(tuple(sorted(set(days))), start, end))
        return tuple(out)


def _mapping(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
        out[name] = (key, value)
    return out


def _scalar(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return None


def parse_rules(text: str) -> list[CallbackRule]:
    """The rules of a YAML text; :class:`RulesError` lists every problem with its line."""
    if len(text) > 1_000_000:
        raise RulesError([RuleError("", "Файл правил слишком большой.", None)])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RulesError([RuleError("", "Ошибка синтаксиса YAML.", line)]) from None
    reader = _Reader()
    rules = reader.rules(root)
    if reader.errors:
        raise RulesError(reader.errors)
    return rules
