from __future__ import annotations

import pytest

from nlu.articles import ArticleMatcher, edit_distance, single_edit
from nlu.entities import UNSURE_QUANTITY, EntityExtractor
from nlu.names import clean_name, find_name
from nlu.types import Entity
from nlu.yes_no import find_yes_no
from tests.conftest import DEMO_ARTICLES

EXTRACTOR = EntityExtractor(ArticleMatcher(DEMO_ARTICLES))


def found(text: str, entity: str, expect: str | None = None) -> list[str]:
    return [e.value for e in EXTRACTOR.extract(text, expect) if e.entity == entity]


def article(text: str, expect: str | None = "article") -> Entity | None:
    return next((e for e in EXTRACTOR.extract(text, expect) if e.entity == "article"), None)


@pytest.mark.parametrize(
    ("text", "article", "quantity"),
    [
        ("артикул сто двадцать три, две штуки", ["123"], ["2"]),
        ("Артикул 123, две штуки.", ["123"], ["2"]),
        ("артикул сто двадцать три две штуки", ["123"], ["2"]),
        ("артикул 555 и две", ["555"], ["2"]),  # set apart by a word
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
        ("сто двадцать три, нет, пятьсот пятьдесят пять", ["555"], []),
        ("артикул 123, нет, 1245", ["1245"], []),
        ("Артику 123", ["123"], []),
        # all dictated digits are the article: no quantity split off the end
        ("артикул 123 две", ["1232"], []),
        ("четыре пять один два три", ["45123"], []),
        ("4500 12", ["450012"], []),
    ],
)
def test_article_and_quantity(text: str, article: list[str], quantity: list[str]) -> None:
    assert found(text, "article", "article") == article
    assert found(text, "quantity", "article") == quantity


@pytest.mark.parametrize(
    ("text", "heard", "match", "suggestion", "edit"),
    [
        ("артикул 4512", "4512", "exact", None, None),
        ("четыре пять один два три", "45123", "near", "4512", "added"),  # one digit more
        ("сорок пять тринадцать", "4513", "near", "4512", "changed"),
        ("артикул 77150", "77150", "near", "7715", "added"),
        ("семь семь один", "771", "near", "7715", "dropped"),
        ("артикул 1254", "1254", "near", "1245", "swapped"),
        ("4500 12", "450012", "near", "4512", "split"),  # a split cardinal
        ("стой двадцать три", "123", "near", "123", "respelled"),  # «сто» misheard
        ("артикул 98765", "98765", "none", None, None),
        ("артикул 313370", "313370", "near", "31337", "added"),  # longer than any article
        ("артикул 3133", "3133", "near", "31337", "dropped"),  # shorter
    ],
)
def test_article_against_the_catalog(
    text: str, heard: str, match: str, suggestion: str | None, edit: str | None
) -> None:
    entity = article(text)
    assert entity is not None
    assert (entity.value, entity.match, entity.suggestion, entity.edit) == (
        heard,
        match,
        suggestion,
        edit,
    )
    if match == "near":
        assert entity.distance in (0, 1) and entity.confidence < 1.0


def test_two_articles_equally_near_give_no_suggestion() -> None:
    extractor = EntityExtractor(ArticleMatcher(["1212", "1313"]))
    entity = next(e for e in extractor.extract("артикул 1213", "article") if e.entity == "article")
    assert (entity.match, entity.suggestion) == ("none", None)


def test_split_groups_are_resolved_against_the_catalog() -> None:
    extractor = EntityExtractor(ArticleMatcher(["142", "100"]))
    entity = next(e for e in extractor.extract("100 42", "article") if e.entity == "article")
    assert (entity.value, entity.match, entity.suggestion, entity.edit) == (
        "10042",
        "near",
        "142",
        "split",
    )


def test_merged_groups_are_resolved_against_the_catalog() -> None:
    extractor = EntityExtractor(ArticleMatcher(["10023"]))
    entity = next(
        e for e in extractor.extract("сто двадцать три", "article") if e.entity == "article"
    )
    assert (entity.value, entity.suggestion, entity.edit) == ("123", "10023", "merged")


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("двадцать пять", "25"),
        ("один два", "12"),  # dictated digits are one number, never the last digit
        ("два пять штук", "25"),
        ("100 42", "142"),
        ("сто 23", "123"),
        ("2 тысячи 500", "2500"),
        ("полторы тысячи", "1500"),
        ("двадцать, нет, тридцать", "30"),
        ("пять штук", "5"),
    ],
)
def test_quantity_prompt_reads_the_whole_number(text: str, quantity: str) -> None:
    assert found(text, "quantity", "quantity") == [quantity]
    assert found(text, "article", "quantity") == []


@pytest.mark.parametrize(
    ("text", "quantity", "sure"),
    [
        ("7", "7", True),
        ("семь штук", "7", True),
        ("двадцать пять", "25", True),  # one number in words
        ("6 шесть.", "6", False),  # Whisper's echo in digits and words: read once
        ("шесть 6", "6", False),
        ("50, 8.", "58", False),  # regrouped
        ("50,8.", "8", False),  # the last of two numbers apart: never surely
        ("2 2", "22", False),  # joined digits
        ("66 66", "66", False),  # an echo dropped
        ("один два", "12", False),
    ],
)
def test_a_quantity_read_from_several_numbers_is_unsure(
    text: str, quantity: str, sure: bool
) -> None:
    entity = next(e for e in EXTRACTOR.extract(text, "quantity") if e.entity == "quantity")
    assert entity.value == quantity
    assert (entity.confidence == 1.0) is sure
    assert sure or entity.confidence == UNSURE_QUANTITY


def test_quantity_prompt_takes_an_article_only_after_the_keyword() -> None:
    assert found("артикул 555", "article", "quantity") == ["555"]
    assert found("артикул 555", "quantity", "quantity") == []


def test_half_is_a_fraction_not_a_quantity() -> None:
    for expect in ("quantity", "article", None):
        assert found("полторы", "quantity", expect) == []
        assert found("полторы", "fraction", expect) == ["1.5"]
    assert found("две с половиной штуки", "fraction", "quantity") == ["2.5"]


def test_yes_no_prompt_reads_a_number_both_ways() -> None:
    entities = EXTRACTOR.extract("нет, 4513", "yes_no")
    kinds = {(e.entity, e.value) for e in entities}
    assert {("yes_no", "no"), ("article", "4513"), ("quantity", "4513")} <= kinds
    # a bare number that matches no article is only a quantity there
    assert found("нет, пять", "article", "yes_no") == []
    assert found("нет, пять", "quantity", "yes_no") == ["5"]


def test_menu_gives_no_article_for_a_menu_key() -> None:
    assert found("один", "article", "menu") == []
    assert found("артикул 99999", "article", "menu") == ["99999"]  # said as an article


def test_number_entities_are_every_number_with_offsets() -> None:
    text = "Артикул 123, две штуки."
    numbers = [e for e in EXTRACTOR.extract(text) if e.entity == "number"]
    assert [(n.value, text[n.start : n.end]) for n in numbers] == [("123", "123"), ("2", "две")]


def test_unknown_article_is_heard_with_no_match_but_still_a_number() -> None:
    entity = article("артикул девяносто восемь тысяч семьсот шестьдесят пять")
    assert entity is not None and (entity.value, entity.match) == ("98765", "none")
    assert found("артикул девятьсот девяносто девять", "number") == ["999"]


def test_without_catalog_no_article() -> None:
    assert [e for e in EntityExtractor().extract("артикул 123") if e.entity == "article"] == []


def test_article_json_carries_the_suggestion() -> None:
    entity = article("сорок пять тринадцать")
    assert entity is not None
    data = entity.to_json()
    assert data["value"] == "4513"
    assert (data["match"], data["suggestion"], data["distance"], data["edit"]) == (
        "near",
        "4512",
        1,
        "changed",
    )
    exact = article("артикул 4512")
    assert exact is not None and "suggestion" not in exact.to_json()


def test_order_edit() -> None:
    assert found("уберите швабру", "order_edit") == ["drop"]
    assert found("удалить перчатки", "order_edit") == ["drop"]
    assert found("изменить количество", "order_edit") == ["quantity"]
    assert found("да, всё верно", "order_edit") == []


def test_edit_distance() -> None:
    assert edit_distance("1245", "1245") == 0
    assert edit_distance("1245", "1246") == 1
    assert edit_distance("1245", "125") == 1
    assert edit_distance("12", "21") == 2


@pytest.mark.parametrize(
    ("heard", "article", "kind"),
    [
        ("1246", "1245", "changed"),
        ("125", "1245", "dropped"),
        ("12455", "1245", "added"),
        ("1254", "1245", "swapped"),
        ("1245", "1245", None),
        ("1200", "1245", None),
        ("2145", "1254", None),
    ],
)
def test_single_edit(heard: str, article: str, kind: str | None) -> None:
    assert single_edit(heard, article) == kind


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
