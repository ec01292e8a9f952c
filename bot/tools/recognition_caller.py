"""The simulated caller of ``bot bench recognition``: answers from what the bot just said.

The caller means to order one article (``Intent``) and answers every prompt of the order
dialog by its ``responses.yml`` key and text, as a caller would:

- asked for the article: says it (in its style, a new rendering each time); offered the
  keypad («…наберите его на телефоне…»): keys it in, ``#`` at the end;
- asked about a near article («Артикул 4512, перчатки…. Верно?»), about the product named
  before the quantity, the quantity («Вы хотите заказать 2 штуки?») or the order read back:
  the **honest** caller says «да» only when the digits, the product or the quantity are the
  ones it meant, «нет» otherwise; the **always-yes** caller says «да» to every question;
- asked for a yes/no again with the keys offered: presses 1 or 2; after a «нет» to the
  read-back, offered the choices: presses 0 (an operator); «Хотите добавить…?»: «нет».

Yes and no are said by the caller's second voice (Festival: the human recordings hold no
«да»); articles and quantities by the voice under test (:class:`CallerVoice`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.events import BotSaid
from bot.tools.simulated_call import Turn
from speech.audio import Audio

ARTICLE_PROMPTS = frozenset(
    {"utter_ask_article", "utter_article_not_found", "utter_ask_article_again"}
)
QUANTITY_PROMPTS = frozenset(
    {"utter_ask_quantity_only", "utter_ask_quantity_again", "utter_ask_whole_quantity"}
)
QUESTIONS = frozenset(
    {
        "utter_confirm_article",
        "utter_confirm_quantity",
        "utter_confirm_product_quantity",
        "utter_read_back",
    }
)
ENDINGS = frozenset(
    {"utter_transfer", "utter_goodbye", "utter_order_accepted", "utter_save_failed"}
)
_ARTICLE_ASKED = re.compile(r"Артикул\s+(\S+?),")
_QUANTITY_ASKED = re.compile(r"заказать\s+(\d+)\s")
_READ_BACK = re.compile(r"Ваш заказ:\s*(.*)\.\s*Всё верно\?", re.S)


@dataclass(frozen=True, slots=True)
class Intent:
    """What the caller means to order."""

    article: str
    name: str  # the product's catalog name
    quantity: int
    style: str  # how the article is said


@dataclass(slots=True)
class CallerVoice:
    """The voice under test: ``article(attempt)`` and ``quantity(attempt)`` give 8 kHz audio."""

    article: Callable[[int], Audio]
    quantity: Callable[[int], Audio]


def _fold(text: str) -> str:
    return " ".join(text.casefold().replace("ё", "е").split())


@dataclass(slots=True)
class RecognitionCaller:
    """``answer(said)`` is a :data:`~bot.tools.simulated_call.Reply` for ``SimulatedCaller``."""

    intent: Intent
    voice: CallerVoice
    honest: bool = True
    article_attempts: int = 0
    quantity_attempts: int = 0
    last_answer: bool = True  # the caller's last yes/no, for «ответьте да или нет»
    unknown: list[str] = field(default_factory=list)  # prompts it had no answer for

    def answer(self, said: list[BotSaid]) -> Turn | None:
        prompt = next((s for s in reversed(said) if s.key and s.key not in ENDINGS), None)
        if prompt is None:
            return None  # nothing asked (the call is ending): hang up
        key, text = prompt.key, prompt.text
        if key in ARTICLE_PROMPTS:
            return self._say_article()
        if key == "utter_article_keypad":
            return Turn("dtmf", self.intent.article + "#")
        if key == "utter_ask_quantity":  # «{product}. Сколько штук вам нужно?»
            if self.honest and not self._names_it(text):
                return self._yes_no(False)
            return self._say_quantity()
        if key in QUANTITY_PROMPTS:
            return self._say_quantity()
        if key in ("utter_ask_quantity_keypad", "utter_confirm_quantity_keypad"):
            return Turn("dtmf", f"{self.intent.quantity}#")
        if key in QUESTIONS:
            return self._yes_no(self._agrees(key, text))
        if key == "utter_ask_yes_no":
            return Turn("dtmf", "1" if self.last_answer else "2")
        if key in ("utter_ask_more", "utter_order_empty"):
            return self._yes_no(False)
        if key in ("utter_read_back_options", "utter_pick_item"):
            return Turn("dtmf", "0")  # the order is wrong: a person sorts it out
        if key == "utter_main_menu":
            return Turn("dtmf", "1")
        self.unknown.append(key)
        return None

    # -- what the caller checks ------------------------------------------------------------

    def _agrees(self, key: str, text: str) -> bool:
        if not self.honest:
            return True
        if key == "utter_confirm_article":
            asked = _ARTICLE_ASKED.search(text)
            return (
                asked is not None and asked.group(1) == self.intent.article and self._names_it(text)
            )
        if key == "utter_confirm_quantity":
            return self._quantity_is(text)
        if key == "utter_confirm_product_quantity":
            return self._names_it(text) and self._quantity_is(text)
        match = _READ_BACK.search(text)  # utter_read_back: exactly the one item meant
        if match is None:
            return False
        items = [i.strip() for i in match.group(1).split(";")]
        name = _fold(self.intent.name)
        return len(items) == 1 and _fold(items[0]).startswith(f"{name}, {self.intent.quantity} ")

    def _names_it(self, text: str) -> bool:
        return _fold(self.intent.name) in _fold(text)

    def _quantity_is(self, text: str) -> bool:
        asked = _QUANTITY_ASKED.search(text)
        return asked is not None and int(asked.group(1)) == self.intent.quantity

    # -- turns -----------------------------------------------------------------------------

    def _say_article(self) -> Turn:
        self.article_attempts += 1
        return Turn("audio", audio=self.voice.article(self.article_attempts))

    def _say_quantity(self) -> Turn:
        self.quantity_attempts += 1
        return Turn("audio", audio=self.voice.quantity(self.quantity_attempts))

    def _yes_no(self, yes: bool) -> Turn:
        self.last_answer = yes
        return Turn("say", "да" if yes else "нет")
