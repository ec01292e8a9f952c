"""Whether what the caller said is already a complete answer to what the dialog asked.

The voice session asks this during a short pause (``voice.vad.early_silence_ms``), with the
phrase recognised speculatively: a complete answer is answered at once, anything else waits
for the full end-of-phrase silence. Pure: the catalog is asked through ``article_goes_on``
(does a longer catalog article start with these digits?).

Complete, by expectation:
- anywhere: a request for the operator, a goodbye;
- ``yes_no``: a yes or a no (the yes/no entity or the affirm/deny intent), with no number
  that would change the quantity being confirmed;
- ``article``: an exact catalog article of at least three digits that no longer article
  continues («12» is not complete while 1245 exists, nor as a two-digit article: a caller who
  dictates in groups pauses after «двенадцать»), not a suggestion;
- ``quantity``: a number that cannot go on, followed by its unit (or another word): not
  a bare number («две…» may become «две штуки», «две тысячи»: the bench's false cut-offs
  were bare numbers), not a round ten, hundred or thousand («двадцать…» may become
  «двадцать пять»; not even «двадцать штук»: Whisper, prompted with «Сколько штук?», writes
  the unit it expects after «двадцать» alone), not a quantity read from several numbers
  written (the NLU's ``UNSURE_QUANTITY``), no fraction; and, when the session tells how long
  the caller spoke (``speech_s``), not a number with its unit said in less than
  ``MIN_UNIT_SPEECH_S``: Whisper, prompted «Сколько штук? 3 штуки.», wrote «2 штуки.» for a
  0.58 s «двадцать» alone (bench wire: «двадцать … пять штук» cut and read as 2), while «две
  штуки», «пять штук» took 0.83–1.06 s;
- ``menu``: an order / status / operator choice, or a menu key said as a number (0, 1, 2).
When in doubt it is not complete: waiting costs a few hundred milliseconds, a cut-off costs a
repeated question.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dialogs.expect import Expect
from nlu.types import Parse

ALWAYS = frozenset({"ask_operator", "goodbye"})
MENU = frozenset({"make_order", "order_status", "ask_operator"})
MENU_NUMBERS = frozenset({"0", "1", "2"})
WORD = re.compile(r"[^\W\d_]")  # a letter: a word after the number
MIN_UNIT_SPEECH_S = 0.65  # a number and its unit take longer to say
MIN_EARLY_ARTICLE = 3  # digits: «12 … 45» must not end at a short catalog article «12»


def is_complete(
    parse: Parse,
    expect: Expect,
    article_goes_on: Callable[[str], bool] = lambda _: False,
    speech_s: float | None = None,
) -> bool:
    if not parse.text.strip():
        return False
    if parse.intent in ALWAYS and not parse.first("number"):
        return True
    if parse.first("fraction") is not None:
        return False
    if expect == "yes_no":
        return _yes_no(parse)
    if expect == "article":
        return _article(parse, article_goes_on)
    if expect == "quantity":
        return _quantity(parse) and (speech_s is None or speech_s >= MIN_UNIT_SPEECH_S)
    return _menu(parse)


def _yes_no(parse: Parse) -> bool:
    if parse.first("number") is not None:
        return False  # «да, три…»: the quantity may be changing
    return parse.first("yes_no") is not None or parse.intent in ("affirm", "deny")


def _article(parse: Parse, article_goes_on: Callable[[str], bool]) -> bool:
    article = parse.first("article")
    if article is None or article.match != "exact" or len(article.value) < MIN_EARLY_ARTICLE:
        return False
    return not article_goes_on(article.value)


def _quantity(parse: Parse) -> bool:
    quantity = parse.first("quantity") or parse.first("number")
    if quantity is None or not quantity.value.isdigit() or quantity.confidence < 1.0:
        return False
    if not WORD.search(parse.text[quantity.end :]):
        return False  # a bare number may go on: «две … штуки», «две … тысячи»
    value = int(quantity.value)
    return value % 10 != 0 or value == 0  # a round number may go on, unit or not


def _menu(parse: Parse) -> bool:
    if parse.intent in MENU:
        return True
    numbers = parse.values("number")
    return len(numbers) == 1 and numbers[0] in MENU_NUMBERS and not parse.first("article")
