from __future__ import annotations

import csv

import pytest

from nlu.phones import normalize_phone, parse_phone
from tests.conftest import PEER_TESTS

PHONES = PEER_TESTS / "phones_ru.tsv"


def peer_rows() -> list[dict[str, str]]:
    assert PHONES.exists(), f"peer test data missing: {PHONES} (shared/ beside the checkout)"
    with PHONES.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def region_of(row: dict[str, str]) -> str | None:
    region = row["default_region"].strip()
    if not region:
        return None
    # "calling code 7": libphonenumber-js's defaultCallingCode, Russia for us.
    return "RU" if region.startswith("calling code 7") else region


def test_peer_phone_numbers() -> None:
    rows = peer_rows()
    assert len(rows) >= 30
    misses = []
    for number, row in enumerate(rows, start=2):
        phone = parse_phone(row["input"], region_of(row))
        got = (phone.national, phone.extension or "") if phone else ("", "")
        expected = (row["expected_national_number"], row["expected_extension"])
        if got != expected:
            misses.append((number, row["input"], got, expected))
    assert not misses, misses


@pytest.mark.parametrize(
    ("raw", "last10"),
    [
        ("+79607775577", "9607775577"),
        ("89607775577", "9607775577"),
        ("79607775577", "9607775577"),
        ("8 (960) 777-55-77", "9607775577"),
        ("0' OR '1'='1", None),
        ("1234567", None),  # a city number without its code: no shop key, an unknown caller
        ("+7 (423) 202-25-11", "4232022511"),
        ("", None),
    ],
)
def test_normalize_to_last_ten_digits(raw: str, last10: str | None) -> None:
    assert normalize_phone(raw) == last10
