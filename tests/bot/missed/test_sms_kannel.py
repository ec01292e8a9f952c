"""A missed call's SMS through a real Kannel to its fake SMSC, with Kannel's HTTP interface
down at first: retried with backoff, delivered once when Kannel is back, never twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.missed.sms_outbox import SmsOutbox, make_gateway
from bot.missed.sms_settings import SmsSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.settings import ShopSettings
from connectors.sms.kannel import KannelSettings
from tests.fakes.kannel import PASSWORD, USER, KannelServer, start_for_tests

RULES = """version: 1
rules:
  - name: Основной
    called: ["+7 900 900-90-90"]
    text: "Здравствуйте! Мы пропустили ваш звонок и скоро перезвоним."
"""


@pytest.fixture
def kannel() -> Iterator[KannelServer]:
    server = start_for_tests()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[ShopDatabase]:
    database = await ShopDatabase.open(ShopSettings(url=f"sqlite:///{tmp_path / 'shop.sqlite'}"))
    try:
        yield database
    finally:
        await database.close()


async def test_kannel_down_then_up_sends_the_sms_once(
    kannel: KannelServer, db: ShopDatabase, tmp_path: Path
) -> None:
    rules = tmp_path / "sms_rules.yml"
    rules.write_text(RULES, "utf-8")
    settings = SmsSettings(
        gateway="kannel",
        rules_file=rules,
        sender="Shop",
        base_delay=2.0,
        kannel=KannelSettings(
            url=kannel.sendsms_url, username=USER, password=PASSWORD, connect_timeout=1.0
        ),
    )
    outbox = SmsOutbox(db, settings, make_gateway(settings))
    try:
        kannel.stop_smsbox()
        record = await outbox.decide(
            missed_call_id=1, caller="9161234567", called="+7 900 900-90-90",
            source_kind="queue", source="sales", missed_at=datetime.now(UTC),
        )  # fmt: skip
        t0 = datetime.now(UTC)
        assert await outbox.deliver_due(t0) == 0
        row = await outbox.get(record.id)
        assert row is not None and (row.state, row.attempts) == ("pending", 1)
        assert "cannot connect" in (row.last_error or "")
        assert row.next_attempt_at == t0 + timedelta(seconds=2)
        assert await outbox.deliver_due(t0 + timedelta(seconds=1)) == 0  # backing off
        row = await outbox.get(record.id)
        assert row is not None and row.attempts == 1

        kannel.start_smsbox()
        assert await outbox.deliver_due(t0 + timedelta(seconds=2)) == 1
        got = kannel.wait_for_messages(1)
        assert [(m.receiver, m.sender, m.text) for m in got] == [
            ("79161234567", "Shop", "Здравствуйте! Мы пропустили ваш звонок и скоро перезвоним.")
        ]
        row = await outbox.get(record.id)
        assert row is not None and (row.state, row.attempts, row.gateway) == ("sent", 2, "kannel")
        assert row.last_error is None and row.sent_at is not None

        assert await outbox.deliver_due(t0 + timedelta(hours=1)) == 0
        again = await outbox.decide(
            missed_call_id=2, caller="9161234567", called="+7 900 900-90-90",
            source_kind="queue", source="sales", missed_at=datetime.now(UTC),
        )  # fmt: skip
        assert again.reason == "recent_sms"
        assert await outbox.deliver_due(t0 + timedelta(hours=2)) == 0
        assert len(kannel.wait_for_messages(2, timeout=2.0)) == 1  # never twice
    finally:
        await outbox.gateway.close()


def test_the_cli_sends_a_test_sms_and_shows_the_outbox(
    kannel: KannelServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    for name, value in {
        "BOT_SMS__GATEWAY": "kannel",
        "BOT_SMS__SENDER": "Shop",
        "BOT_SMS__KANNEL__URL": kannel.sendsms_url,
        "BOT_SMS__KANNEL__USERNAME": USER,
        "BOT_SMS__KANNEL__PASSWORD": PASSWORD,
        "BOT_SHOP__URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["sms", "send", "--to", "+7 900 123-45-67", "--text", "Проверка связи"]) == 0
    assert "accepted by kannel" in capsys.readouterr().out
    got = kannel.wait_for_messages(1)
    assert [(m.receiver, m.text) for m in got] == [("79001234567", "Проверка связи")]
    kannel.stop_smsbox()
    assert main(["sms", "send", "--to", "79001234567", "--text", "x"]) == 1
    assert "not sent (temporary)" in capsys.readouterr().out
    assert main(["sms", "status"]) == 0
    assert "SMS outbox: empty" in capsys.readouterr().out


async def test_the_outbox_over_smpp_to_kannels_drive_smpp(db: ShopDatabase, tmp_path: Path) -> None:
    from connectors.sms.smpp import SmppSettings
    from tests.fakes.smpp_smsc import DriveSmpp

    rules = tmp_path / "sms_rules.yml"
    text = "Hello! We missed your call and will call you back soon."
    rules.write_text(
        RULES.replace("Здравствуйте! Мы пропустили ваш звонок и скоро перезвоним.", text)
    )
    smsc = DriveSmpp.start()
    settings = SmsSettings(
        gateway="smpp",
        rules_file=rules,
        sender="Shop",
        smpp=SmppSettings(port=smsc.port, system_id="shopbot", password="pw"),
    )
    outbox = SmsOutbox(db, settings)
    try:
        record = await outbox.decide(
            missed_call_id=1, caller="9161234567", called="+7 900 900-90-90",
            source_kind="number", source="", missed_at=datetime.now(UTC),
        )  # fmt: skip
        assert await outbox.deliver_due() == 1
        row = await outbox.get(record.id)
        assert row is not None and (row.state, row.gateway, row.parts) == ("sent", "smpp", 1)
    finally:
        await outbox.gateway.close()
        for _ in range(50):
            if smsc.handled("unbind"):
                break
            await asyncio.sleep(0.1)
        submitted = smsc.submitted()
        smsc.stop()
    assert submitted == [text] == [record.text]  # drive_smpp logged our one submit_sm
