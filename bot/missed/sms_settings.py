"""The ``sms:`` section: SMS for missed calls (Case 3) and the gateway that sends them.

The rules (which text for which called number or queue) are not here but in the YAML file
``sms.rules_file`` (:mod:`bot.missed.sms_rules`), which editors change in the console. The
gateway is chosen by name: ``kannel`` (Kannel's smsbox HTTP ``sendsms``), ``smpp`` (an SMPP
3.4 SMSC, the operators' protocol) or ``log`` (a dry run: the decision is stored, a log line
without the number or the text says what would have been sent). See docs/missed/sms.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from connectors.sms.kannel import KannelSettings
from connectors.sms.smpp import SmppSettings

__all__ = ["GATEWAYS", "KannelSettings", "SmppSettings", "SmsSettings"]

GATEWAYS = ("kannel", "smpp", "log")
_SENDER_ALPHA = re.compile(r"[A-Za-z0-9 ._-]{1,11}")
_SENDER_DIGITS = re.compile(r"\+?[0-9]{1,15}")


@dataclass(slots=True)
class SmsSettings:
    enabled: bool = True  # decide (and store the decision) for every missed call
    gateway: str = "log"  # kannel | smpp | log
    rules_file: Path = Path("data/missed/sms_rules.yml")
    once_per_hours: float = 24.0  # at most one SMS per caller within this many hours
    sender: str = ""  # sender id: up to 11 letters/digits, or a number ("" = the gateway's)
    country_code: str = "7"  # the caller's last 10 digits are sent as <country_code><10 digits>
    base_delay: float = 5.0  # the first retry after this many seconds, doubling each time
    max_delay: float = 600.0
    max_attempts: int = 20  # then the message is given up («failed»)
    max_age_hours: float = 12.0  # a message not sent this long after the call is given up
    poll_interval: float = 2.0  # how often the outbox worker looks for due messages
    lease_s: float = 180.0  # a claimed message is reserved for one worker this long
    catch_up_minutes: float = 30.0  # missed calls this recent without a decision get one
    max_text_chars: int = 670  # 10 parts of UCS-2 (67 characters each)
    kannel: KannelSettings = field(default_factory=KannelSettings)
    smpp: SmppSettings = field(default_factory=SmppSettings)

    def __post_init__(self) -> None:
        if self.gateway not in GATEWAYS:
            raise ValueError(f"sms.gateway must be one of {', '.join(GATEWAYS)}")
        if not 0 < self.once_per_hours <= 24 * 366:
            raise ValueError("sms.once_per_hours must be between 0 and 8784 hours")
        if self.sender and not (
            _SENDER_ALPHA.fullmatch(self.sender) or _SENDER_DIGITS.fullmatch(self.sender)
        ):
            raise ValueError(
                "sms.sender must be up to 11 Latin letters/digits or a number of up to 15 digits"
            )
        if not self.country_code.isdigit() or len(self.country_code) > 3:
            raise ValueError("sms.country_code must be 1 to 3 digits")
        if not 0 < self.base_delay <= self.max_delay:
            raise ValueError("sms: need 0 < base_delay <= max_delay")
        if self.max_attempts < 1:
            raise ValueError("sms.max_attempts must be at least 1")
        _positive(
            "sms",
            max_age_hours=self.max_age_hours,
            poll_interval=self.poll_interval,
            lease_s=self.lease_s,
            catch_up_minutes=self.catch_up_minutes,
        )
        if not 1 <= self.max_text_chars <= 1530:
            raise ValueError("sms.max_text_chars must be between 1 and 1530")

    def once_per_seconds(self) -> float:
        return self.once_per_hours * 3600.0


def _positive(section: str, **values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ValueError(f"{section}.{key} must be positive, got {value}")
