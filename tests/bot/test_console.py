"""The console end to end: a subprocess, the demo shop in SQLite, a real local SMTP server."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.bot.test_cli_nlu import run_bot
from tests.conftest import ROOT
from tests.fakes.smtp_server import SmtpSink, free_port

ORDER = "\n".join(
    [
        "хочу сделать заказ",
        "артикул сто двадцать три",
        "две штуки",
        "да",
        "/dtmf 1",
        "Артикул 1245.",
        "/dtmf 3#",
        "угу",
        "нет",
        "да",  # the order read back: all right
    ]
)


def env_for(tmp_path: Path, smtp_port: int) -> dict[str, str]:
    return {
        "BOT_SHOP__URL": f"sqlite:///{tmp_path / 'shop.sqlite'}",
        "BOT_NLU__MODEL_DIR": str(tmp_path / "model"),
        "BOT_MAIL__PORT": str(smtp_port),
        "BOT_MAIL__TIMEOUT": "2",
    }


def events_of(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_json_console_takes_an_order_and_mails_it(tmp_path: Path) -> None:
    with SmtpSink() as smtp:
        result = run_bot(
            "console",
            "--json",
            "--caller",
            "+79607775577",
            "--called",
            "78123098635",
            stdin=ORDER + "\n",
            env=env_for(tmp_path, smtp.port),
        )
        assert result.returncode == 0, result.stderr
        events = events_of(result.stdout)
        kinds = [e["type"] for e in events]
        assert kinds[:2] == ["call_started", "set_caller_name"]
        assert kinds[-3:] == ["hangup", "email", "call_ended"]
        assert kinds.count("caller_said") == len(ORDER.splitlines())
        keys = [e for e in events if e["type"] == "caller_said" and e["source"] == "keys"]
        assert [k["text"] for k in keys] == ["1", "3"]
        order = next(e for e in events if e["type"] == "order")
        assert order["status"] == "принят успешно"
        assert order["items"] == [
            {"article": "123", "name": "Ведро пластиковое 10 л", "quantity": 2},
            {"article": "1245", "name": "Швабра с отжимом", "quantity": 3},
        ]
        assert events[-2] == {"type": "email", "order_id": order["order_id"], "status": "sent"}
        assert events[-1]["reason"] == "bot_hangup"
        assert len(smtp.messages) == 1
        body = smtp.messages[0].get_body(("plain",))
        assert body is not None
        text = body.get_content()
        for needle in ("123", "1245", "9607775577", "78123098635", "принят успешно"):
            assert needle in text
    with sqlite3.connect(tmp_path / "shop.sqlite") as db:
        rows = db.execute("SELECT caller, called, status FROM bot_orders").fetchall()
        items = db.execute("SELECT article, quantity FROM bot_order_items").fetchall()
    assert rows == [("9607775577", "78123098635", "принят успешно")]
    assert sorted(items) == [("123", 2), ("1245", 3)]


def test_order_taken_while_smtp_is_down_is_sent_later_exactly_once(tmp_path: Path) -> None:
    port = free_port()  # nothing listens yet
    env = {**env_for(tmp_path, port), "BOT_OUTBOX__BASE_DELAY": "0.01"}
    result = run_bot("console", "--json", stdin=ORDER + "\n", env=env)
    assert result.returncode == 0, result.stderr
    assert events_of(result.stdout)[-2]["status"] == "pending"
    with SmtpSink(port=port) as smtp:
        flushed = run_bot("outbox", env=env)
        assert flushed.returncode == 0, flushed.stderr
        assert "sent 1 e-mail(s); 0 still waiting" in flushed.stdout
        again = run_bot("outbox", env=env)
        assert "sent 0 e-mail(s); 0 still waiting" in again.stdout
        assert len(smtp.messages) == 1


def test_human_console_shows_actions(tmp_path: Path) -> None:
    result = run_bot(
        "console",
        "--caller",
        "+79607775577",
        stdin="/dtmf 0\n",
        env=env_for(tmp_path, free_port()),
    )
    assert result.returncode == 0, result.stderr
    assert "бот: Здравствуйте, Иван!" in result.stdout
    assert "[caller name for operators: Иван 2(3)]" in result.stdout
    assert "[transfer ➜ operator (reason: caller_request)]" in result.stdout
    assert "9607775577" not in result.stderr, "no phone numbers in the logs"


def test_catalog_import_replaces_and_a_broken_file_changes_nothing(tmp_path: Path) -> None:
    from openpyxl import Workbook

    env = env_for(tmp_path, free_port())
    good = tmp_path / "new.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Артикул", "Наименование", "Единица"])
    sheet.append([777, "Табурет", "шт"])
    sheet.append(["0099", "Полка", "шт"])
    book.save(good)
    imported = run_bot("catalog", "import", str(good), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "catalog replaced: 2 articles" in imported.stdout

    broken = tmp_path / "broken.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Артикул", "Наименование"])
    sheet.append([555, "Щётка"])
    sheet.append([555, "Другая щётка"])
    book.save(broken)
    refused = run_bot("catalog", "import", str(broken), env=env)
    assert refused.returncode == 2
    assert "3" in refused.stderr and "Артикул" in refused.stderr

    not_xlsx = tmp_path / "text.xlsx"
    not_xlsx.write_text("артикул;название\n1;x\n", "utf-8")
    assert run_bot("catalog", "import", str(not_xlsx), env=env).returncode == 2

    with sqlite3.connect(tmp_path / "shop.sqlite") as db:
        articles = sorted(r[0] for r in db.execute("SELECT article FROM catalog"))
    assert articles == ["0099", "777"]


# documented in the README; the other types are those the first version printed
ADDITIONS = {"call_started", "caller_said", "draft", "order_failed", "call_ended"}


def readme_example() -> tuple[str, list[dict[str, object]]]:
    """The README's ``console --json`` example: the caller's lines and the printed events."""
    text = (ROOT / "README.md").read_text("utf-8")
    block = text.split("| .venv/bin/python -m bot console --json", 1)
    assert len(block) == 2, "the README example of console --json is gone"
    head, tail = block
    command = head.rsplit("printf '", 1)[1].split("'", 1)[0]
    body = tail.split("\n", 1)[1].split("```", 1)[0]
    lines = [line.replace(": …}", ": null}") for line in body.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]
    for event in events:  # a number shown as «…» matches any number
        for key, value in event.items():
            if value is None:
                event[key] = ...
    return command.replace("\\n", "\n"), events


def same(expected: object, actual: object) -> bool:
    """Equal, where a README string with «…» stands for any text starting the same way."""
    if isinstance(expected, str) and isinstance(actual, str) and "…" in expected:
        return actual.startswith(expected.split("…", 1)[0])
    if expected is ... and isinstance(actual, int | float):  # «…» for a number
        return True
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            same(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(same, expected, actual))
    return expected == actual


def test_console_json_is_the_readme_example_apart_from_documented_additions(
    tmp_path: Path,
) -> None:
    stdin, expected = readme_example()
    with SmtpSink() as smtp:
        result = run_bot(
            "console",
            "--json",
            "--caller",
            "+79607775577",
            stdin=stdin,
            env=env_for(tmp_path, smtp.port),
        )
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    assert len(events) == len(expected), [e["type"] for e in events]
    for want, got in zip(expected, events, strict=True):
        assert same(want, got), (want, got)
    first_version = {"say", "set_caller_name", "order", "email", "transfer", "hangup"}
    assert {e["type"] for e in events} <= first_version | ADDITIONS
