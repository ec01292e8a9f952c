"""The ``server.sip`` settings: where the SIP endpoint listens, what it advertises, media,
trunk access, registrations (extension mode), transfer and limits.

Plain dataclasses (the bot's settings loader builds them from YAML and ``BOT_*`` variables);
every value is checked here so a bad config stops the server at start with its key named.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

CODECS = ("PCMA", "PCMU")
TRANSPORTS = ("udp", "tcp")
FALLBACKS = ("bye", "none")
HEADER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")


@dataclass(slots=True)
class SipAccount:
    """One registration (extension mode): the bot as extension ``username`` of a PBX.

    ``registrar`` is ``host[:port]`` of the registrar (default: ``domain``); ``proxy`` is an
    outbound proxy every REGISTER goes through (Telphin: its SIP proxy). ``auth_username``
    is the digest login when it differs from the extension (Telphin: ``<client>*<ext>``).
    """

    username: str = ""
    password: str = ""
    domain: str = ""
    registrar: str = ""
    proxy: str = ""
    auth_username: str = ""
    transport: str = "udp"
    expires: int = 300
    keepalive: float = 20.0  # OPTIONS to the registrar this often; back after a loss: REGISTER
    display_name: str = ""

    def __post_init__(self) -> None:
        if not self.username or not self.domain:
            raise ValueError("server.sip.accounts: username and domain are required")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"server.sip.accounts: transport must be one of {TRANSPORTS}")
        if not 30 <= self.expires <= 86400:
            raise ValueError("server.sip.accounts: expires must be 30..86400 seconds")
        if not 0.2 <= self.keepalive <= 3600:
            raise ValueError("server.sip.accounts: keepalive must be 0.2..3600 seconds")
        for name in ("registrar", "proxy"):
            value = getattr(self, name)
            if value:
                split_hostport(value, f"server.sip.accounts.{name}")

    @property
    def aor(self) -> str:
        return f"sip:{self.username}@{self.domain}"

    @property
    def login(self) -> str:
        return self.auth_username or self.username

    @property
    def next_hop(self) -> tuple[str, int]:
        return split_hostport(self.proxy or self.registrar or self.domain, "account")


@dataclass(slots=True)
class SipTransferSettings:
    """Blind transfer with REFER; when the PBX refuses it or it fails, ``fallback``:
    ``bye`` hangs up with ``result_header: transfer`` and ``target_header: <target>`` on the
    BYE and a ``Reason`` the dialplan can test; ``none`` only ends the call."""

    refer: bool = True
    fallback: str = "bye"
    timeout: float = 10.0  # seconds to wait for the 202 and the final NOTIFY
    caller_name_header: str = "X-Caller-Name"  # on the REFER and the fallback BYE
    name_in_refer_to: bool = False  # also as a Refer-To URI header (baresip 1.0 cannot)
    target_header: str = "X-Bot-Transfer"
    result_header: str = "X-Bot-Result"
    domain: str = ""  # Refer-To host for a bare extension; default: the caller's PBX

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise ValueError(f"server.sip.transfer.fallback must be one of {FALLBACKS}")
        for name in ("caller_name_header", "target_header", "result_header"):
            if not HEADER_RE.match(getattr(self, name)):
                raise ValueError(f"server.sip.transfer.{name}: not a header name")
        if not 0.5 <= self.timeout <= 120:
            raise ValueError("server.sip.transfer.timeout must be 0.5..120 seconds")


@dataclass(slots=True)
class SipSettings:
    enabled: bool = True
    host: str = "127.0.0.1"  # bind address (UDP and TCP)
    port: int = 5060  # 0: any free port (the same number for UDP and TCP)
    udp: bool = True
    tcp: bool = True
    public_host: str = ""  # advertised in Via, Contact and SDP (NAT); default ``host``
    public_port: int = 0  # advertised port; default the bound one
    rtp_host: str = ""  # bind address for RTP; default ``host``
    rtp_port_min: int = 10000
    rtp_port_max: int = 10999
    codecs: list[str] = field(default_factory=lambda: ["PCMA", "PCMU"])  # preference order
    dtmf_info: bool = True  # accept SIP INFO keys beside RFC 4733
    allow_ips: list[str] = field(default_factory=list)  # trunk: INVITE sources; empty: any
    username: str = ""  # trunk: challenge INVITEs with digest when set
    password: str = ""
    realm: str = "bot"
    digest_algorithms: list[str] = field(default_factory=lambda: ["SHA-256", "MD5"])  # offered
    accounts: list[SipAccount] = field(default_factory=list)  # extension mode
    transfer: SipTransferSettings = field(default_factory=SipTransferSettings)
    max_calls: int = 20  # more at once are answered ``busy_status``
    busy_status: int = 486  # 486 Busy Here or 503 Service Unavailable
    session_expires: int = 1800  # RFC 4028, offered when the caller supports timers
    min_se: int = 90
    rtp_timeout: float = 30.0  # no RTP this long on an active call: hang up
    max_message_bytes: int = 16384  # a bigger SIP message is refused
    tcp_idle_timeout: float = 120.0  # a TCP connection silent this long is closed
    max_tcp_connections: int = 128
    user_agent: str = "ru-voice-shop-bot"

    def __post_init__(self) -> None:
        for cidr in self.allow_ips:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(
                    f"server.sip.allow_ips: {cidr!r} is not an address or CIDR"
                ) from None
        bad = [c for c in self.codecs if c.upper() not in CODECS]
        if bad or not self.codecs:
            raise ValueError(f"server.sip.codecs: use {', '.join(CODECS)}, got {self.codecs}")
        self.codecs = [c.upper() for c in self.codecs]
        if not 0 <= self.port <= 65535:
            raise ValueError("server.sip.port must be 0..65535")
        if not 1024 <= self.rtp_port_min < self.rtp_port_max <= 65535:
            raise ValueError("server.sip.rtp_port_min/max: 1024 <= min < max <= 65535")
        if self.busy_status not in (486, 503, 480, 600):
            raise ValueError("server.sip.busy_status must be 486, 503, 480 or 600")
        if not self.udp and not self.tcp:
            raise ValueError("server.sip: enable udp, tcp or both")
        if not self.digest_algorithms or set(self.digest_algorithms) - {"SHA-256", "MD5"}:
            raise ValueError("server.sip.digest_algorithms: SHA-256 and/or MD5")
        if self.username and not self.password:
            raise ValueError("server.sip.password is required with username")
        if not 512 <= self.max_message_bytes <= 65535:
            raise ValueError("server.sip.max_message_bytes must be 512..65535")
        if self.session_expires and self.session_expires < self.min_se:
            raise ValueError("server.sip.session_expires must be at least min_se")

    @property
    def advertised_host(self) -> str:
        host = self.public_host or self.host
        return "127.0.0.1" if host in ("0.0.0.0", "") else host

    @property
    def media_host(self) -> str:
        return self.rtp_host or self.host


def split_hostport(value: str, where: str = "address", default_port: int = 5060) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` ➜ (host, port)."""
    text = value.strip().removeprefix("sip:")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError(f"{where}: bad port in {value!r}") from None
    if not host or not 0 < port < 65536:
        raise ValueError(f"{where}: expected host[:port], got {value!r}")
    return host, port
