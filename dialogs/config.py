"""Dialog settings (the ``dialog:`` section of the bot's configuration)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCENARIOS = ("menu", "order", "status", "greeting", "status_only")


@dataclass(slots=True)
class DialogSettings:
    responses: Path = Path("data/responses.yml")
    scenario: str = "menu"  # menu | order | status | greeting | status_only (README)
    max_article_failures: int = 3  # article not found N times ➜ operator
    max_misunderstandings: int = 3  # not understood N times in a row ➜ operator
    max_silences: int = 3  # no answer N times in a row ➜ operator
    min_article_confidence: float = 0.6  # a near article below this is not even offered
    # a goodbye heard less surely than this (and without «до свидания») is a misunderstanding:
    # a misheard «семь» («Сим») must not end the call
    min_goodbye_confidence: float = 0.7
    # a quantity heard less surely than this (the recognizer's confidence), or read from
    # several numbers written («50, 8», «6 шесть»), is asked for by keys, not confirmed by
    # a «да» alone: a caller who says «да» to everything must not get a misheard quantity
    min_quantity_confidence: float = 0.5
    read_back: bool = True  # read the whole order back and save it only after «да»
    max_quantity: int = 1000
    operator: str = "operator"  # transfer target: queue, extension or SIP URI
    done_status: str = "выполнен"  # shop_orders_status.Name of a finished order
    status_accepted: str = "принят успешно"
    status_transferred: str = "переведен на оператора"
    status_abandoned: str = "прерван абонентом"
    status_draft: str = "в работе"  # the order so far, in every SaveDraft
    engine: str = "embedded"  # embedded | rasa: who leads the dialogue (README «Use with Rasa»)

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"dialog.scenario must be one of {', '.join(SCENARIOS)}")
        for name in ("max_article_failures", "max_misunderstandings", "max_silences"):
            if getattr(self, name) < 1:
                raise ValueError(f"dialog.{name} must be at least 1")
        for name in ("min_article_confidence", "min_goodbye_confidence", "min_quantity_confidence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"dialog.{name} must be between 0 and 1")
        if self.max_quantity < 1:
            raise ValueError("dialog.max_quantity must be at least 1")
