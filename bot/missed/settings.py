"""The ``missed:`` section: where missed calls come from (:mod:`bot.missed.intake`).

    missed:
      enabled: true
      timezone: Europe/Moscow      # times the PBX sends without an offset; "" = journal's
      http: true                   # POST /missed[/<secret>] (any PBX: Asterisk CURL(), …)
      telphin: true                # POST /missed/telphin[/<secret>] (Telphin call events)
      bot_handoffs: true           # the bot's own transfers nobody took
      bot_orders_answer: true      # a caller whose order the bot took «позвонил сам»
      ami: {enabled: false, host: 127.0.0.1, port: 5038, username: bot, secret: …,
            queues: [sales]}

Every key is in ``docs/missed/intake.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.pbx.ami_settings import AmiSettings


@dataclass(slots=True)
class MissedSettings:
    enabled: bool = True
    timezone: str = ""  # "" = journal.timezone, then the server's local time
    region: str = "RU"  # numbers without + are read as this country's (normalize_phone)
    http: bool = True  # the generic endpoint POST /missed
    telphin: bool = True  # Telphin's call-event notifications POST /missed/telphin
    telphin_extensions: list[str] = field(default_factory=list)  # followed; [] = all
    bot_handoffs: bool = True  # the bot's transfers that failed or the caller left
    bot_orders_answer: bool = True  # an order taken by the bot closes the caller's missed calls
    max_body_bytes: int = 16 * 1024  # an intake request's body (a real one is < 1 KiB)
    max_tracked_calls: int = 10000  # calls followed at once (AMI queue members, Telphin)
    track_s: float = 6 * 3600.0  # a followed call is forgotten after this long
    ami: AmiSettings = field(default_factory=AmiSettings)

    def __post_init__(self) -> None:
        if not 256 <= self.max_body_bytes <= 1024 * 1024:
            raise ValueError("missed.max_body_bytes must be between 256 and 1048576")
        if self.max_tracked_calls < 10 or self.track_s <= 0:
            raise ValueError("missed: max_tracked_calls >= 10 and track_s > 0")
        if self.timezone:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"missed.timezone: unknown time zone {self.timezone!r}") from None
