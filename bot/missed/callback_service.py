"""What ``bot serve`` runs of the call-backs: the scheduler, its dialer and the voicemail box.

    callbacks = CallbackService.start(settings, shop.db, sip=endpoint, synthesizer=tts,
                                      intake=missed.intake, ami=missed.ami)
    ...
    await callbacks.stop(grace)

``callbacks.enabled: false`` gives ``None``. ``callbacks.dialer: sip`` needs the SIP endpoint
(``server.sip.enabled``); ``ami`` needs the missed-call AMI connection (``missed.ami``). The
scheduler subscribes to the missed-call intake; the pages read voice messages with
:class:`~bot.missed.voicemail.VoiceMessages` (``callbacks.voicemail_dir``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.missed.callback_jobs import CallbackJobs
from bot.missed.callback_rules import RulesFile
from bot.missed.callback_settings import CallbackSettings
from bot.missed.dialer import AmiDialer, SipDialer
from bot.missed.scheduler import CallbackScheduler, Dialer
from bot.missed.store import MissedCallStore
from bot.missed.voicemail import VoicemailRecorder, VoiceMessages
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import utc

if TYPE_CHECKING:
    from bot.missed.intake import MissedCallIntake
    from connectors.pbx.ami import AmiClient
    from connectors.pbx.sip_server import SipEndpoint
    from speech.tts import Synthesizer

log = logging.getLogger(__name__)
CLEANUP_EVERY_S = 3600.0


class CallbackService:
    def __init__(
        self,
        settings: CallbackSettings,
        scheduler: CallbackScheduler,
        messages: VoiceMessages,
        recorder: VoicemailRecorder | None,
    ) -> None:
        self.settings = settings
        self.scheduler = scheduler
        self.messages = messages
        self.recorder = recorder
        self._cleanup: asyncio.Task[None] | None = None

    @classmethod
    def start(
        cls,
        settings: CallbackSettings,
        db: ShopDatabase,
        *,
        sip: SipEndpoint | None,
        synthesizer: Synthesizer | None,
        intake: MissedCallIntake | None,
        ami: AmiClient | None = None,
    ) -> CallbackService | None:
        if not settings.enabled:
            return None
        if intake is None:
            raise ValueError("callbacks.enabled needs missed.enabled (the missed-call intake)")
        messages = VoiceMessages(db, settings.voicemail_dir)
        recorder: VoicemailRecorder | None = None
        dialer: Dialer
        if settings.dialer == "sip":
            if sip is None or synthesizer is None:
                raise ValueError("callbacks.dialer: sip needs server.sip.enabled")
            if settings.sip.route == "trunk" and not settings.sip.trunk:
                raise ValueError("callbacks.sip.trunk: where the call-backs go (host[:port])")
            if settings.sip.route == "account" and settings.sip.account >= len(
                sip.settings.accounts
            ):
                raise ValueError("callbacks.sip.account: no such server.sip.accounts entry")
            recorder = VoicemailRecorder(
                settings.voicemail_dir,
                max_s=settings.voicemail_max_s,
                silence_s=settings.voicemail_silence_s,
            )
            dialer = SipDialer(sip, settings, synthesizer, recorder, messages)
        else:
            if ami is None:
                raise ValueError("callbacks.dialer: ami needs missed.ami.enabled")
            dialer = AmiDialer(ami, settings)
        rules = RulesFile(Path(settings.rules_file))
        rules.current()  # a broken file stops the server at start, with its line
        store = MissedCallStore(db)
        scheduler = CallbackScheduler(settings, CallbackJobs(db), store, dialer, rules.current)
        intake.subscribe(scheduler.on_missed)
        scheduler.start()
        log.info(
            "call-backs running",
            extra={
                "dialer": settings.dialer,
                "rules": len(rules.rules),
                "worker": scheduler.worker,
            },
        )
        service = cls(settings, scheduler, messages, recorder)
        if settings.voicemail_keep_days is not None:
            service._cleanup = asyncio.get_running_loop().create_task(service._clean())
        return service

    async def _clean(self) -> None:
        """Voice messages older than ``voicemail_keep_days``: at start, then hourly."""
        assert self.settings.voicemail_keep_days is not None
        while True:
            cutoff = utc() - timedelta(days=self.settings.voicemail_keep_days)
            try:
                deleted = await self.messages.delete_older_than(cutoff)
                if deleted:
                    log.info("old voice messages deleted", extra={"messages": deleted})
            except Exception:
                log.exception("voice message clean-up failed")
            await asyncio.sleep(CLEANUP_EVERY_S)

    async def stop(self, grace: float = 10.0) -> None:
        if self._cleanup is not None:
            self._cleanup.cancel()
            await asyncio.gather(self._cleanup, return_exceptions=True)
        await self.scheduler.stop(grace)
        if self.recorder is not None:
            self.recorder.close()
