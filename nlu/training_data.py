"""Load intent training data written in Rasa 3.x NLU format (``nlu.yml``).

Supported keys of each ``nlu:`` item: ``intent`` (with ``examples: |``), ``synonym``,
``lookup`` and ``regex`` (kept, not used by the model). Examples may carry entity
annotations ``[text](entity)``, ``[text](entity:value)`` and
``[text]{"entity": "…", "value": "…"}``. Every problem is reported as
``file:line: reason`` so an editor can jump straight to it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

ANNOTATION_RE = re.compile(
    r"\[(?P<text>[^\]]+)\]"
    r"(?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))"
)
SUPPORTED_VERSIONS = {"2.0", "3.0", "3.1"}


class TrainingDataError(ValueError):
    """A broken training-data file: where and why."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class EntitySpan:
    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...]
    line: int


@dataclass(slots=True)
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    source: Path | None = None

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def by_intent(self) -> dict[str, list[Example]]:
        grouped: dict[str, list[Example]] = {}
        for example in self.examples:
            grouped.setdefault(example.intent, []).append(example)
        return grouped


def parse_annotated(text: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """Strip ``[text](entity)`` annotations; return plain text and the entity spans."""
    plain: list[str] = []
    spans: list[EntitySpan] = []
    pos = 0
    length = 0
    for match in ANNOTATION_RE.finditer(text):
        before = text[pos : match.start()]
        plain.append(before)
        length += len(before)
        shown = match.group("text")
        entity, value = _annotation_target(match)
        spans.append(
            EntitySpan(entity, value if value is not None else shown, length, length + len(shown))
        )
        plain.append(shown)
        length += len(shown)
        pos = match.end()
    plain.append(text[pos:])
    return "".join(plain), tuple(spans)


def _annotation_target(match: re.Match[str]) -> tuple[str, str | None]:
    if match.group("entity") is not None:
        entity, _, value = match.group("entity").partition(":")
        return entity.strip(), (value.strip() or None)
    try:
        data = json.loads(match.group("json"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"bad JSON in entity annotation {match.group('json')!r}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("entity"), str):
        raise ValueError(f'annotation {match.group("json")!r} needs an "entity" key')
    value = data.get("value")
    return data["entity"], None if value is None else str(value)


def load_training_data(path: Path | str) -> TrainingData:
    """Read and validate an ``nlu.yml``; raise :class:`TrainingDataError` with the line."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrainingDataError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise TrainingDataError(path, None, f"not UTF-8 text ({exc.reason})") from None
    try:
        root = yaml.compose(source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise TrainingDataError(path, line, f"YAML syntax: {exc.problem or exc.context}") from None
    return _Reader(path).read(root)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = TrainingData(source=path)
        self.seen: dict[str, tuple[str, int]] = {}

    def fail(self, node: Node | None, reason: str) -> TrainingDataError:
        return TrainingDataError(self.path, node.start_mark.line + 1 if node else None, reason)

    def read(self, root: Node | None) -> TrainingData:
        if not isinstance(root, MappingNode):
            raise self.fail(root, "expected a mapping with 'version' and 'nlu' at the top")
        top = self.mapping(root)
        version = top.get("version")
        if version is not None:
            text = self.scalar(version, "version")
            if text not in SUPPORTED_VERSIONS:
                raise self.fail(version, f'unsupported version {text!r} (use "3.1")')
        nlu = top.get("nlu")
        if nlu is None:
            raise self.fail(root, "missing the 'nlu:' list")
        if not isinstance(nlu, SequenceNode):
            raise self.fail(nlu, "'nlu:' must be a list of '- intent:' / '- synonym:' items")
        for item in nlu.value:
            self.item(item)
        if not self.data.examples:
            raise self.fail(root, "no intent examples at all")
        return self.data

    def mapping(self, node: MappingNode) -> dict[str, Node]:
        result: dict[str, Node] = {}
        for key, value in node.value:
            name = self.scalar(key, "key")
            if name in result:
                raise self.fail(key, f"duplicate key {name!r}")
            result[name] = value
        return result

    def scalar(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, f"{what} must be a plain value")
        return str(node.value).strip()

    def item(self, node: Node) -> None:
        if not isinstance(node, MappingNode):
            raise self.fail(node, "each 'nlu:' item must be a mapping like '- intent: name'")
        fields = self.mapping(node)
        kinds = [k for k in ("intent", "synonym", "lookup", "regex") if k in fields]
        if len(kinds) != 1:
            raise self.fail(node, "each item needs exactly one of intent/synonym/lookup/regex")
        kind = kinds[0]
        name = self.scalar(fields[kind], kind)
        if not name:
            raise self.fail(fields[kind], f"empty {kind} name")
        if "examples" not in fields:
            raise self.fail(node, f"{kind} {name!r} has no 'examples: |' block")
        lines = self.examples(fields["examples"], f"{kind} {name!r}")
        if kind == "intent":
            self.intent(name, lines)
        elif kind == "synonym":
            for text, _ in lines:
                self.data.synonyms[text.lower()] = name
        elif kind == "lookup":
            self.data.lookups.setdefault(name, []).extend(text for text, _ in lines)
        else:
            self.data.regexes.setdefault(name, []).extend(text for text, _ in lines)

    def examples(self, node: Node, owner: str) -> list[tuple[str, int]]:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, f"examples of {owner} must be a block string ('examples: |')")
        first = node.start_mark.line + (1 if node.style in ("|", ">") else 0)
        result: list[tuple[str, int]] = []
        for offset, raw in enumerate(str(node.value).splitlines()):
            line = first + offset + 1
            stripped = raw.strip()
            if not stripped:
                continue
            if not stripped.startswith("- "):
                raise TrainingDataError(self.path, line, f"example of {owner} must start with '- '")
            text = stripped[2:].strip()
            if not text:
                raise TrainingDataError(self.path, line, f"empty example in {owner}")
            result.append((text, line))
        if not result:
            raise self.fail(node, f"{owner} has no examples")
        return result

    def intent(self, name: str, lines: list[tuple[str, int]]) -> None:
        for raw, line in lines:
            try:
                text, spans = parse_annotated(raw)
            except ValueError as exc:
                raise TrainingDataError(self.path, line, str(exc)) from None
            if "[" in text or "](" in text:
                raise TrainingDataError(self.path, line, f"unclosed entity annotation in {raw!r}")
            key = " ".join(text.lower().split())
            if key in self.seen and self.seen[key][0] != name:
                other, other_line = self.seen[key]
                raise TrainingDataError(
                    self.path,
                    line,
                    f"example {text!r} is in intent {name!r} and in {other!r} (line {other_line})",
                )
            self.seen[key] = (name, line)
            self.data.examples.append(Example(text, name, spans, line))
