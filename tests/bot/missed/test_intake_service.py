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


async def test_bot_serve_takes_missed_calls_from_http_ami_and_telphin(tmp_path: Path) -> None:
    """The real server (its guarded HTTP listener, the edge, the AMI follower it starts)."""
    import aiohttp

    from tests.e2e.test_e2e_server import SECRET, make_settings

    fake = await FakeAmi.start()
    settings = make_settings(tmp_path)
    settings.missed.ami.enabled = True
    settings.missed.ami.port = fake.port
    settings.missed.ami.username, settings.missed.ami.secret = "bot", "s3cret"
    server = BotServer(settings)
    server.public_sounds = tmp_path / "sounds"
    await server.start()
    try:
        assert server.missed is not None and server.missed.ami is not None
        base = server.addresses["http"]
        async with aiohttp.ClientSession() as http:
            form = {"id": "pbx-1", "caller": "+79161234567", "queue": "sales", "wait": "30"}
            async with http.post(f"{base}/missed/{SECRET}", data=form) as response:
                assert response.status == 200 and (await response.json())["ok"]
            async with http.post(f"{base}/missed", data=form) as response:
                assert response.status == 401
            telphin = {
                "EventType": "hangup",
                "CallID": "t1",
                "CallFlow": "in",
                "CallerIDNum": "+79035550011",
                "CalledExtension": "3515*200@x",
                "CallStatus": "CANCEL",
                "Bridged": "no",
            }
            async with http.post(f"{base}/missed/telphin/{SECRET}", data=telphin) as response:
                assert response.status == 200 and (await response.json())["id"]
        await fake.wait_login(1)
        await fake.emit(
            {
                "Event": "QueueCallerAbandon",
                "Queue": "sales",
                "Uniqueid": "1733040000.5",
                "CallerIDNum": "89161112233",
                "HoldTime": "12",
            }
        )
        await asyncio.sleep(0.2)
        await server.missed.ami.drain()
        calls = await server.missed.store.list()
        assert sorted((c.intake, c.external_id) for c in calls) == [
            ("ami", "1733040000.5"),
            ("http", "pbx-1"),
            ("telphin", "t1"),
        ]
    finally:
        await server.stop()
        await fake.stop()
