"""The ``server:`` section: which PBX endpoints run, where they listen, routes and security."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from connectors.pbx.sip_config import SipSettings


@dataclass(slots=True)
class HttpSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # how the PBX reaches us (Telphin fetches sounds here); default host:port
    secret: str | None = None  # required in the path (/ws/twilio/<secret>) or X-Bot-Secret
    allow_ips: list[str] = field(default_factory=list)  # CIDRs; empty: any address
    max_body_bytes: int = 65536
    max_ws_message_bytes: int = 65536

    def __post_init__(self) -> None:
        for cidr in self.allow_ips:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(
                    f"server.http.allow_ips: {cidr!r} is not an address or CIDR"
                ) from None
        if self.secret is not None and len(self.secret) < 8:
            raise ValueError("server.http.secret must have at least 8 characters")


@dataclass(slots=True)
class AsteriskSettings:
    enabled: bool = True
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 9092
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    audiosocket_address: str | None = None  # host:port Asterisk dials; default the listen one


@dataclass(slots=True)
class Route:
    """Calls whose dialled number / extension matches go to this scenario.

    ``called`` matches the dialled number, extension or IVR branch exactly, or by its last
    10 digits; empty matches every call. ``connector`` narrows it to one endpoint.
    """

    called: str = ""
    connector: str = ""
    scenario: str = "menu"
    operator: str | None = None  # transfer target for these calls


@dataclass(slots=True)
class ServerSettings:
    http: HttpSettings = field(default_factory=HttpSettings)
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)
    sip: SipSettings = field(default_factory=SipSettings)  # trunk peer / extension
    twilio: bool = True
    audio_fork: bool = True
    browser: bool = True
    telphin: bool = True
    routes: list[Route] = field(default_factory=list)
    managers_file: str | None = "data/managers.txt"  # phone=extension: the caller's manager
    max_calls: int = (
        20  # calls at once; more go straight to an operator (8 meet the latency targets on 2 cores)
    )
    catalog_refresh_s: float = 30.0  # how often the NLU re-reads the catalog's articles
    metrics_interval_s: float = 5.0  # how often bot_outbox_pending is read from the database
    shutdown_grace: float = 20.0  # SIGTERM: calls may finish this long, then go to operators
    # one JSON per call (what was said, turn timings); personal data: null turns it off
    transcripts_dir: str | None = "var/transcripts"
