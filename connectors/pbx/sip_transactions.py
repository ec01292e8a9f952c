"""Transactions: requests we send (retransmitted over UDP, answered digest challenges) and a
cache of our answers so a retransmitted request gets the same response again.

Timers follow RFC 3261 §17 with the usual T1 = 0.5 s, T2 = 4 s; the overall wait is the
caller's ``timeout`` (Timer F is 32 s; the bot uses shorter ones where a person waits).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiosipua.auth import SipDigestAuth, build_credentials
from aiosipua.headers import parse_auth, stringify_auth
from aiosipua.message import SipRequest, SipResponse

from connectors.pbx.sip_messages import new_branch
from connectors.pbx.sip_wire import Peer, SipWire

T1 = 0.5
T2 = 4.0
CACHE_S = 32.0


def branch_of(message: SipRequest | SipResponse) -> str:
    top = message.headers.get_first("via") or ""
    for param in top.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "branch":
            return value.strip()
    return ""


def key_of(message: SipRequest | SipResponse) -> tuple[str, str]:
    cseq = message.cseq
    method = cseq.method.upper() if cseq else ""
    return branch_of(message), method


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[SipResponse]
    on_provisional: Callable[[SipResponse], None] | None = None
    provisional: bool = False


class ClientTransactions:
    def __init__(self, wire: SipWire) -> None:
        self.wire = wire
        self._pending: dict[tuple[str, str], _Pending] = {}

    def on_response(self, response: SipResponse) -> bool:
        """Feed a response; True if it belonged to one of our requests."""
        pending = self._pending.get(key_of(response))
        if pending is None:
            return False
        if response.status_code < 200:
            pending.provisional = True
            if pending.on_provisional is not None:
                pending.on_provisional(response)
        elif not pending.future.done():
            pending.future.set_result(response)
        return True

    async def send(
        self,
        request: SipRequest,
        peer: Peer,
        *,
        timeout: float = 32.0,
        on_provisional: Callable[[SipResponse], None] | None = None,
    ) -> SipResponse:
        """Send ``request`` and wait for its final response (``TimeoutError`` if none)."""
        key = key_of(request)
        future: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        pending = _Pending(future, on_provisional)
        self._pending[key] = pending
        data = bytes(request)
        invite = request.method == "INVITE"
        try:
            async with asyncio.timeout(timeout):
                interval = T1
                self.wire.send_raw(data, peer)
                while True:
                    done, _ = await asyncio.wait({future}, timeout=interval)
                    if done:
                        return future.result()
                    if peer.transport == "udp" and not (invite and pending.provisional):
                        self.wire.send_raw(data, peer)
                    interval = min(interval * 2, T2)
        finally:
            self._pending.pop(key, None)

    async def send_with_auth(
        self,
        make: Callable[[], SipRequest],
        peer: Peer,
        credentials: SipDigestAuth | None,
        *,
        timeout: float = 32.0,
        on_provisional: Callable[[SipResponse], None] | None = None,
    ) -> tuple[SipRequest, SipResponse]:
        """Send ``make()``; answer one 401/407 digest challenge (MD5 or SHA-256) with a new
        request from ``make()`` carrying the credentials. Returns the last request and its
        final response."""
        request = make()
        response = await self.send(request, peer, timeout=timeout, on_provisional=on_provisional)
        if response.status_code not in (401, 407) or credentials is None:
            return request, response
        challenge_name = "www-authenticate" if response.status_code == 401 else "proxy-authenticate"
        answer_name = "Authorization" if response.status_code == 401 else "Proxy-Authorization"
        challenges = response.headers.get(challenge_name)
        # RFC 8760: a server may offer SHA-256 and MD5; take the strongest we know
        ordered = sorted(challenges, key=lambda c: "sha-256" not in c.lower())
        for raw in ordered:
            try:
                challenge = parse_auth(raw)
            except Exception:
                continue
            retry = make()
            creds = build_credentials(credentials, challenge, retry.method, retry.uri)
            if creds is None:
                continue
            retry.headers.set_single(answer_name, stringify_auth(creds))
            response = await self.send(retry, peer, timeout=timeout, on_provisional=on_provisional)
            return retry, response
        return request, response


@dataclass(slots=True)
class ServerCache:
    """Our last response per request (branch, method), replayed on retransmissions."""

    entries: dict[tuple[str, str], tuple[float, bytes, Peer]] = field(default_factory=dict)

    def seen(self, request: SipRequest) -> tuple[bytes, Peer] | None:
        entry = self.entries.get(key_of(request))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]

    def remember(self, request: SipRequest, data: bytes, peer: Peer) -> None:
        key = key_of(request)
        if not key[0]:
            return
        now = time.monotonic()
        if len(self.entries) > 4096:
            self.entries = {k: v for k, v in self.entries.items() if v[0] > now}
        self.entries[key] = (now + CACHE_S, data, peer)


def fresh_branch(request: SipRequest) -> None:
    """Give a request built again (auth retry) a new Via branch."""
    vias = list(request.headers.get("via"))
    if vias:
        top = vias[0]
        parts = [p for p in top.split(";") if not p.strip().lower().startswith("branch=")]
        vias[0] = ";".join([parts[0], f"branch={new_branch()}", *parts[1:]])
        request.headers.remove("via")
        for value in vias:
            request.headers.append("Via", value)
