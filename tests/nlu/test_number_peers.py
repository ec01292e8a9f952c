"""Russian text-to-number test cases of other open-source projects, beyond the shared set.

``fixtures/numbers_ru_more_peers.tsv`` (see ``fixtures/README.md``): ``text``, ``expected``,
``kind``, ``source`` (repository:path of the test file each row comes from). Kinds:

- ``cardinal``: the whole text is one number (:func:`parse_cardinal`);
- ``first``: the first number found in a sentence (:func:`find_numbers`);
- ``all``: every number found, space-separated;
- ``none``: no number in the text; ``reject``: the text is not one number;
- ``dictation``: digits said one by one are one dictation run with these digits.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from nlu.dictation import dictation_runs, join_digits
from nlu.numbers import find_numbers, parse_cardinal

FIXTURE = Path(__file__).parent / "fixtures" / "numbers_ru_more_peers.tsv"
KINDS = {"cardinal", "first", "all", "none", "reject", "dictation"}

# Rows (line numbers, the header being line 1) allowed to fail, each with the reason.
# Empty: every row passes. A listed row that passes fails the test too.
TOLERATED_MISSES: dict[int, str] = {}


def load_rows() -> list[tuple[int, dict[str, str]]]:
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        assert reader.fieldnames == ["text", "expected", "kind", "source"]
        return list(enumerate(reader, start=2))


def reading(kind: str, text: str) -> str | None:
    if kind == "cardinal":
        value = parse_cardinal(text)
        return None if value is None else str(value)
    if kind == "reject":
        return "" if parse_cardinal(text) is None else "a number"
    spans = find_numbers(text)
    if kind == "first":
        return spans[0].value if spans else None
    if kind == "all":
        return " ".join(s.value for s in spans)
    if kind == "none":
        return "" if not spans else " ".join(s.value for s in spans)
    runs = dictation_runs(text, spans)
    return join_digits(runs[0]) if len(runs) == 1 else None


def test_the_fixture_is_well_formed() -> None:
    rows = load_rows()
    assert len(rows) >= 500
    for line, row in rows:
        assert row["kind"] in KINDS, line
        assert ":" in row["source"] and "/" in row["source"].split(":")[0], line
        assert row["expected"] or row["kind"] in ("none", "reject"), line
    assert len({row["source"].split(":")[0] for _, row in rows}) >= 8


def test_more_peer_numbers() -> None:
    rows = load_rows()
    misses = {
        line: f"{row['text']!r}: expected {row['expected']!r}, got {got!r} ({row['source']})"
        for line, row in rows
        if (got := reading(row["kind"], row["text"])) != row["expected"]
    }
    print(f"more peer numbers: {len(rows) - len(misses)}/{len(rows)} passed")
    unexpected = {n: m for n, m in misses.items() if n not in TOLERATED_MISSES}
    assert not unexpected, unexpected
    assert not sorted(set(TOLERATED_MISSES) - set(misses)), "tolerated rows that now pass"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_reading_can_fail(kind: str) -> None:
    wrong = {"cardinal": "сто", "first": "сто", "all": "сто два", "none": "сто"}
    text = wrong.get(kind, "сто")
    expected = {"cardinal": "101", "first": "101", "all": "100 3", "none": ""}.get(kind, "x")
    assert reading(kind, text) != expected
