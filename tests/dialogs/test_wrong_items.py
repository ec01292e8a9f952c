"""Wrong items = 0: every item of every order (and draft) the bot saves was said by the caller.

The adversarial scripts (``scripts/adversarial_*.yml``) say what their caller meant in
``said:`` (article + quantity pairs); the test plays each one through the real NLU, policy and
demo shop and counts the saved items that are not among them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nlu.engine import NluEngine
from tests.dialogs.dialog_runner import SCRIPTS, load_script, run_dialog

ADVERSARIAL = sorted(SCRIPTS.glob("adversarial_*.yml"))
SAVED = ("order", "draft")


def saved_items(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [
        (str(item["article"]), int(item["quantity"]))
        for event in events
        if event.get("type") in SAVED
        for item in event.get("items", [])
    ]


def wrong_items(script: dict[str, Any], events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    meant = {(str(s["article"]), int(s["quantity"])) for s in script["said"]}
    return [item for item in saved_items(events) if item not in meant]


def test_the_adversarial_suite_is_there() -> None:
    assert len(ADVERSARIAL) >= 20
    for path in ADVERSARIAL:
        assert "said" in load_script(path), f"{path.name}: say what the caller meant (said:)"


def test_wrong_items_detects_an_item_never_said() -> None:
    script: dict[str, Any] = {"said": [{"article": "4512", "quantity": 2}]}
    events: list[dict[str, Any]] = [
        {"type": "draft", "items": [{"article": "4512", "quantity": 2}]},
        {
            "type": "order",
            "items": [{"article": "4512", "quantity": 2}, {"article": "123", "quantity": 2}],
        },
        {"type": "say", "text": "…"},
    ]
    assert wrong_items(script, events) == [("123", 2)]


async def test_no_wrong_items_in_the_adversarial_suite(engine: NluEngine, tmp_path: Path) -> None:
    wrong: dict[str, list[tuple[str, int]]] = {}
    saved = 0
    for number, path in enumerate(ADVERSARIAL):
        script = load_script(path)
        conversation = await run_dialog(script, engine, tmp_path / str(number))
        saved += len(saved_items(conversation.events))
        if bad := wrong_items(script, conversation.events):
            wrong[path.stem] = bad
    print(f"adversarial suite: {len(ADVERSARIAL)} calls, {saved} items saved, wrong items: {wrong}")
    assert saved > 0
    assert wrong == {}


@pytest.mark.parametrize("path", ADVERSARIAL, ids=[p.stem for p in ADVERSARIAL])
def test_every_saved_order_is_checked(path: Path) -> None:
    script = load_script(path)
    if script.get("orders"):
        meant = {(str(s["article"]), int(s["quantity"])) for s in script["said"]}
        for order in script["orders"]:
            for item in order.get("items", []):
                assert (str(item["article"]), int(item["quantity"])) in meant, path.name
