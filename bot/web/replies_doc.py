"""``responses.yml`` as the console edits it, and the placeholder checks of a reply's text.

:func:`parse` keeps the lines before ``responses:`` verbatim and the comment lines above each
reply; :func:`render` writes the shipped file back byte for byte. A text may only use the
placeholders the dialog fills for that reply (:data:`SLOTS`, from the policy's calls;
replies the policy does not know may use those already in their texts); ``{`` and ``}`` must
pair up. Missing a placeholder the dialog fills is allowed but shown as a warning.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field

import yaml

from dialogs.policy import RESPONSES

KEY_RE = re.compile(r"^  ([A-Za-z_][\w-]*):\s*$")
VARIANT_RE = re.compile(r"^  - text:")
SLOTS: dict[str, frozenset[str]] = {
    "utter_greet_name": frozenset({"name"}),
    "utter_confirm_article": frozenset({"article", "product"}),
    "utter_ask_quantity": frozenset({"product"}),
    "utter_confirm_quantity": frozenset({"quantity"}),
    "utter_confirm_product_quantity": frozenset({"product", "quantity"}),
    "utter_confirm_quantity_keypad": frozenset({"quantity"}),
    "utter_read_back": frozenset({"items"}),
    "utter_read_back_item": frozenset({"product", "quantity"}),
    "utter_pick_item": frozenset({"items"}),
    "utter_pick_item_entry": frozenset({"number", "product"}),
    "utter_item_dropped": frozenset({"product"}),
    "utter_order_status": frozenset({"status"}),
}
SAMPLES = {  # what «Прослушать» puts in the placeholders: what a call would
    "name": "Иван",
    "product": "Ведро пластиковое 10 л",
    "article": "4512",
    "quantity": "2 штуки",
    "status": "отправлен",
    "items": "ведро пластиковое 10 л, 2 штуки; швабра с отжимом, 1 штука",
    "number": "1",
}
SLOT_TITLES = {
    "name": "имя",
    "product": "товар",
    "article": "артикул",
    "quantity": "количество",
    "status": "статус заказа",
    "items": "список товаров",
    "number": "номер в списке",
}


class RepliesDocumentError(ValueError):
    pass


@dataclass(slots=True)
class Reply:
    key: str
    texts: list[str]
    comments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RepliesDocument:
    preamble: str
    replies: list[Reply]

    def get(self, key: str) -> Reply | None:
        return next((r for r in self.replies if r.key == key), None)


def parse(text: str) -> RepliesDocument:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RepliesDocumentError(f"YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("responses"), dict):
        raise RepliesDocumentError("no 'responses:' mapping")
    lines = text.splitlines(keepends=True)
    start = next((n for n, ln in enumerate(lines) if ln.rstrip() == "responses:"), None)
    if start is None:
        raise RepliesDocumentError("'responses:' must be a line of its own")
    comments: dict[str, list[str]] = {}
    pending: list[str] = []
    for line in lines[start + 1 :]:
        match = KEY_RE.match(line)
        if match:
            comments[match.group(1)] = pending
            pending = []
        elif line.lstrip().startswith("#"):
            pending.append(line.rstrip("\n"))
    replies = []
    for key, items in data["responses"].items():
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and isinstance(i.get("text"), str) for i in items
        ):
            raise RepliesDocumentError(f"{key}: every variant needs 'text:'")
        replies.append(Reply(str(key), [i["text"] for i in items], comments.get(str(key), [])))
    return RepliesDocument("".join(lines[: start + 1]), replies)


def render(doc: RepliesDocument) -> str:
    lines = doc.preamble.splitlines()
    for reply in doc.replies:
        lines.extend(reply.comments)
        lines.append(f"  {reply.key}:")
        for text in reply.texts:
            lines.append(f"  - text: {json.dumps(text, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def placeholders(text: str) -> list[str]:
    """The ``{name}`` placeholders of ``text``; ``ValueError`` (Russian) when malformed."""
    names = []
    try:
        for _, name, spec, conversion in string.Formatter().parse(text):
            if name is None:
                continue
            if not re.fullmatch(r"[a-z_]+", name) or spec or conversion:
                raise ValueError(f"Неверная подстановка {{{name}}}: пишите, например, {{product}}.")
            names.append(name)
    except ValueError as exc:
        if str(exc).startswith("Неверная"):
            raise
        raise ValueError(
            "Фигурные скобки { } должны стоять парами вокруг имени подстановки."
        ) from None
    return names


def allowed(key: str, current: list[str]) -> frozenset[str]:
    if key in SLOTS or key in RESPONSES:
        return SLOTS.get(key, frozenset())
    found: set[str] = set()
    for text in current:
        try:
            found.update(placeholders(text))
        except ValueError:
            continue
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class TextCheck:
    errors: list[str]
    warnings: list[str]


def check_text(key: str, text: str, allowed_names: frozenset[str]) -> TextCheck:
    if not text.strip():
        return TextCheck(["Пустой текст: бот промолчит."], [])
    if "\n" in text:
        return TextCheck(["Текст должен быть одной строкой."], [])
    try:
        names = placeholders(text)
    except ValueError as exc:
        return TextCheck([str(exc)], [])
    errors = []
    for name in sorted(set(names) - allowed_names):
        known = ", ".join("{" + n + "}" for n in sorted(allowed_names)) or "никаких"
        errors.append(f"Подстановку {{{name}}} бот здесь не заполняет (можно: {known}).")
    warnings = [
        f"В тексте нет {{{name}}} ({SLOT_TITLES.get(name, name)}): бот его не назовёт."
        for name in sorted(allowed_names - set(names))
    ]
    return TextCheck(errors, warnings)


def sample(text: str) -> str:
    """``text`` with every placeholder filled as in a call (for «Прослушать»)."""
    return string.Formatter().vformat(text, (), _Samples())


class _Samples(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return SAMPLES.get(key, key)
