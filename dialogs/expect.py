"""What the dialog expects the caller to say next: one type for the whole bot.

The policy puts an :data:`Expect` in every ``Listen`` action; the voice session turns it into
the end-of-phrase silence (``voice.vad.end_silence_ms``), the recognizer's hint (a plain key:
the speech engines know nothing of dialogs) and the NLU's reading of digits.
"""

from __future__ import annotations

from typing import Literal, get_args

Expect = Literal["menu", "article", "quantity", "yes_no"]
EXPECTS: tuple[Expect, ...] = get_args(Expect)


def check_expect(value: str) -> Expect:
    """``value`` as an :data:`Expect`, or ``ValueError`` naming the known ones."""
    for expect in EXPECTS:
        if value == expect:
            return expect
    raise ValueError(f"unknown expectation {value!r}; known: {', '.join(EXPECTS)}")
