"""A slice of ``bot bench recognition``'s human set under ``make test``: real recordings of a
Russian speaker (Debian ``asterisk-core-sounds-ru-wav``), put together as a PBX says numbers,
through Whisper with the dialog's hint and the NLU; then whole calls through the voice session
with the honest simulated caller. The full benchmark runs outside ``make test``
(``python -m bot bench recognition``).

The recordings are installed by ``scripts/bootstrap.sh`` (``scripts/apt-packages.txt``):
missing, these tests fail, they are not skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.shop_setup import Shop, open_shop
from bot.tools.bench_recognition import VoiceUnderTest, simulated_calls, single_shot
from bot.tools.human_voice import RecordingsMissing, sounds_dir
from bot.tools.recognition_caller import Intent
from bot.tools.recognition_sets import (
    article_items,
    bench_catalog,
    draw_articles,
    draw_quantities,
    quantity_items,
)
from bot.voice import VoiceServices
from connectors.shop.records import CatalogItem
from speech.tts import Synthesizer, create_synthesizer

pytestmark = pytest.mark.e2e

ARTICLES = draw_articles(2)  # 8 articles: two of every style
CATALOG = bench_catalog([a for a, _ in ARTICLES])
QUANTITIES = draw_quantities(6)


def test_the_recordings_are_installed() -> None:
    try:
        folder = sounds_dir()
    except RecordingsMissing as exc:
        pytest.fail(str(exc))
    for name in (
        "digits/0",
        "digits/19",
        "digits/90",
        "digits/hundred",
        "digits/thousand",
        "number",
    ):
        assert (folder / f"{name}.wav").is_file(), name


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("human")
    settings = Settings()
    settings.shop = dataclasses.replace(settings.shop, url=f"sqlite:///{folder / 'shop.sqlite'}")
    settings.dialog = dataclasses.replace(settings.dialog, scenario="order")
    settings.nlu.model_dir = folder / "nlu"
    settings.voice.tts.cache_dir = str(folder / "tts")
    return settings


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[VoiceServices]:
    shop: Shop = await open_shop(settings)
    try:
        await shop.db.replace_catalog([CatalogItem(p.article, p.name, "шт") for p in CATALOG])
        yield await VoiceServices.start(settings, settings.voice, shop)
    finally:
        await shop.close()


@pytest.fixture(scope="module")
def festival() -> Synthesizer:
    return create_synthesizer("festival", rate=16000)


def human(festival: Synthesizer) -> VoiceUnderTest:
    try:
        return VoiceUnderTest("human", festival, seed=1)
    except RecordingsMissing as exc:
        pytest.fail(str(exc))


async def test_human_digits_single_shot(services: VoiceServices, festival: Synthesizer) -> None:
    items = article_items(ARTICLES) + quantity_items(QUANTITIES)
    report = await single_shot(
        services, services.recognizer, human(festival), items, alternatives=False
    )
    articles, quantities = report["articles"], report["quantities"]
    assert articles["phrases"] == 8 and quantities["phrases"] == 6
    # floors under what this slice measures (8/8 articles read, 4/6 quantities; the whole set
    # in README «Recognition accuracy»)
    assert articles["read_right"] >= 0.75, report["misses"]
    assert articles["offered_right"] >= 0.75, report["misses"]
    assert articles["wrong_exact"] == 0, report["misses"]
    assert quantities["exact"] >= 0.5, report["misses"]


async def test_human_voice_calls_end_right_and_save_nothing_wrong(
    services: VoiceServices, festival: Synthesizer
) -> None:
    names = {p.article: p.name for p in CATALOG}
    intents = [
        Intent(a, names[a], QUANTITIES[i], style) for i, (a, style) in enumerate(ARTICLES[:3])
    ]
    calls = await simulated_calls(
        services, festival, human(festival), intents, honest=True, accepted="принят успешно"
    )
    assert len(calls) == 3
    assert sum(len(c["wrong_items"]) for c in calls) == 0, calls
    assert all(c["outcome"] in ("intended", "handoff") for c in calls), calls
    assert sum(c["outcome"] == "intended" for c in calls) >= 2, calls
    assert all(not c["unanswered"] for c in calls), calls
