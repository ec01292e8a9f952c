"""The bot's phrases, from ``responses.yml`` in Rasa's ``responses:`` format.

```yaml
responses:
  utter_ask_article:
  - text: "Назовите артикул товара."
  - text: "Какой артикул вас интересует?"
```
Placeholders ``{slot}`` are filled from the dialog's slots. Variants are used in turn
(first, second, …) per response, so a re-prompt does not sound identical; a missing slot
or response is an error at load or render time, never a silent empty prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ResponsesError(ValueError):
    pass


@dataclass(slots=True)
class Responses:
    variants: dict[str, list[str]]
    source: Path | None = None
    _turn: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Responses:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResponsesError(f"{path}: file not found") from None
        except yaml.YAMLError as exc:
            raise ResponsesError(f"{path}: invalid YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("responses"), dict):
            raise ResponsesError(f"{path}: expected a top-level 'responses:' mapping")
        variants: dict[str, list[str]] = {}
        for name, items in data["responses"].items():
            if not isinstance(items, list) or not items:
                raise ResponsesError(f"{path}: {name}: expected a list of '- text: ...' items")
            texts = []
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                    raise ResponsesError(f"{path}: {name}: every variant needs 'text:'")
                texts.append(item["text"].strip())
            variants[str(name)] = texts
        return cls(variants, path)

    def fresh(self) -> Responses:
        """A copy with its own variant rotation (one per call)."""
        return Responses(self.variants, self.source)

    def require(self, names: list[str]) -> None:
        missing = [n for n in names if n not in self.variants]
        if missing:
            raise ResponsesError(f"{self.source}: missing responses: {', '.join(missing)}")

    def render(self, key: str, /, **slots: object) -> str:
        texts = self.variants.get(key)
        if not texts:
            raise ResponsesError(f"no response named {key!r}")
        turn = self._turn.get(key, 0)
        self._turn[key] = turn + 1
        text = texts[turn % len(texts)]
        try:
            return text.format(**slots)
        except (KeyError, IndexError) as exc:
            raise ResponsesError(f"{key}: placeholder {exc} has no value") from None
