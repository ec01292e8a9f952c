"""The pieces of ``bot bench recognition`` that need no audio engine: the number words the
human recordings can say, the article styles, the demo catalog with near neighbours, the
simulated caller's answers and the scoring of a call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.events import BotSaid
from bot.tools.bench_recognition import call_outcome
from bot.tools.human_voice import Unsayable, number_words, sayable
from bot.tools.recognition_caller import CallerVoice, Intent, RecognitionCaller
from bot.tools.recognition_sets import (
    STYLES,
    bench_catalog,
    draw_articles,
    draw_quantities,
    say_article,
)
from nlu.articles import single_edit
from speech.audio import Audio


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, ["ноль"]),
        (7, ["семь"]),
        (19, ["девятнадцать"]),
        (40, ["сорок"]),
        (142, ["сто", "сорок", "два"]),
        (100, ["сто"]),
        (1000, ["тысяча"]),
        (1045, ["тысяча", "сорок", "пять"]),
        (1199, ["тысяча", "сто", "девяносто", "девять"]),
    ],
)
def test_number_words_the_recordings_hold(n: int, words: list[str]) -> None:
    assert number_words(n) == words


@pytest.mark.parametrize("n", [200, 555, 999, 1200, 2024, -1])
def test_numbers_the_recordings_cannot_say_whole(n: int) -> None:
    assert not sayable(n)
    with pytest.raises(Unsayable):
        number_words(n)


def test_feminine_one_and_two() -> None:
    assert number_words(2, feminine=True) == ["две"]
    assert number_words(21, feminine=True) == ["двадцать", "одна"]


def test_article_styles() -> None:
    assert say_article("142", "whole", prefix=True).text == "номер сто сорок два"
    assert say_article("1245", "pairs", prefix=False).text == "двенадцать сорок пять"
    assert say_article("7715", "digits", prefix=False).text == "семь семь один пять"
    assert say_article("007", "zeros", prefix=False).text == "ноль ноль семь"
    assert say_article("045", "zeros", prefix=False).text == "ноль сорок пять"
    spoken = say_article("1245", "pairs", prefix=True)
    assert spoken.festival_text == "номер, двенадцать, сорок пять"  # groups apart
    with pytest.raises(ValueError):
        say_article("555", "whole", prefix=False)  # no «пятьсот» among the recordings


def test_the_sets_are_sayable_and_each_article_has_one_near_neighbour() -> None:
    articles = draw_articles(6)
    assert [s for _, s in articles[:4]] == list(STYLES)
    assert draw_articles(6) == articles  # seeded: the same set every run
    for article, style in articles:
        say_article(article, style, prefix=False)  # raises if the voice cannot say it
    catalog = bench_catalog([a for a, _ in articles])
    assert len(catalog) == 2 * len(articles)
    assert len({p.article for p in catalog}) == len(catalog)
    assert len({p.name.casefold() for p in catalog}) == len(catalog)
    neighbours = catalog[len(articles) :]
    for (article, _), near in zip(articles, neighbours, strict=True):
        assert single_edit(article, near.article) is not None
    for a, _ in articles:  # the set's articles are not each other's neighbours
        assert all(single_edit(a, b) is None for b, _ in articles if b != a)
    assert all(1 <= q <= 199 for q in draw_quantities(30))


# -- the simulated caller ------------------------------------------------------------------

SILENT = Audio.silence(0.1, 8000)
MEANT = Intent("4512", "Перчатки хозяйственные", 2, "pairs")


def caller(*, honest: bool = True) -> RecognitionCaller:
    return RecognitionCaller(MEANT, CallerVoice(lambda _: SILENT, lambda _: SILENT), honest=honest)


def said(key: str, text: str = "") -> list[BotSaid]:
    return [
        BotSaid(text="Извините, я не понял.", key="utter_not_understood"),
        BotSaid(text=text, key=key),
    ]


def test_the_honest_caller_checks_digits_product_quantity_and_read_back() -> None:
    c = caller()
    assert c.answer(said("utter_ask_article")).kind == "audio"  # type: ignore[union-attr]
    right = "Артикул 4512, перчатки хозяйственные. Верно?"
    wrong = "Артикул 4513, перчатки хозяйственные. Верно?"
    assert c.answer(said("utter_confirm_article", right)).value == "да"  # type: ignore[union-attr]
    assert c.answer(said("utter_confirm_article", wrong)).value == "нет"  # type: ignore[union-attr]
    other = c.answer(said("utter_ask_quantity", "Щётка для обуви. Сколько штук вам нужно?"))
    assert other is not None and other.value == "нет"  # not the product meant
    named = c.answer(said("utter_ask_quantity", "Перчатки хозяйственные. Сколько штук вам нужно?"))
    assert named is not None and named.kind == "audio"
    assert c.answer(said("utter_confirm_quantity", "Вы хотите заказать 2 штуки?")).value == "да"  # type: ignore[union-attr]
    assert c.answer(said("utter_confirm_quantity", "Вы хотите заказать 12 штук?")).value == "нет"  # type: ignore[union-attr]
    good = "Ваш заказ: перчатки хозяйственные, 2 штуки. Всё верно?"
    bad = "Ваш заказ: перчатки хозяйственные, 2 штуки; щётка для обуви, 1 штука. Всё верно?"
    assert c.answer(said("utter_read_back", good)).value == "да"  # type: ignore[union-attr]
    assert c.answer(said("utter_read_back", bad)).value == "нет"  # type: ignore[union-attr]
    assert c.answer(said("utter_ask_yes_no")).value == "2"  # type: ignore[union-attr]
    assert c.answer(said("utter_read_back_options")).value == "0"  # type: ignore[union-attr]
    assert c.answer(said("utter_article_keypad")).value == "4512#"  # type: ignore[union-attr]
    assert c.answer(said("utter_ask_quantity_keypad")).value == "2#"  # type: ignore[union-attr]
    assert c.answer(said("utter_ask_more")).value == "нет"  # type: ignore[union-attr]
    assert c.answer([BotSaid(text="До свидания!", key="utter_goodbye")]) is None
    assert c.article_attempts == 1 and c.quantity_attempts == 1


def test_the_always_yes_caller_says_yes_to_everything() -> None:
    c = caller(honest=False)
    wrong = "Артикул 4513, перчатки хозяйственные. Верно?"
    assert c.answer(said("utter_confirm_article", wrong)).value == "да"  # type: ignore[union-attr]
    other = c.answer(said("utter_ask_quantity", "Щётка для обуви. Сколько штук вам нужно?"))
    assert other is not None and other.kind == "audio"


def item(article: str, quantity: int) -> dict[str, object]:
    return {"article": article, "name": "", "quantity": quantity}


def test_a_call_is_scored_intended_handoff_or_other_with_its_wrong_items() -> None:
    c = caller()
    ok: list[dict[str, Any]] = [
        {"type": "draft", "items": [item("4512", 2)]},
        {"type": "order", "status": "принят успешно", "items": [item("4512", 2)]},
    ]
    assert call_outcome(ok, MEANT, "принят успешно", c)["outcome"] == "intended"
    wrong: list[dict[str, Any]] = [
        {"type": "order", "status": "принят успешно", "items": [item("4513", 2)]}
    ]
    scored = call_outcome(wrong, MEANT, "принят успешно", c)
    assert scored["outcome"] == "other" and scored["wrong_items"] == ["4513×2"]
    handed: list[dict[str, Any]] = [
        {"type": "draft", "items": [item("4512", 12)]},
        {"type": "order", "status": "переведен на оператора", "items": []},
        {"type": "transfer", "target": "operator", "reason": "article_not_recognized"},
    ]
    scored = call_outcome(handed, MEANT, "принят успешно", c)
    assert scored["outcome"] == "handoff" and scored["reason"] == "article_not_recognized"
    assert scored["wrong_items"] == ["4512×12"]  # a draft is saved too


# -- the report ------------------------------------------------------------------------------


def row(kind: str, style: str, reading: str, heard: str = "142") -> dict[str, object]:
    return {
        "kind": kind,
        "style": style,
        "value": "142",
        "said": "",
        "heard": heard,
        "reading": reading,
        "got": "",
    }


def test_the_report_scores_readings_causes_and_calls(tmp_path: Path, capsys: Any) -> None:
    from bot.cli import build_parser
    from bot.tools.bench_recognition_report import calls_summary, plot, print_table, summary

    rows = [
        row("article", "whole", "exact"),
        row("article", "whole", "regrouped"),
        row("article", "pairs", "near"),
        row("article", "pairs", "none", heard="Ки."),
        row("quantity", "quantity", "exact"),
        row("quantity", "quantity", "none", heard="8 8 8 8 8 8 8 8 8 8"),
    ]
    single = summary(rows)
    assert single["articles"]["exact"] == 0.25 and single["articles"]["read_right"] == 0.5
    assert single["articles"]["offered_right"] == 0.75
    assert single["by_style"]["whole"]["read_right"] == 1.0
    assert single["quantities"]["exact"] == 0.5
    assert single["misses_by_cause"] == {
        "one digit off (offered, asked)": 1,
        "no number in the words written": 1,
        "decoding loop (a word written again and again)": 1,
    }
    call = {
        "article": "142",
        "style": "whole",
        "quantity": 2,
        "outcome": "intended",
        "reason": "",
        "wrong_items": [],
        "turns": 6,
        "article_attempts": 1,
        "keypad": False,
        "unanswered": [],
    }
    calls = calls_summary([call, {**call, "outcome": "handoff", "reason": "silence"}])
    assert (calls["intended"], calls["handoff"], calls["intended_or_handoff"]) == (1, 1, 1.0)
    assert calls["handoff_reasons"] == {"silence": 1} and calls["wrong_items"] == 0
    report = {
        "sets": {
            "human": {
                "single_shot": single,
                "single_shot_nbest": single,
                "calls": {"honest": calls},
            }
        }
    }
    print_table(report)
    printed = capsys.readouterr().out
    assert "human     all" in printed and "1/2 intended" in printed and "wrong items 0" in printed
    plot(report, tmp_path / "recognition.png")
    assert (tmp_path / "recognition.png").stat().st_size > 10_000
    args = build_parser().parse_args(["bench", "recognition", "--per-style", "2", "--calls", "3"])
    assert (args.per_style, args.calls, args.sets) == (2, 3, "human,festival")


def test_a_quantity_heard_unsurely_is_scored_as_asked_by_keys() -> None:
    from bot.tools.bench_recognition_report import score_quantity, summary
    from nlu.types import Entity, Parse

    def parse(value: str, heard: float | None, confidence: float = 1.0) -> Parse:
        entity = Entity("quantity", value, 0, len(value), confidence)
        return Parse(value, "inform", 0.9, (entity,), heard_confidence=heard)

    assert score_quantity(parse("11", 0.9), "11") == {
        "reading": "exact",
        "got": "11",
        "keys": False,
    }
    assert score_quantity(parse("1", 0.35), "11")["keys"]  # under min_quantity_confidence
    assert score_quantity(parse("22", 0.9, confidence=0.5), "2")["keys"]  # several numbers
    assert not score_quantity(parse("3", None), "7")["keys"]  # typed: never unsure
    rows = [
        {"kind": "quantity", "style": "quantity", "heard": v, **score_quantity(parse(v, h), "7")}
        for v, h in (("7", 0.9), ("3", 0.9), ("1", 0.3), ("7", 0.2))
    ]
    quantities = summary(rows)["quantities"]
    assert quantities["wrong"] == 0.5 and quantities["wrong_sure"] == 0.25
    assert quantities["asked_by_keys"] == 0.5
