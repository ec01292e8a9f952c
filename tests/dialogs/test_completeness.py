"""Is what the caller said already a complete answer? (the early end of turn asks this)."""

from __future__ import annotations

import pytest

from dialogs.completeness import is_complete
from dialogs.expect import Expect
from nlu.engine import NluEngine


@pytest.mark.parametrize(
    ("text", "expect", "complete"),
    [
        ("да", "yes_no", True),
        ("нет", "yes_no", True),
        ("угу", "yes_no", True),
        ("да, три", "yes_no", False),  # the quantity may be changing
        ("ну", "yes_no", False),
        ("артикул 4512", "article", True),
        ("двенадцать", "article", False),  # not a catalog article
        ("сто двадцать три", "article", True),
        ("две штуки", "quantity", True),
        ("пять", "quantity", False),  # a bare number may go on: «пять … штук», «две … тысячи»
        ("5 штук", "quantity", True),
        ("двадцать пять", "quantity", False),
        ("2 2 штуки", "quantity", False),  # read from several numbers: unsure
        ("двадцать", "quantity", False),  # may become «двадцать пять»
        ("сто", "quantity", False),
        ("десять штук", "quantity", False),  # round: Whisper writes «штук» after «двадцать» alone
        ("двадцать штук", "quantity", False),
        ("двадцать пять штук", "quantity", True),
        ("полторы", "quantity", False),
        ("хочу сделать заказ", "menu", True),
        ("один", "menu", True),
        ("соедините с оператором", "article", True),
        ("", "yes_no", False),
    ],
)
def test_complete_answers(engine: NluEngine, text: str, expect: Expect, complete: bool) -> None:
    parse = engine.parse(text, expect)
    assert is_complete(parse, expect, engine.article_goes_on) is complete, parse


def test_an_article_a_longer_catalog_article_continues_is_not_complete(engine: NluEngine) -> None:
    engine.set_articles(["12", "1245"])
    try:
        assert engine.article_goes_on("12") and not engine.article_goes_on("1245")
        parse = engine.parse("двенадцать", "article")
        assert not is_complete(parse, "article", engine.article_goes_on)
        assert is_complete(
            engine.parse("двенадцать сорок пять", "article"), "article", engine.article_goes_on
        )
    finally:
        from tests.conftest import DEMO_ARTICLES

        engine.set_articles(DEMO_ARTICLES)


def test_a_number_with_its_unit_said_too_quickly_is_not_complete(engine: NluEngine) -> None:
    """Whisper wrote «2 штуки.» for «двадцать» alone (0.58 s): too short for both words."""
    parse = engine.parse("2 штуки.", "quantity")
    assert is_complete(parse, "quantity", engine.article_goes_on)  # no duration: the words
    assert not is_complete(parse, "quantity", engine.article_goes_on, speech_s=0.58)
    assert is_complete(parse, "quantity", engine.article_goes_on, speech_s=0.9)
