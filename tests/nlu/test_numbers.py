"""Tests for nlu.numbers: Russian spoken numbers to digits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nlu.numbers import NumberSpan, find_numbers, parse_cardinal

# ---------------------------------------------------------------------------------------
# Peer test data: cardinals from NeMo, number-parser, duckling and ovos-number-parser.
# ---------------------------------------------------------------------------------------

PEER_NUMBERS = (
    Path(__file__).resolve().parents[2].parent / "shared" / "peer-tests" / "numbers_ru.tsv"
)
MIN_PEER_PASS_SHARE = 0.98

# Rows of numbers_ru.tsv (line numbers, the header being line 1) that parse_cardinal is
# allowed to get wrong, each with the reason. Empty: every row passes. A row that fails
# without being listed here fails the test, and so does a listed row that now passes.
TOLERATED_MISSES: dict[int, str] = {}


def _load_peer_rows() -> list[tuple[int, str, str]]:
    if not PEER_NUMBERS.is_file():
        pytest.fail(
            f"peer test data not found at {PEER_NUMBERS}; it lives beside the project "
            "checkout in ../shared/peer-tests/ (do not copy it into the project)"
        )
    lines = PEER_NUMBERS.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[:2] == ["spoken", "expected"], f"unexpected header {lines[0]!r}"
    rows = []
    for line_no, line in enumerate(lines[1:], start=2):
        if line.strip():
            spoken, expected = line.split("\t")[:2]
            rows.append((line_no, spoken, expected))
    return rows


def test_peer_cardinals() -> None:
    rows = _load_peer_rows()
    assert len(rows) >= 100, f"only {len(rows)} rows in {PEER_NUMBERS}"
    misses: dict[int, str] = {}
    for line_no, spoken, expected in rows:
        got = parse_cardinal(spoken)
        if got is None or str(got) != expected:
            misses[line_no] = f"{spoken!r}: expected {expected}, got {got}"
    passed = len(rows) - len(misses)
    print(f"peer cardinals: {passed}/{len(rows)} passed")
    for line_no, miss in misses.items():
        print(f"  line {line_no}: {miss}")

    unexpected = {n: m for n, m in misses.items() if n not in TOLERATED_MISSES}
    assert not unexpected, f"rows failing that are not in TOLERATED_MISSES: {unexpected}"
    stale = sorted(set(TOLERATED_MISSES) - set(misses))
    assert not stale, f"rows in TOLERATED_MISSES that now pass (remove them): {stale}"
    assert passed / len(rows) >= MIN_PEER_PASS_SHARE


# ---------------------------------------------------------------------------------------
# parse_cardinal
# ---------------------------------------------------------------------------------------

# Every form the grammar promises, by value.
FORMS: dict[int, str] = {
    0: "ноль нуль ноля нуля",
    1: "один одна одно одного одной одному одним одном одну одною одни одних",
    2: "два две двух двум двумя",
    3: "три трех трем тремя трёх трём",
    4: "четыре четырех четырем четырьмя четырёх",
    5: "пять пяти пятью",
    6: "шесть шести шестью",
    7: "семь семи семью",
    8: "восемь восьми восемью восьмью",
    9: "девять девяти девятью",
    10: "десять десяти десятью",
    11: "одиннадцать одиннадцати одиннадцатью",
    12: "двенадцать двенадцати двенадцатью",
    19: "девятнадцать девятнадцати девятнадцатью",
    20: "двадцать двадцати двадцатью",
    40: "сорок сорока",
    50: "пятьдесят пятидесяти пятьюдесятью",
    60: "шестьдесят шестидесяти шестьюдесятью",
    80: "восемьдесят восьмидесяти восемьюдесятью",
    90: "девяносто девяноста",
    100: "сто ста",
    200: "двести двухсот двумстам двумястами двухстах",
    300: "триста трехсот тремстам тремястами трехстах трёхсот",
    400: "четыреста четырехсот четыремстам четырьмястами четырехстах",
    500: "пятьсот пятисот пятистам пятьюстами пятистах",
    800: "восемьсот восьмисот восьмистам восемьюстами восьмистах",
    900: "девятьсот девятисот девятистам девятьюстами девятистах",
    1000: "тысяча тысячи тысяч тысяче тысячу тысячей тысячею тысячам тысячами тысячах",
    1_000_000: "миллион миллиона миллиону миллионом миллионе миллионов миллионами",
}


@pytest.mark.parametrize(
    ("word", "value"),
    [(word, value) for value, words in FORMS.items() for word in words.split()],
)
def test_parse_cardinal_every_form(word: str, value: int) -> None:
    assert parse_cardinal(word) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("двухсот пятидесяти шести", 256),
        ("одной тысячи", 1000),
        ("тысяча", 1000),
        ("двадцать три тысячи сто", 23100),
        ("две тысячи двадцать", 2020),
        ("два миллиона триста тысяч", 2_300_000),
        ("девять миллионов девятьсот девяносто девять тысяч девятьсот девяносто девять", 9_999_999),
        ("миллион тысяча пятьсот", 1_001_500),
        ("сто десять", 110),
        ("Двести пятьдесят шесть.", 256),
        ("ТРЁХСОТ", 300),
        ("256", 256),
        (" 256 ", 256),
        ("007", 7),
        ("5 тысяч", 5000),
        ("пару", 2),
    ],
)
def test_parse_cardinal(text: str, value: int) -> None:
    assert parse_cardinal(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "здравствуйте",
        "сто штук",
        "штук сто",
        "двадцать тридцать",
        "двенадцать сорок пять",
        "три два",
        "сто, двадцать",
        "одинаковый",
        "12 сорок",
        "77-15",
    ],
)
def test_parse_cardinal_rejects(text: str) -> None:
    assert parse_cardinal(text) is None


# ---------------------------------------------------------------------------------------
# find_numbers
# ---------------------------------------------------------------------------------------

# text -> [(value, the original text of the span, kind), ...]
FIND_CASES: list[tuple[str, list[tuple[str, str, str]]]] = [
    # the examples of the spec
    (
        "артикул сто двадцать три две штуки",
        [("123", "сто двадцать три", "words"), ("2", "две", "words")],
    ),
    ("Артикул 123, две штуки.", [("123", "123", "digits"), ("2", "две", "words")]),
    ("двенадцать сорок пять", [("12", "двенадцать", "words"), ("45", "сорок пять", "words")]),
    ("один два три", [("1", "один", "words"), ("2", "два", "words"), ("3", "три", "words")]),
    ("ноль ноль семь", [("0", "ноль", "words"), ("0", "ноль", "words"), ("7", "семь", "words")]),
    ("двадцать три тысячи сто", [("23100", "двадцать три тысячи сто", "words")]),
    ("две тысячи двадцать", [("2020", "две тысячи двадцать", "words")]),
    ("12 сорок", [("12", "12", "digits"), ("40", "сорок", "words")]),
    ("123", [("123", "123", "digits")]),
    ("77-15", [("77", "77", "digits"), ("15", "15", "digits")]),
    ("тысяча", [("1000", "тысяча", "words")]),
    ("тысячу", [("1000", "тысячу", "words")]),
    ("миллион", [("1000000", "миллион", "words")]),
    ("два миллиона триста тысяч", [("2300000", "два миллиона триста тысяч", "words")]),
    ("одной тысячи", [("1000", "одной тысячи", "words")]),
    # a slot filled twice starts a new group
    ("три два", [("3", "три", "words"), ("2", "два", "words")]),
    ("двадцать тридцать", [("20", "двадцать", "words"), ("30", "тридцать", "words")]),
    ("сто двести", [("100", "сто", "words"), ("200", "двести", "words")]),
    ("пятнадцать три", [("15", "пятнадцать", "words"), ("3", "три", "words")]),
    ("пять двадцать", [("5", "пять", "words"), ("20", "двадцать", "words")]),
    ("тысяча тысяча", [("1000", "тысяча", "words"), ("1000", "тысяча", "words")]),
    ("тысяча две тысячи", [("1000", "тысяча", "words"), ("2000", "две тысячи", "words")]),
    # digits: leading zeros kept, one span per digit run, a short run takes a multiplier
    ("артикул 007", [("007", "007", "digits")]),
    ("1,5", [("1", "1", "digits"), ("5", "5", "digits")]),
    ("на 5 тысяч рублей", [("5000", "5 тысяч", "digits")]),
    ("12345", [("12345", "12345", "digits")]),
    ("5шт", [("5", "5", "digits")]),
    # colloquial quantities
    ("дайте пару штук", [("2", "пару", "colloquial")]),
    ("пара носков", [("2", "пара", "colloquial")]),
    ("парочку", [("2", "парочку", "colloquial")]),
    ("десяток яиц", [("10", "десяток", "colloquial")]),
    ("полдесятка нет, десятка", [("10", "десятка", "colloquial")]),
    ("полдюжины", [("6", "полдюжины", "colloquial")]),
    ("дюжину", [("12", "дюжину", "colloquial")]),
    ("дюжина", [("12", "дюжина", "colloquial")]),
    ("сотню", [("100", "сотню", "colloquial")]),
    ("сотня", [("100", "сотня", "colloquial")]),
    ("пяток", [("5", "пяток", "colloquial")]),
    ("пару тысяч", [("2000", "пару тысяч", "colloquial")]),
    ("сто пару", [("100", "сто", "words"), ("2", "пару", "colloquial")]),
    # zero forms
    ("нуль", [("0", "нуль", "words")]),
    ("без ноля", [("0", "ноля", "words")]),
    ("нуля", [("0", "нуля", "words")]),
    # ё, capitals, punctuation attached to words
    ("Трёхсот пятидесяти", [("350", "Трёхсот пятидесяти", "words")]),
    ("ЧЕТЫРЁХ", [("4", "ЧЕТЫРЁХ", "words")]),
    ("Двадцать пять штук", [("25", "Двадцать пять", "words")]),
    ("Ещё три, пять.", [("3", "три", "words"), ("5", "пять", "words")]),
    ("двадцать, три", [("20", "двадцать", "words"), ("3", "три", "words")]),
    ("«семь»", [("7", "семь", "words")]),
    # negative cases: no numbers, or words that merely contain number stems
    ("здравствуйте, хочу заказать", []),
    ("одинаковый", []),
    ("сотрудник трижды сказал", []),
    ("стопка сорокин пятерка десятков", []),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), FIND_CASES)
def test_find_numbers(text: str, expected: list[tuple[str, str, str]]) -> None:
    spans = find_numbers(text)
    assert [(s.value, text[s.start : s.end], s.kind) for s in spans] == expected


def test_find_numbers_offsets_are_into_the_original_text() -> None:
    assert find_numbers("Артикул 123, две штуки.") == [
        NumberSpan("123", 8, 11, "digits"),
        NumberSpan("2", 13, 16, "words"),
    ]
    # ё and capitals are normalised for look-up only
    assert find_numbers("Ещё ДВЕ") == [NumberSpan("2", 4, 7, "words")]


# ---------------------------------------------------------------------------------------
# speed
# ---------------------------------------------------------------------------------------


def test_find_numbers_is_fast() -> None:
    text = "Здравствуйте, мне артикул сто двадцать три, две штуки"
    calls = 2000
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            find_numbers(text)
        best = min(best, (time.perf_counter() - started) / calls)
    assert best < 0.2e-3, f"find_numbers took {best * 1e6:.1f} µs per call"


# ---------------------------------------------------------------------------------------
# numbers as recognizers and people write them (issue 16)
# ---------------------------------------------------------------------------------------

WRITTEN_CASES: list[tuple[str, list[str]]] = [
    # digits after a scale word fill its free slots
    ("сто 23", ["123"]),
    ("тысяча 135", ["1135"]),
    ("2 тысячи 500", ["2500"]),
    ("418 тысяч 531", ["418531"]),
    ("двадцать 5", ["25"]),
    ("сто 200", ["100", "200"]),  # no room left for 200
    ("сто 023", ["100", "023"]),  # a leading zero is dictation
    ("100 42", ["100", "42"]),  # two digit runs stay two numbers (the article reads both ways)
    # тыща, сотни
    ("тыща", ["1000"]),
    ("две тыщи триста", ["2300"]),
    ("три сотни", ["300"]),
    ("пять сотен двадцать", ["520"]),
    ("5 сотен", ["500"]),
    ("пару сотен", ["200"]),
    ("сотня", ["100"]),
    ("сотни товаров", []),
    ("тысяча миллионов", ["1000000000"]),
    ("сто тридцать-пять", ["135"]),  # a hyphen between the words of one number
    ("пять-шесть штук", ["5", "6"]),  # a range is two numbers
    # полтора / с половиной: whole only before a multiplier
    ("полторы тысячи", ["1500"]),
    ("полтора миллиона", ["1500000"]),
    ("полторы сотни", ["150"]),
    ("две с половиной тысячи", ["2500"]),
    ("полтора", ["1.5"]),
    ("две с половиной", ["2.5"]),
    # merged and misspelled number words
    ("двадцатьпять", ["25"]),
    ("стодвадцать три", ["123"]),
    ("тристапятьдесят", ["350"]),
    ("дветысячи", ["2000"]),
    ("пятьдесять", ["50"]),
    ("четыриста", ["400"]),
    ("семсот", ["700"]),
    ("девиносто", ["90"]),
    ("двеннадцать", ["12"]),
    ("двадцат пять", ["25"]),
    ("пять тысячь", ["5000"]),
    ("дви тисичи двадцить тре", ["2023"]),
    # never a number out of a real word or a name
    ("сорокин", []),
    ("десятков", []),
    ("семён", []),
    ("спросите Семёна", []),
    ("мне Двадцат", []),  # capitalised mid-sentence: a name
    ("пятерка", []),
    ("стой", []),
    ("стоп двадцать", ["20"]),  # «стоп» is «сто» only where an article is expected
    ("тре", []),  # three letters and no number beside it: not fixed
]


@pytest.mark.parametrize(("text", "values"), WRITTEN_CASES)
def test_numbers_as_written(text: str, values: list[str]) -> None:
    assert [s.value for s in find_numbers(text)] == values


def test_fixed_spans_are_marked() -> None:
    assert [s.fixed for s in find_numbers("двадцат пять, сто")] == [True, False]
    assert find_numbers("полтора")[0].kind == "fraction"
    assert parse_cardinal("полтора") is None
    assert parse_cardinal("полторы тысячи") == 1500


def test_hundred_homophones_only_before_a_number() -> None:
    spans = find_numbers("стой двадцать три", hundred_homophones=True)
    assert [(s.value, s.fixed) for s in spans] == [("123", True)]
    assert find_numbers("стоп", hundred_homophones=True) == []
    assert [s.value for s in find_numbers("стоп, двадцать", hundred_homophones=True)] == ["20"]
