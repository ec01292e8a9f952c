from __future__ import annotations

import pytest

from nlu.articles import ArticleMatcher, edit_distance
from nlu.entities import EntityExtractor
from nlu.names import clean_name, find_name
from nlu.yes_no import find_yes_no
from tests.conftest import DEMO_ARTICLES

EXTRACTOR = EntityExtractor(ArticleMatcher(DEMO_ARTICLES))


def found(text: str, entity: str) -> list[str]:
    return [e.value for e in EXTRACTOR.extract(text) if e.entity == entity]


@pytest.mark.parametrize(
    ("text", "article", "quantity"),
    [
        ("артикул сто двадцать три, две штуки", ["123"], ["2"]),
        ("Артикул 123, две штуки.", ["123"], ["2"]),
        ("артикул сто двадцать три две штуки", ["123"], ["2"]),
        ("артикул 123 две", ["123"], ["2"]),
        ("один два три", ["123"], []),
        ("двенадцать сорок пять, пять штук", ["1245"], ["5"]),
        ("ноль ноль семь", ["007"], []),
        ("Артикул 77-15, количество 3.", ["7715"], ["3"]),
        ("пару коробок артикул четыре тысячи пятьсот двенадцать", ["4512"], ["2"]),
        ("десяток упаковок 555", ["555"], ["10"]),
        ("полдюжины штук", [], ["6"]),
        ("5 шт", [], ["5"]),
        ("двухсот пятидесяти шести штук", [], ["256"]),
        ("хочу сделать заказ", [], []),
        ("4500 12", ["4512"], []),
        ("сто двадцать три, нет, пятьсот пятьдесят пять", ["555"], []),
        ("артикул 123, нет, 1245", ["1245"], []),
        ("Артику 123", ["123"], []),
    ],
)
def test_article_and_quantity(text: str, article: list[str], quantity: list[str]) -> None:
    assert found(text, "article") == article
    assert found(text, "quantity") == quantity


def test_number_entities_are_every_number_with_offsets() -> None:
    text = "Артикул 123, две штуки."
    numbers = [e for e in EXTRACTOR.extract(text) if e.entity == "number"]
    assert [(n.value, text[n.start : n.end]) for n in numbers] == [("123", "123"), ("2", "две")]


def test_unknown_article_is_no_article_but_still_a_number() -> None:
    assert found("артикул девятьсот девяносто девять", "article") == []
    assert found("артикул девятьсот девяносто девять", "number") == ["999"]


def test_near_article_is_matched_with_lower_confidence() -> None:
    entities = [e for e in EXTRACTOR.extract("артикул 4513") if e.entity == "article"]
    assert [e.value for e in entities] == ["4512"]
    assert 0.5 < entities[0].confidence < 1.0


def test_without_catalog_no_article() -> None:
    assert [e for e in EntityExtractor().extract("артикул 123") if e.entity == "article"] == []


def test_edit_distance() -> None:
    assert edit_distance("1245", "1245") == 0
    assert edit_distance("1245", "1246") == 1
    assert edit_distance("1245", "125") == 1
    assert edit_distance("12", "21") == 2


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("да", "yes"),
        ("ага", "yes"),
        ("угу", "yes"),
        ("Конечно!", "yes"),
        ("верно", "yes"),
        ("именно так", "yes"),
        ("нет", "no"),
        ("неа", "no"),
        ("не надо", "no"),
        ("неправильно", "no"),
        ("не верно", "no"),
        ("да нет", "no"),
        ("да нет, не надо", "no"),
        ("хочу сделать заказ", None),
    ],
)
def test_yes_no(text: str, value: str | None) -> None:
    result = find_yes_no(text)
    assert (result.value if result else None) == value


def test_names() -> None:
    name = find_name("меня зовут Анна")
    assert name is not None and name.value == "Анна"
    assert find_name("хочу заказать две штуки") is None
    assert clean_name("Петрова Анна Сергеевна").first_name == "Анна"
    assert clean_name("Петрова Анна Сергеевна").certain
    assert clean_name("мария ивановна").first_name == "Мария"
    assert not clean_name("ООО Ромашка").certain
    assert not clean_name("Анна Мария").certain
