"""Numbers as Whisper writes them from telephone speech (the human set of ``bench
recognition``), and the runner-up hypotheses of a beam search read against the catalog."""

from __future__ import annotations

import pytest

from nlu.articles import ArticleMatcher
from nlu.engine import NluEngine
from nlu.entities import EntityExtractor
from nlu.types import Entity


def article(articles: list[str], text: str, expect: str = "article") -> Entity:
    extractor = EntityExtractor(ArticleMatcher(articles))
    found = [e for e in extractor.extract(text, expect) if e.entity == "article"]
    assert found, text
    return found[0]


def quantity(text: str) -> str | None:
    found = [e for e in EntityExtractor().extract(text, "quantity") if e.entity == "quantity"]
    return found[0].value if found else None


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("№2.1.5.0.7", "21507"),  # dictated digits with bare dots
        ("21.7.9", "2179"),
        ("№24,97,16", "249716"),
        ("- 1,191", "1191"),
        ("Номер тысяча-100-191.", "1000100191"),  # as written: the catalog decides
    ],
)
def test_bare_marks_join_digits_at_the_article_prompt(text: str, digits: str) -> None:
    assert article(["999"], text).value == digits


def test_bare_marks_are_not_joined_where_no_article_is_dictated() -> None:
    extractor = EntityExtractor(ArticleMatcher(["2179"]))
    numbers = [e.value for e in extractor.extract("21.7.9", None) if e.entity == "number"]
    assert numbers == ["21", "7", "9"]
    assert not [e for e in extractor.extract("21.7.9", None) if e.entity == "article"]


def test_the_numero_sign_and_whispers_spellings_of_nomer_are_the_article_keyword() -> None:
    assert article(["008"], "Номя 0 0 8").value == "008"  # not «ноля»: one letter off
    assert article(["008"], "Номя 0 0 8").match == "exact"
    extractor = EntityExtractor(ArticleMatcher(["555"]))
    found = {e.entity: e.value for e in extractor.extract("№ 555", "quantity")}
    assert found.get("article") == "555" and "quantity" not in found  # a correction


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("66 66", "66"),  # a number written twice is said once
        ("17. 17.", "17"),
        ("17 17 17", "17"),
        ("40-48", "48"),  # the round ten first: an echo
        ("80, 5", "85"),  # split groups still join
        ("Девяноста. Два.", "92"),
        ("один два", "12"),  # dictated digits stay one number
        ("пять пять", "55"),
        ("двадцать двадцать пять", "25"),
    ],
)
def test_whispers_echoes_at_the_quantity_prompt(text: str, value: str) -> None:
    assert quantity(text) == value


@pytest.mark.parametrize(
    ("catalog", "text", "heard", "suggestion", "edit"),
    [
        (["1228"], "12-12-28", "121228", "1228", "repeated"),
        (["00591"], "0 0 5 9 1 0 0 5 9 1", "0059100591", "00591", "repeated"),
        (["159493"], "Номер 15. 1994. 1993.", "1519941993", "159493", "year"),
        (["44"], "0 0 40 4", "00404", None, None),  # 0044 is not in this catalog
        (["0044"], "0 0 40 4", "00404", "0044", "split"),
    ],
)
def test_echo_readings_are_only_suggestions(
    catalog: list[str], text: str, heard: str, suggestion: str | None, edit: str | None
) -> None:
    entity = article(catalog, text)
    assert entity.value == heard
    if suggestion is None:
        assert entity.match == "none"
    else:
        assert (entity.match, entity.suggestion, entity.edit, entity.distance) == (
            "near",
            suggestion,
            edit,
            0,
        )


# -- runner-up hypotheses -----------------------------------------------------------------


def test_a_runner_up_article_is_a_suggestion_of_what_was_heard(engine: NluEngine) -> None:
    parse = engine.parse("№7716.", "article", ["№ 7715.", "№ 1245."])
    entity = parse.first("article")
    assert entity is not None
    assert (entity.value, entity.match, entity.suggestion, entity.edit) == (
        "7716",
        "near",
        "7715",
        "alternative",
    )
    assert entity.confidence >= 0.6  # offered, not taken


def test_an_exact_best_transcript_is_never_replaced(engine: NluEngine) -> None:
    parse = engine.parse("Артикул 555.", "article", ["Артикул 123."])
    entity = parse.first("article")
    assert entity is not None and (entity.value, entity.match) == ("555", "exact")


def test_runner_ups_without_a_catalog_article_change_nothing(engine: NluEngine) -> None:
    plain = engine.parse("Стой письм.", "article")
    assert engine.parse("Стой письм.", "article", ["Стой пием!"]) == plain


def test_a_runner_up_fills_an_article_the_best_transcript_missed(engine: NluEngine) -> None:
    entity = engine.parse("Стой письм.", "article", ["Стой пием!", "Артикул 123."]).first("article")
    assert entity is not None
    assert (entity.match, entity.suggestion, entity.edit) == ("near", "123", "alternative")


def test_runner_ups_never_override_another_meaning(engine: NluEngine) -> None:
    parse = engine.parse("соедините с оператором", "article", ["Артикул 123."])
    assert parse.intent == "ask_operator" and parse.first("article") is None
    denied = engine.parse("нет", "quantity", ["5."])
    assert denied.first("quantity") is None


def test_a_runner_up_quantity_only_when_no_number_was_heard(engine: NluEngine) -> None:
    found = engine.parse("Синг!", "quantity", ["Син?", "Пять."]).first("quantity")
    assert found is not None and found.value == "5"
    heard = engine.parse("3 штуки", "quantity", ["5 штук"]).first("quantity")
    assert heard is not None and heard.value == "3"
