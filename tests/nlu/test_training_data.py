from __future__ import annotations

from pathlib import Path

import pytest

from nlu.training_data import TrainingDataError, load_training_data, parse_annotated
from tests.conftest import ROOT

REQUIRED = {
    "make_order",
    "order_status",
    "ask_operator",
    "affirm",
    "deny",
    "goodbye",
    "repeat",
    "inform",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nlu.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_project_data_has_every_intent_with_40_examples() -> None:
    data = load_training_data(ROOT / "data" / "nlu.yml")
    counts = {name: len(items) for name, items in data.by_intent().items()}
    assert set(counts) >= REQUIRED
    assert min(counts[name] for name in REQUIRED) >= 40, counts
    assert "unit" in data.lookups and "штук" in data.lookups["unit"]
    assert data.synonyms, "synonyms are read"


def test_project_data_has_both_recognizer_styles() -> None:
    data = load_training_data(ROOT / "data" / "nlu.yml")
    for name in ("make_order", "inform"):
        texts = [e.text for e in data.by_intent()[name]]
        assert any(any(c.isdigit() for c in t) for t in texts), name
        assert any(t[:1].isupper() and t.rstrip()[-1:] in ".?!" for t in texts), name
        assert any(t.islower() and not any(c.isdigit() for c in t) for t in texts), name


def test_annotations_are_stripped_with_offsets() -> None:
    text, spans = parse_annotated("артикул [сто двадцать три](article), [две](quantity:2) штуки")
    assert text == "артикул сто двадцать три, две штуки"
    assert [(s.entity, s.value, text[s.start : s.end]) for s in spans] == [
        ("article", "сто двадцать три", "сто двадцать три"),
        ("quantity", "2", "две"),
    ]


def test_json_annotation() -> None:
    text, spans = parse_annotated('[пару]{"entity": "quantity", "value": "2"} штук')
    assert text == "пару штук"
    assert spans[0].value == "2"


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - hi\n    oops\n', 6, "'- '"),
        ('version: "3.1"\nnlu:\n- intent: a\n  examples: [x\n', 5, "YAML syntax"),
        ('version: "9"\nnlu: []\n', 1, "unsupported version"),
        ('version: "3.1"\nnlu:\n- intent: a\n', 3, "no 'examples"),
        ('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - [x](y\n', 5, "unclosed"),
        (
            'version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - да\n'
            "- intent: b\n  examples: |\n    - Да\n",
            8,
            "in intent 'b' and in 'a' (line 5)",
        ),
        ('version: "3.1"\nrules: []\n', 1, "missing the 'nlu:' list"),
    ],
)
def test_broken_file_reports_file_line_and_reason(
    tmp_path: Path, body: str, line: int, reason: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(TrainingDataError) as caught:
        load_training_data(path)
    assert caught.value.line == line, str(caught.value)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="file not found"):
        load_training_data(tmp_path / "absent.yml")
