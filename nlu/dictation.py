"""Numbers said one after another: a dictated article («двенадцать сорок пять», «1, 2, 3»).

:func:`dictation_runs` groups the numbers :func:`nlu.numbers.find_numbers` found in a text
into runs said in turn (nothing but whitespace, hyphens or punctuation between them), and
:func:`join_digits` writes a run as the digits it dictates ([12, 45] -> "1245").
"""

from __future__ import annotations

from typing import Final

from nlu.numbers import NumberSpan, find_numbers

__all__ = ["dictation_runs", "join_digits"]

_RUN_GAP_MARKS: Final = frozenset("-\u2010\u2011\u2012\u2013\u2014,.")
_RUN_GAP_PUNCT: Final = frozenset(",.")


def _joins_run(gap: str, tight: bool = False) -> bool:
    """Whether two numbers separated by ``gap`` were said one after another."""
    if not all(c in _RUN_GAP_MARKS or c.isspace() for c in gap):
        return False
    # A comma or period only with whitespace: "1, 2, 3" is a run, "1,5" and "12.45" are not
    # (unless ``tight``: where only digits are dictated, «21.7.9» is 21, 7, 9 said in turn).
    return tight or _RUN_GAP_PUNCT.isdisjoint(gap) or any(c.isspace() for c in gap)


def dictation_runs(
    text: str, spans: list[NumberSpan] | None = None, *, tight: bool = False
) -> list[list[NumberSpan]]:
    """Group the numbers of ``text`` said one after another into runs.

    Two spans are in one run when only whitespace, hyphens, or commas/periods with
    whitespace separate them (with ``tight``, also a bare comma or period: «№2.1.5.0.7»,
    «24,97,16», as Whisper writes dictated digits where no decimal can be meant). Every span
    is in exactly one run; colloquial quantities (пару, дюжину, ...) and fractions are never
    dictation and always make a run of their own. ``spans`` defaults to
    :func:`find_numbers` of ``text``.

    >>> [join_digits(run) for run in dictation_runs("артикул двенадцать сорок пять")]
    ['1245']
    """
    if spans is None:
        spans = find_numbers(text)
    runs: list[list[NumberSpan]] = []
    current: list[NumberSpan] = []
    alone = ("colloquial", "fraction")
    for span in spans:
        if (
            current
            and span.kind not in alone
            and current[-1].kind not in alone
            and _joins_run(text[current[-1].end : span.start], tight)
        ):
            current.append(span)
            continue
        if current:
            runs.append(current)
        current = [span]
    if current:
        runs.append(current)
    return runs


def join_digits(run: list[NumberSpan]) -> str:
    """The digits of a dictation run, in order: [1, 2, 3] -> "123", [0, 0, 7] -> "007"."""
    return "".join(span.value for span in run)
