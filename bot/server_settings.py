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
    header_timeout: float = 10.0  # the request line and headers must arrive within this
    body_timeout: float = 10.0  # a request body must arrive within this
    keepalive_timeout: float = 15.0  # an idle keep-alive connection is closed after this
    max_connections: int = 500  # at once, WebSocket calls included; more get 503
    max_connections_per_ip: int = 50  # at once from one source address
    access_log: bool = True  # method, route pattern (never the path), status, time

    def __post_init__(self) -> None:
        _check_limits(
            "server.http",
            header_timeout=self.header_timeout,
            body_timeout=self.body_timeout,
            keepalive_timeout=self.keepalive_timeout,
            max_connections=self.max_connections,
            max_connections_per_ip=self.max_connections_per_ip,
        )
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
    require_agi: bool = True  # an AudioSocket uuid FastAGI did not announce is refused
    max_connections: int = 100  # at once, for each of FastAGI and AudioSocket
    max_connections_per_ip: int = 100  # at once from one source address (the Asterisk box)
    agi_header_timeout: float = 5.0  # the AGI environment must arrive within this
    agi_session_timeout: float | None = None  # the EXEC at most; null: max_call_seconds + 60
    link_timeout: float = 10.0  # the AudioSocket leg must connect this soon after the EXEC
    first_frame_timeout: float = 5.0  # the AudioSocket UUID frame must arrive within this

    def __post_init__(self) -> None:
        _check_limits(
            "server.asterisk",
            max_connections=self.max_connections,
            max_connections_per_ip=self.max_connections_per_ip,
            agi_header_timeout=self.agi_header_timeout,
            agi_session_timeout=self.agi_session_timeout or 1.0,
            link_timeout=self.link_timeout,
            first_frame_timeout=self.first_frame_timeout,
        )


def _check_limits(section: str, **values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ValueError(f"{section}.{key} must be positive, got {value}")


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
    # CIDRs admitted on every endpoint (HTTP, FastAGI, AudioSocket), joined with the older
    # server.http.allow_ips; both empty: any address
    allow_ips: list[str] = field(default_factory=list)
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
    # the event loop this late (mean of 2 s, ms): new calls go straight to an operator, so
    # the calls already on the line stay served; 0: off
    overload_lag_ms: float = 200.0
    catalog_refresh_s: float = 30.0  # how often the NLU re-reads the catalog's articles
    metrics_interval_s: float = 5.0  # how often bot_outbox_pending is read from the database
    shutdown_grace: float = 20.0  # SIGTERM: calls may finish this long, then go to operators
    # one JSON per call (what was said, turn timings); personal data: null turns it off
    transcripts_dir: str | None = "var/transcripts"

    def __post_init__(self) -> None:
        for cidr in self.allow_ips:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"server.allow_ips: {cidr!r} is not an address or CIDR") from None
