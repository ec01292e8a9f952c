"""The ``callbacks:`` section: automatic call-backs to missed callers and voicemail.

What editors change (which calls are called back, when, who takes them) is the rules file
``rules_file`` (:mod:`bot.missed.callback_rules`); this section is what an administrator
sets once: the time zone of the working intervals, how many attempts, how the call is
placed (``dialer``: ``sip`` from the bot's own SIP endpoint, ``ami``: Asterisk
``Originate``), and where voice messages are kept. Every key is in
``docs/missed/callbacks.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DIALERS = ("sip", "ami")
SIP_ROUTES = ("trunk", "account")


@dataclass(slots=True)
class CallbackSipSettings:
    """Placing a call-back from the bot's SIP endpoint (``server.sip``).

    ``route: trunk`` sends the INVITE to ``trunk`` (``host[:port]``, the PBX or the
    operator's SBC that takes the bot's calls, answering a digest challenge with
    ``username``/``password`` when it asks); ``route: account`` sends it through the
    registered extension ``server.sip.accounts[account]`` (its proxy or registrar, its
    credentials), as a desk phone would."""

    route: str = "trunk"
    trunk: str = ""
    account: int = 0
    username: str = ""  # digest login at the trunk (empty: the trunk does not ask)
    password: str = ""
    caller_id: str = "bot"  # the From user of the bot's INVITE
    ring_timeout_s: float = 40.0  # the client (or employee) does not answer: CANCEL

    def __post_init__(self) -> None:
        if self.route not in SIP_ROUTES:
            raise ValueError(f"callbacks.sip.route must be one of {SIP_ROUTES}")
        if self.account < 0:
            raise ValueError("callbacks.sip.account must be an index of server.sip.accounts")
        if not 5 <= self.ring_timeout_s <= 300:
            raise ValueError("callbacks.sip.ring_timeout_s must be 5..300 seconds")


@dataclass(slots=True)
class CallbackAmiSettings:
    """Placing a call-back with Asterisk AMI ``Originate`` (the ``server.ami`` connection).

    Client first: ``Channel: {client_channel}`` (``{number}`` is the client's number) into
    ``context``/``exten`` of the rule's target; employee first: ``Channel:
    {employee_channel}`` into ``dial_context`` with the client's number as the extension.
    """

    client_channel: str = "PJSIP/{number}@trunk"
    employee_channel: str = "PJSIP/{extension}"
    context: str = "callback"  # client first: where the answered client goes (target)
    dial_context: str = "from-internal"  # employee first: where the client's number is dialled
    ring_timeout_s: float = 40.0

    def __post_init__(self) -> None:
        if "{number}" not in self.client_channel:
            raise ValueError("callbacks.ami.client_channel must contain {number}")
        if "{extension}" not in self.employee_channel:
            raise ValueError("callbacks.ami.employee_channel must contain {extension}")
        if not 5 <= self.ring_timeout_s <= 300:
            raise ValueError("callbacks.ami.ring_timeout_s must be 5..300 seconds")


@dataclass(slots=True)
class CallbackSettings:
    enabled: bool = False  # the scheduler runs and places call-backs
    rules_file: str = "data/missed/callback_rules.yml"  # editors' rules (console page)
    timezone: str = "Europe/Moscow"  # the working intervals' days and hours
    attempts: int = 3  # call-back attempts per missed caller, the first included
    retry_delay_s: float = 600.0  # after a busy / unanswered / failed attempt
    dialer: str = "sip"  # sip | ami
    dial_prefix: str = "8"  # before the caller's 10 digits («8» + 9161234567)
    shop_name: str = "магазин"  # {shop} in the greetings
    poll_s: float = 5.0  # how often a worker looks for due call-backs
    lease_s: float = 300.0  # a claimed call-back is this worker's for so long (then: crashed)
    concurrency: int = 2  # call-backs placed at once by one worker
    voicemail_dir: Path = Path("var/voicemail")  # voice messages (Ogg/Opus)
    voicemail_max_s: float = 120.0  # a voice message ends after this long
    voicemail_silence_s: float = 6.0  # … or after this much silence at its end
    voicemail_keep_days: int | None = 90  # older voice messages are deleted; null: kept
    catch_up_minutes: float = 60.0  # missed calls this recent without a job are scheduled
    #                                  (a listener that failed: the database was down)
    worker: str = ""  # this worker's name in the jobs (default: host and pid)
    sip: CallbackSipSettings = field(default_factory=CallbackSipSettings)
    ami: CallbackAmiSettings = field(default_factory=CallbackAmiSettings)

    def __post_init__(self) -> None:
        if self.dialer not in DIALERS:
            raise ValueError(f"callbacks.dialer must be one of {DIALERS}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"callbacks.timezone: unknown time zone {self.timezone!r}") from None
        if not 1 <= self.attempts <= 20:
            raise ValueError("callbacks.attempts must be 1..20")
        if not 0 <= self.retry_delay_s <= 7 * 86400:
            raise ValueError("callbacks.retry_delay_s must be 0..604800 seconds")
        if not self.dial_prefix.lstrip("+").isdigit() and self.dial_prefix:
            raise ValueError("callbacks.dial_prefix: digits, optionally after «+»")
        if not 0.05 <= self.poll_s <= 600:
            raise ValueError("callbacks.poll_s must be 0.05..600 seconds")
        if not 10 <= self.lease_s <= 3600:
            raise ValueError("callbacks.lease_s must be 10..3600 seconds")
        if not 1 <= self.concurrency <= 50:
            raise ValueError("callbacks.concurrency must be 1..50")
        if not 5 <= self.voicemail_max_s <= 600:
            raise ValueError("callbacks.voicemail_max_s must be 5..600 seconds")
        if self.voicemail_keep_days is not None and self.voicemail_keep_days < 1:
            raise ValueError("callbacks.voicemail_keep_days must be at least 1 (or null)")
        if not 0 <= self.catch_up_minutes <= 7 * 24 * 60:
            raise ValueError("callbacks.catch_up_minutes must be 0..10080")
        if not 1 <= self.voicemail_silence_s <= 60:
            raise ValueError("callbacks.voicemail_silence_s must be 1..60 seconds")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
