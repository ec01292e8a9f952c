"""The ``voice:`` section is checked when it is loaded."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings
from bot.voice_settings import VadSettings
from dialogs.expect import EXPECTS, check_expect


def test_end_silence_keys_are_the_dialog_expectations() -> None:
    assert set(VadSettings().end_silence_ms) == set(EXPECTS)


def test_an_unknown_end_silence_key_stops_the_start_with_its_name(tmp_path) -> None:
    config = tmp_path / "bot.yml"
    config.write_text("voice:\n  vad:\n    end_silence_ms: {artikle: 900}\n", "utf-8")
    with pytest.raises(ConfigError, match="artikle"):
        load_settings(config, environ={})


def test_an_absurd_end_silence_is_refused() -> None:
    with pytest.raises(ValueError, match="yes_no"):
        VadSettings(end_silence_ms={"yes_no": 20})


def test_check_expect() -> None:
    assert check_expect("article") == "article"
    with pytest.raises(ValueError, match="known: menu"):
        check_expect("price")


def test_the_speculation_lead_starts_recognition_before_the_early_pause() -> None:
    vad = VadSettings()  # yes/no 490, article 300, lead 150
    assert vad.speculate_at("yes_no") == 340
    assert vad.speculate_at("article") == 150
    assert VadSettings(early_silence_ms={"menu": 150}).speculate_at("menu") == 100  # the floor
    assert VadSettings(early_silence_ms={"menu": 100}).speculate_at("menu") == 0  # no room
    assert VadSettings(speculate_lead_ms=0).speculate_at("article") == 0
    assert VadSettings(early_silence_ms={}).speculate_at("article") == 0
    with pytest.raises(ValueError, match="speculate_lead_ms"):
        VadSettings(speculate_lead_ms=-5)
