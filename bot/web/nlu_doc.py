"""``nlu.yml`` as the console edits it: items (intents, synonyms, lookups) with their examples.

:func:`parse` keeps everything before ``nlu:`` verbatim (version, comments) and comment lines
between items; :func:`render` writes the file back in the layout of ``data/nlu.yml`` (the
shipped file comes back byte for byte). :func:`validate` writes the text to a temporary file
and runs the bot's own loader (:func:`nlu.training_data.load_training_data`); its
``file:line: reason`` becomes a Russian message on the form field that produced that line.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.training_data import TrainingDataError, load_training_data

KINDS = ("intent", "synonym", "lookup", "regex")
ITEM_RE = re.compile(r"^- (intent|synonym|lookup|regex):")


class DocumentError(ValueError):
    """The file is not in a shape the console can edit (the loader's checks come later)."""


@dataclass(slots=True)
class Item:
    kind: str
    name: str
    examples: list[str]
    comments: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)  # the form field each example came from


@dataclass(slots=True)
class Document:
    preamble: str
    items: list[Item]

    def intents(self) -> list[str]:
        return [i.name for i in self.items if i.kind == "intent"]

    def find(self, kind: str, name: str) -> Item | None:
        return next((i for i in self.items if i.kind == kind and i.name == name), None)

    def copy(self) -> Document:
        return Document(
            self.preamble,
            [Item(i.kind, i.name, list(i.examples), list(i.comments)) for i in self.items],
        )


def parse(text: str) -> Document:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError(f"YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("nlu"), list):
        raise DocumentError("no 'nlu:' list at the top")
    lines = text.splitlines(keepends=True)
    start = next((n for n, line in enumerate(lines) if line.rstrip() == "nlu:"), None)
    if start is None:
        raise DocumentError("'nlu:' must be a line of its own")
    comments: list[list[str]] = []
    pending: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            pending.append(line.rstrip("\n"))
        elif ITEM_RE.match(line):
            comments.append(pending)
            pending = []
    items: list[Item] = []
    for index, entry in enumerate(data["nlu"]):
        if not isinstance(entry, dict):
            raise DocumentError(f"item {index + 1} is not a mapping")
        kinds = [k for k in KINDS if k in entry]
        if len(kinds) != 1 or set(entry) - {kinds[0], "examples"}:
            raise DocumentError(f"item {index + 1}: only one of {KINDS} with 'examples'")
        raw = entry.get("examples") or ""
        if not isinstance(raw, str):
            raise DocumentError(f"item {index + 1}: 'examples' must be a block")
        examples = [s.strip()[2:].strip() for s in raw.splitlines() if s.strip().startswith("- ")]
        note = comments[index] if index < len(comments) else []
        items.append(Item(kinds[0], str(entry[kinds[0]]), examples, note))
    return Document("".join(lines[: start + 1]), items)


def _name(value: str) -> str:
    plain = re.fullmatch(r"[\w][\w .-]*", value) and not value.endswith(" ")
    try:
        same = yaml.safe_load(value) == value
    except yaml.YAMLError:
        same = False
    return value if plain and same else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(doc: Document) -> tuple[str, dict[int, tuple[int, int]]]:
    """The file's text and, for each line of an item, (item index, example index or -1)."""
    lines = doc.preamble.splitlines()
    where: dict[int, tuple[int, int]] = {}
    for n, item in enumerate(doc.items):
        if n:
            lines.append("")
        lines.extend(item.comments)
        lines.append(f"- {item.kind}: {_name(item.name)}")
        where[len(lines)] = (n, -1)
        lines.append("  examples: |")
        where[len(lines)] = (n, -1)
        for k, example in enumerate(item.examples):
            lines.append(f"    - {example}")
            where[len(lines)] = (n, k)
    return "\n".join(lines) + "\n", where


RUSSIAN = [
    (
        re.compile(r"example .* is in intent '(.+)' and in '(.+)' \(line \d+\)"),
        "Такой пример уже есть в интенте «{1}».",
    ),
    (re.compile(r"unclosed entity annotation"), "Незакрытая разметка: пишите [текст](сущность)."),
    (re.compile(r"bad JSON in entity annotation"), "Ошибка в разметке {…}: это не JSON."),
    (re.compile(r'needs an "entity" key'), 'В разметке {…} нет ключа "entity".'),
    (re.compile(r"has no examples"), "Не осталось ни одного примера."),
    (re.compile(r"empty example"), "Пустой пример."),
    (re.compile(r"empty (intent|synonym|lookup|regex) name"), "Пустое название."),
    (re.compile(r"no intent examples at all"), "В данных нет ни одного примера."),
]


def russian(reason: str) -> str:
    for pattern, text in RUSSIAN:
        match = pattern.search(reason)
        if match:
            return text.format(*match.groups(), **{}) if "{" in text and match.groups() else text
    return f"Ошибка в данных: {reason}"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # the form field, or "" when the error is not about one field
    message: str
    line: int | None


def validate(doc: Document) -> tuple[str, list[FieldError]]:
    """The rendered text and its errors (empty: the bot's loader takes it)."""
    text, where = render(doc)
    errors = _own_checks(doc)
    if errors:
        return text, errors
    with tempfile.TemporaryDirectory(prefix="nlu-check-") as folder:
        path = Path(folder) / "nlu.yml"
        path.write_text(text, "utf-8")
        try:
            load_training_data(path)
        except TrainingDataError as exc:
            place = where.get(exc.line or 0)
            name = ""
            if place is not None:
                item = doc.items[place[0]]
                if place[1] >= 0 and place[1] < len(item.origins):
                    name = item.origins[place[1]]
                elif place[1] < 0 and item.origins:
                    name = item.origins[0]
            return text, [FieldError(name, russian(exc.reason), exc.line)]
    return text, []


def _own_checks(doc: Document) -> list[FieldError]:
    errors = []
    for item in doc.items:
        for k, example in enumerate(item.examples):
            origin = item.origins[k] if k < len(item.origins) else ""
            if "\n" in example or "\r" in example:
                errors.append(FieldError(origin, "Пример должен быть одной строкой.", None))
            elif example.startswith(("#", "|", ">")) and item.kind == "intent":
                errors.append(FieldError(origin, "Пример не может начинаться с # | >.", None))
    return errors


def describe(old: Document, new: Document) -> str:
    """«greet: +1 −2» per item whose examples changed (for the audit log and the history)."""
    parts = []
    names = {(i.kind, i.name) for i in old.items} | {(i.kind, i.name) for i in new.items}
    for kind, name in sorted(names):
        a = Counter(old.find(kind, name).examples if old.find(kind, name) else [])  # type: ignore[union-attr]
        b = Counter(new.find(kind, name).examples if new.find(kind, name) else [])  # type: ignore[union-attr]
        added, removed = sum((b - a).values()), sum((a - b).values())
        if added or removed:
            label = name if kind == "intent" else f"{kind} {name}"
            parts.append(f"{label}: +{added} −{removed}")
    return "; ".join(parts) or "без изменений"
