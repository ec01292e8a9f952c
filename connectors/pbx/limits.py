"""Who may connect to an endpoint, and how many at once.

Every listening endpoint (HTTP, FastAGI, AudioSocket) has one :class:`ConnectionGate`: an
IP allow-list (CIDRs; empty admits any address), at most ``max_connections`` connections at
once and at most ``max_per_ip`` from one source address. A refused connection is closed at
once, before it costs more than its socket, so a flood of idle or slow connections cannot
exhaust the file handles or the call slots of real callers.

Refusals are logged through a :class:`LogThrottle`: the first one of a kind at once, then
at most one line per interval carrying the count of those not shown (``suppressed=N``), so
an attack cannot flood the log either.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_ADDRESS = "address not on the allow-list"
REFUSED_FULL = "too many connections"
REFUSED_PER_IP = "too many connections from one address"


def parse_networks(cidrs: Iterable[str], key: str = "allow_ips") -> list[Network]:
    """CIDRs (or single addresses) as networks; a bad entry raises ``ValueError``."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise ValueError(f"{key}: {cidr!r} is not an address or CIDR") from None
    return networks


def normalise_ip(remote: str | None) -> str:
    """The address as one text per host (IPv4-mapped IPv6 as IPv4); "" if unknown."""
    if not remote:
        return ""
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def allowed(remote: str | None, networks: Sequence[Network]) -> bool:
    """``remote`` is in one of ``networks`` (an unknown address never is)."""
    ip = normalise_ip(remote)
    if not ip:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in network for network in networks)


def peer_ip(peername: object) -> str:
    """The address part of ``transport.get_extra_info("peername")``."""
    if isinstance(peername, tuple) and peername:
        return normalise_ip(str(peername[0]))
    return ""


class LogThrottle:
    """At most one log line per ``interval`` seconds per key; the next one says how many
    were left out (``suppressed=N``)."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._skipped: Counter[str] = Counter()

    def log(self, level: int, key: str, message: str, *args: object, **fields: object) -> bool:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._skipped[key] += 1
            return False
        self._last[key] = now
        skipped = self._skipped.pop(key, 0)
        extra = dict(fields)
        if skipped:
            extra["suppressed"] = skipped
        self.logger.log(level, message, *args, extra=extra)
        return True


class ConnectionGate:
    """Admits or refuses the connections of one endpoint (see the module docstring)."""

    def __init__(
        self,
        endpoint: str,
        *,
        max_connections: int,
        max_per_ip: int,
        allow_ips: Iterable[str] = (),
        throttle: LogThrottle | None = None,
    ) -> None:
        if max_connections < 1 or max_per_ip < 1:
            raise ValueError(f"{endpoint}: connection limits must be at least 1")
        self.endpoint = endpoint
        self.max_connections = max_connections
        self.max_per_ip = max_per_ip
        self.networks = parse_networks(allow_ips)
        self.active = 0
        self.refused: Counter[str] = Counter()  # by reason, for tests and the benchmark
        self._per_ip: Counter[str] = Counter()
        self._throttle = throttle or LogThrottle(log)

    def admit(self, remote: str | None) -> str | None:
        """``None`` and the connection is counted (call :meth:`release` once it ends), or
        the reason it is refused."""
        ip = normalise_ip(remote)
        if self.networks and not allowed(ip, self.networks):
            return self._refuse(REFUSED_ADDRESS)
        if self.active >= self.max_connections:
            return self._refuse(REFUSED_FULL)
        if self._per_ip[ip] >= self.max_per_ip:
            return self._refuse(REFUSED_PER_IP)
        self.active += 1
        self._per_ip[ip] += 1
        return None

    def release(self, remote: str | None) -> None:
        ip = normalise_ip(remote)
        if self._per_ip[ip] <= 0:
            return
        self.active -= 1
        self._per_ip[ip] -= 1
        if not self._per_ip[ip]:
            del self._per_ip[ip]

    def connections_from(self, remote: str | None) -> int:
        return self._per_ip[normalise_ip(remote)]

    def _refuse(self, reason: str) -> str:
        self.refused[reason] += 1
        self._throttle.log(
            logging.WARNING,
            f"{self.endpoint}:{reason}",
            "%s: connection refused: %s",
            self.endpoint,
            reason,
            endpoint=self.endpoint,
        )
        return reason
