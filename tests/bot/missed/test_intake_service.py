"""What ``bot serve`` wires: the intake service from the settings (AMI follower when
enabled, secret registered with the log formatter), its routes in the server's app, and the
``missed:`` section read from YAML like every other section."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import Settings, load_settings
from bot.missed.intake_service import IntakeService, shop_zone
from bot.server import BotServer
from connectors.shop.database import ShopDatabase
from connectors.shop.settings import ShopSettings
from tests.fakes.ami_server import FakeAmi


def test_the_missed_section_from_yaml(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "missed:\n  timezone: Asia/Vladivostok\n  telphin_extensions: ['3515*200']\n"
        "  ami: {enabled: true, username: bot, secret: s3cret, queues: [sales, support]}\n",
        "utf-8",
    )
    settings = load_settings(config, environ={"BOT_MISSED__AMI__PORT": "5039"})
    assert settings.missed.ami.queues == ["sales", "support"] and settings.missed.ami.port == 5039
    assert str(shop_zone(settings)) == "Asia/Vladivostok"
    assert Settings().missed.enabled and not Settings().missed.ami.enabled


async def test_service_start_routes_and_stop(tmp_path: Path) -> None:
    fake = await FakeAmi.start()
    db = await ShopDatabase.open(ShopSettings(url=f"sqlite:///{tmp_path / 'shop.sqlite'}"))
    settings = Settings()
    settings.missed.ami.enabled = True
    settings.missed.ami.port = fake.port
    settings.missed.ami.username, settings.missed.ami.secret = "bot", "s3cret"
    service = await IntakeService.start(settings, db)
    assert service is not None and service.ami is not None and service.follower is not None
    try:
        await fake.wait_login(1)
        await fake.emit(
            {
                "Event": "QueueCallerAbandon",
                "Queue": "q",
                "Uniqueid": "u1",
                "CallerIDNum": "89161234567",
                "HoldTime": "4",
            }
        )
        await asyncio.sleep(0.1)
        await service.ami.drain()
        await service.intake.drain()
        assert [c.external_id for c in await service.store.list()] == ["u1"]
        settings.server.telphin = False  # Call Interactive needs the voice services
        settings.admin.enabled = False
        server = BotServer(settings)
        server.missed = service
        app = server.build_app()
        paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
        assert {
            "/missed",
            "/missed/{secret}",
            "/missed/telphin",
            "/missed/telphin/{secret}",
        } <= paths
        order = [r.resource.canonical for r in app.router.routes() if r.resource is not None]
        assert order.index("/missed/telphin") < order.index("/missed/{secret}")
    finally:
        await service.stop()
        await db.close()
        await fake.stop()
    settings.missed.enabled = False
    assert await IntakeService.start(settings, db) is None
