"""The bot's one typed settings object: defaults, then ``config.yml``, then ``BOT_*`` env.

``python -m bot --config FILE`` (or ``BOT_CONFIG=FILE``) picks the YAML file; without one
the embedded defaults run the demo shop offline. Nested keys in the environment use a
double underscore: ``BOT_SHOP__URL=…``, ``BOT_MAIL__PORT=2525``, ``BOT_DADATA__TOKEN=…``.
See README «Configuration» for every key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.journal.settings import JournalSettings, RecordingSettings
from bot.missed.callback_settings import CallbackSettings
from bot.missed.settings import MissedSettings
from bot.missed.sms_settings import SmsSettings
from bot.rasa.settings import RasaSettings, check_engine
from bot.server_settings import ServerSettings
from bot.settings_loader import ConfigError, build, env_overrides, merge, read_yaml
from bot.voice_settings import VoiceSettings
from bot.web.settings import AdminSettings
from connectors.shop.dadata import DadataSettings
from connectors.shop.mail import SmtpSettings
from connectors.shop.settings import ShopSettings
from dialogs.config import DialogSettings

__all__ = ["ConfigError", "NluSettings", "Settings", "load_settings"]


@dataclass(slots=True)
class NluSettings:
    data: Path = Path("data/nlu.yml")
    model_dir: Path = Path("models/nlu")
    threshold: float = 0.45
    engine: str = "embedded"  # embedded | rasa (Rasa's /model/parse, our numbers: rasa.url)

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("nlu.threshold must be between 0 and 1")
        check_engine("nlu", self.engine)


@dataclass(slots=True)
class DemoSettings:
    """Create the demo shop when the database has no shop tables yet (SQLite only)."""

    enabled: bool = True
    source: Path = Path("data/shop_demo.yml")
    catalog: Path = Path("data/catalog.xlsx")
    # a local SMTP server keeping order e-mails in mail_folder, used while mail points at it
    mail_sink: bool = True
    mail_sink_port: int = 2525
    mail_folder: Path = Path("var/mail")


@dataclass(slots=True)
class OutboxSettings:
    base_delay: float = 1.0  # first retry after this many seconds, doubling each time
    max_delay: float = 300.0
    poll_interval: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.base_delay <= self.max_delay:
            raise ValueError("outbox: need 0 < base_delay <= max_delay")
        if self.poll_interval <= 0:
            raise ValueError("outbox.poll_interval must be positive")


@dataclass(slots=True)
class Settings:
    nlu: NluSettings = field(default_factory=NluSettings)
    dialog: DialogSettings = field(default_factory=DialogSettings)
    shop: ShopSettings = field(default_factory=ShopSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    mail: SmtpSettings = field(default_factory=lambda: SmtpSettings(port=2525))
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    dadata: DadataSettings = field(default_factory=DadataSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    rasa: RasaSettings = field(default_factory=RasaSettings)  # nlu/dialog.engine: rasa
    journal: JournalSettings = field(default_factory=JournalSettings)  # the call store
    recordings: RecordingSettings = field(default_factory=RecordingSettings)
    missed: MissedSettings = field(default_factory=MissedSettings)  # missed calls: intake
    sms: SmsSettings = field(default_factory=SmsSettings)  # missed calls: SMS (Case 3)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)  # call-backs

    def __post_init__(self) -> None:
        check_engine("dialog", self.dialog.engine)
        if self.dialog.done_status.casefold() != self.shop.done_status.casefold():
            raise ValueError("dialog.done_status and shop.done_status must name the same status")
        if self.dialog.status_draft.casefold() != self.shop.orders.draft_status.casefold():
            raise ValueError(
                "dialog.status_draft and shop.orders.draft_status must name the same status"
            )


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    if path is None and environ.get("BOT_CONFIG"):
        path = Path(environ["BOT_CONFIG"])
    data = read_yaml(path) if path else {}
    data = merge(data, env_overrides(environ))
    return build(Settings, data)
