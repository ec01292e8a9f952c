"""Numbers said one after another (``nlu.dictation``): runs of a dictated article."""

from __future__ import annotations

import pytest

from nlu.dictation import dictation_runs, join_digits
from nlu.numbers import NumberSpan, find_numbers

# text -> joined digits of each run
RUN_CASES: list[tuple[str, list[str]]] = [
    ("один два три", ["123"]),
    ("двенадцать сорок пять", ["1245"]),
    ("ноль ноль семь", ["007"]),
    ("77-15", ["7715"]),
    ("семь – восемь", ["78"]),
    ("артикул 12 сорок", ["1240"]),
    ("Один, два, три.", ["123"]),
    ("1, 2, 3", ["123"]),
    ("1,5", ["1", "5"]),
    ("12.45", ["12", "45"]),
    ("артикул сто двадцать три две штуки", ["1232"]),
    ("артикул двенадцать и сорок пять", ["12", "45"]),
    ("пару один два", ["2", "12"]),
    ("здравствуйте", []),
]


@pytest.mark.parametrize(("text", "expected"), RUN_CASES)
def test_dictation_runs(text: str, expected: list[str]) -> None:
    runs = dictation_runs(text)
    assert [join_digits(run) for run in runs] == expected
    # every span is in exactly one run, in order
    assert [span for run in runs for span in run] == find_numbers(text)


def test_dictation_runs_uses_given_spans() -> None:
    text = "один два три"
    spans = find_numbers(text)
    runs = dictation_runs(text, spans[1:])
    assert runs == [spans[1:]]
    assert join_digits(runs[0]) == "23"


def test_join_digits() -> None:
    run = [NumberSpan("0", 0, 4, "words"), NumberSpan("0", 5, 9, "words")]
    assert join_digits([*run, NumberSpan("7", 10, 14, "words")]) == "007"
    assert join_digits([]) == ""
