"""Number-noun agreement: one implementation for the verbalizer and the dialogs."""

from __future__ import annotations

import pytest

from dialogs.russian import quantity_phrase
from nlu.agreement import agree
from nlu.verbalize import verbalize


@pytest.mark.parametrize(
    ("n", "noun", "case", "expected"),
    [
        (1, "штука", "accs", "штуку"),
        (2, "штука", "accs", "штуки"),
        (5, "штука", "accs", "штук"),
        (11, "штука", "accs", "штук"),
        (21, "штука", "accs", "штуку"),
        (22, "упаковка", "nomn", "упаковки"),
        (3, "банка", "accs", "банки"),  # a jar, not a bank («банк»)
        (0, "банка", "nomn", "банок"),
        (2000, "пара", "accs", "пар"),
        (1, "шт", "accs", "штуку"),
        (4, "уп.", "nomn", "упаковки"),
        (2, "комплект", "ablt", "комплектами"),
    ],
)
def test_agree(n: int, noun: str, case: str, expected: str) -> None:
    assert agree(n, noun, case) == expected


def test_the_dialog_and_the_verbalizer_agree_alike() -> None:
    for n in (1, 2, 5, 21, 104, 1000):
        phrase = quantity_phrase(n, "банка")
        spoken = verbalize(f"Вы хотите заказать {phrase}?")
        assert phrase.split()[1] in spoken, (phrase, spoken)
