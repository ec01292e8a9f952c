"""What ``bot serve`` runs of the missed-call intake: the store, the intake and its sources.

    missed = await IntakeService.start(settings, shop.db)    # the AMI follower if enabled
    missed.intake.subscribe(on_missed)                       # the SMS and call-back parts
    missed.add_routes(app)                                   # POST /missed, /missed/telphin
    missed.attach(session)                                   # each voice call (bot handoffs)
    result = await missed.ami.originate(...)                 # call-backs over Asterisk
    await missed.stop()

``missed.enabled: false`` gives ``None`` from :meth:`IntakeService.start`; ``/missed`` then
answers 404.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.edge import add_protected
from bot.missed.intake import MissedCallIntake
from bot.missed.intake_ami import AmiFollower
from bot.missed.intake_bot import BotHandoffs
from bot.missed.intake_http import missed_handler
from bot.missed.intake_telphin import TelphinEvents, telphin_events_handler
from bot.missed.settings import MissedSettings
from bot.missed.store import MissedCallStore
from connectors.pbx.ami import AmiClient
from connectors.shop.database import ShopDatabase

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.session import CallSession


def shop_zone(settings: Settings) -> tzinfo:
    """The shop's time zone: ``missed.timezone``, else ``journal.timezone``, else local."""
    from datetime import datetime

    name = settings.missed.timezone or settings.journal.timezone
    if name:
        return ZoneInfo(name)
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local


class IntakeService:
    def __init__(self, settings: MissedSettings, db: ShopDatabase, zone: tzinfo) -> None:
        self.settings = settings
        self.store = MissedCallStore(db)
        self.intake = MissedCallIntake(self.store, zone=zone, region=settings.region)
        self.handoffs = (
            BotHandoffs(self.intake, orders_answer=settings.bot_orders_answer)
            if settings.bot_handoffs
            else None
        )
        self.telphin = TelphinEvents(
            self.intake,
            extensions=settings.telphin_extensions,
            max_calls=settings.max_tracked_calls,
            track_s=settings.track_s,
        )
        self.ami: AmiClient | None = None
        self.follower: AmiFollower | None = None

    @classmethod
    async def start(cls, settings: Settings, db: ShopDatabase) -> IntakeService | None:
        missed = settings.missed
        if not missed.enabled:
            return None
        service = cls(missed, db, shop_zone(settings))
        if missed.ami.enabled:
            from bot.logs import add_secrets

            add_secrets(missed.ami.secret)
            service.ami = AmiClient(missed.ami)
            service.follower = AmiFollower(
                service.intake,
                service.ami,
                queues=missed.ami.queues,
                max_calls=missed.max_tracked_calls,
                track_s=missed.track_s,
            )
            await service.ami.start()  # connects in the background, reconnects for ever
        return service

    def add_routes(self, app: web.Application) -> None:
        """``GET|POST /missed/telphin[/<secret>]`` (first: ``/missed/{secret}`` would take
        it) and ``POST /missed[/<secret>]``."""
        limit = self.settings.max_body_bytes
        if self.settings.telphin:  # Telphin sends its events by GET or POST, as configured
            telphin = telphin_events_handler(self.telphin, limit)
            add_protected(app, "POST", "/missed/telphin", telphin)
            add_protected(app, "GET", "/missed/telphin", telphin)
        if self.settings.http:
            add_protected(app, "POST", "/missed", missed_handler(self.intake, limit))

    def attach(self, session: CallSession) -> None:
        if self.handoffs is not None:
            self.handoffs.attach(session)

    async def stop(self) -> None:
        if self.ami is not None:
            await self.ami.stop()
        if self.handoffs is not None:
            await self.handoffs.stop()
        await self.intake.stop()
