"""The shop's command-line parts (``bot/shop_commands.py``): outbox --force, db, orders replay."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import pytest

from bot.config import DemoSettings, Settings
from bot.shop_commands import add_shop_parsers, cmd_outbox, dispatch_shop
from connectors.shop import migrate
from connectors.shop.database import ShopDatabase
from connectors.shop.mail import SmtpSettings
from connectors.shop.order_writes import OrderWrite
from connectors.shop.records import OrderItem, OrderRecord, OrderStatus
from connectors.shop.settings import OrderStoreSettings, ShopSettings
from tests.fakes.smtp_server import SmtpSink, free_port

ORDER = OrderRecord(
    "+79607775577",
    "74951234567",
    datetime(2024, 5, 1, 14, 0),
    OrderStatus.ACCEPTED,
    [OrderItem("123", "Ведро пластиковое 10 л", 2)],
)


def _settings(url: str, port: int, journal: Path) -> Settings:
    return Settings(
        shop=ShopSettings(url=url, orders=OrderStoreSettings(journal=journal)),
        mail=SmtpSettings(port=port, timeout=2.0),
        demo=DemoSettings(enabled=False, mail_sink=False),
    )


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_shop_parsers(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


async def test_outbox_force_sends_what_the_backoff_holds(
    demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    settings = _settings(demo_url, port, tmp_path / "j.jsonl")
    settings.outbox.base_delay = 300.0
    settings.outbox.max_delay = 300.0
    db = await ShopDatabase.open(settings.shop)
    try:
        await db.save_order(ORDER)
    finally:
        await db.close()
    assert await cmd_outbox(settings) == 0  # SMTP down: now it waits five minutes
    with SmtpSink(port=port) as sink:
        await cmd_outbox(settings)
        assert "sent 0 e-mail(s); 1 still waiting" in capsys.readouterr().out
        assert await cmd_outbox(settings, force=True) == 0
        assert "sent 1 e-mail(s); 0 still waiting" in capsys.readouterr().out
        assert len(sink.messages) == 1


def test_cli_arguments() -> None:
    assert _parse("outbox", "--force").force is True
    assert _parse("outbox").force is False
    assert _parse("db", "upgrade").db_command == "upgrade"
    assert _parse("orders", "replay").orders_command == "replay"
    with pytest.raises(SystemExit):
        _parse("db", "drop")


def test_db_command_upgrades_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    settings = _settings(url, free_port(), tmp_path / "j.jsonl")
    assert dispatch_shop(_parse("db", "current"), settings) == 0
    assert capsys.readouterr().out.strip() == "none"
    assert dispatch_shop(_parse("db", "upgrade"), settings) == 0
    assert capsys.readouterr().out.strip().endswith(migrate.head_revision())


def test_orders_replay_command(
    demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connectors.shop.journal import OrderJournal

    journal = tmp_path / "j.jsonl"
    OrderJournal(journal).append(OrderWrite("w/c", "w", 1, True, ORDER))
    settings = _settings(demo_url, free_port(), journal)
    assert dispatch_shop(_parse("orders", "replay"), settings) == 0
    assert "journal: 1 waiting, 1 written, 0 left" in capsys.readouterr().out
    assert dispatch_shop(argparse.Namespace(command="serve"), settings) is None
