"""``missed.ami``: where the Asterisk manager listens, how the bot logs in, and the limits.

The account is one of Asterisk's ``manager.conf`` (``read = call,agent`` for the queue and
hang-up events, ``write = originate`` for call-backs); see ``docs/missed/intake.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class AmiSettings:
    """``missed.ami``: where the manager listens and how the bot logs in (manager.conf)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = ""
    secret: str = field(default="", repr=False)
    queues: list[str] = field(default_factory=list)  # followed queues; [] = every queue
    events: str = "call,agent"  # Login's Events: the classes of the queue/hang-up events
    connect_timeout_s: float = 5.0
    login_timeout_s: float = 5.0  # banner and login answer
    action_timeout_s: float = 10.0  # an action's Response
    originate_timeout_s: float = 90.0  # Response + OriginateResponse of an Async originate
    ping_interval_s: float = 20.0  # a silent connection is tested with Ping this often
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    max_line_bytes: int = 8192
    max_message_bytes: int = 65536
    max_fields: int = 256
    max_queued_events: int = 10000  # events waiting for slow listeners; more are dropped

    def __post_init__(self) -> None:
        if self.enabled and (not self.username or not self.secret):
            raise ValueError("missed.ami: username and secret are required when enabled")
        if not 0 < self.port < 65536:
            raise ValueError("missed.ami.port must be between 1 and 65535")
        timeouts = (
            self.connect_timeout_s,
            self.login_timeout_s,
            self.action_timeout_s,
            self.originate_timeout_s,
            self.ping_interval_s,
        )
        if min(timeouts) <= 0:
            raise ValueError("missed.ami: timeouts and ping_interval_s must be positive")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError("missed.ami: need 0 < reconnect_min_s <= reconnect_max_s")
        if self.max_line_bytes < 256 or self.max_message_bytes < self.max_line_bytes:
            raise ValueError("missed.ami: max_line_bytes >= 256 and max_message_bytes >= it")
        if self.max_fields < 16 or self.max_queued_events < 10:
            raise ValueError("missed.ami: max_fields >= 16 and max_queued_events >= 10")
