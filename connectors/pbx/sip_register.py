"""Extension mode: REGISTER each account with its registrar (digest MD5 or SHA-256), refresh
before expiry, and register again when the registrar comes back after a restart.

Each account is one task: REGISTER (through the outbound ``proxy`` when set) ➜ refresh at
80 % of the granted interval; between refreshes an OPTIONS every ``keepalive`` seconds watches the
registrar (and keeps a NAT binding open): when it stops answering and answers again, its
bindings may be gone (a registrar without a database forgets them on restart), so the
account registers again at once. A refused or unanswered REGISTER is retried after 2 s,
doubling up to 5 minutes. Stopping sends ``Expires: 0``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING

from aiosipua.auth import SipDigestAuth
from aiosipua.message import SipRequest, SipResponse

from connectors.pbx.sip_config import SipAccount
from connectors.pbx.sip_messages import new_tag, via
from connectors.pbx.sip_wire import Peer

if TYPE_CHECKING:
    from connectors.pbx.sip_server import SipEndpoint

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300.0


class Registration:
    def __init__(self, endpoint: SipEndpoint, account: SipAccount, index: int) -> None:
        self.endpoint = endpoint
        self.account = account
        self.index = index
        self.state = "unregistered"  # registering | registered | failed
        self.granted = 0
        self.registered = asyncio.Event()
        self.registrations = 0  # successful REGISTERs, refreshes included
        self.keepalive_s = account.keepalive
        self.first_retry_s = 2.0
        self._call_id = f"{secrets.token_hex(10)}@bot"
        self._from_tag = new_tag()
        self._cseq = 0
        self._expires = account.expires
        self._task: asyncio.Task[None] | None = None

    @property
    def peer(self) -> Peer:
        host, port = self.account.next_hop
        return Peer(host, port, self.account.transport)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.state == "registered":
            with contextlib.suppress(TimeoutError, OSError):
                await self._register(0, timeout=2.0)
        self.state = "unregistered"

    # -- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self.first_retry_s
        while True:
            self.state = "registering"
            try:
                resp = await self._register(self._expires)
            except (TimeoutError, OSError):
                resp = None
            if resp is not None and resp.status_code == 423:
                minimum = (resp.headers.get_first("min-expires") or "").strip()
                if minimum.isdigit() and int(minimum) > self._expires:
                    self._expires = int(minimum)
                    continue
            if resp is None or not 200 <= resp.status_code < 300:
                self.state = "failed"
                self.registered.clear()
                log.warning(
                    "SIP registration failed",
                    extra={
                        "account": self.index,
                        "registrar": self.peer.host,
                        "status": resp.status_code if resp is not None else "timeout",
                        "retry_s": backoff,
                    },
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = self.first_retry_s
            self.granted = self._granted(resp)
            self.state = "registered"
            self.registrations += 1
            self.registered.set()
            log.info(
                "SIP registered",
                extra={"account": self.index, "registrar": self.peer.host, "expires": self.granted},
            )
            await self._watch(max(1.0, min(self.granted * 0.8, self.granted - 5)))

    async def _watch(self, refresh_in: float) -> None:
        """Until the refresh is due, or the registrar was lost and is back."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + refresh_in
        lost = False
        while loop.time() < deadline:
            await asyncio.sleep(min(self.keepalive_s, max(0.0, deadline - loop.time())))
            if loop.time() >= deadline:
                return
            alive = await self._ping()
            if not alive:
                lost = True
            elif lost:
                log.warning("SIP registrar back: registering again", extra={"account": self.index})
                return

    async def _ping(self) -> bool:
        ep = self.endpoint
        request = self._request("OPTIONS", f"sip:{self.account.domain}")
        request.headers.set_single("To", f"<sip:{self.account.domain}>")
        try:
            await ep.clients.send(request, self.peer, timeout=min(self.keepalive_s, 4.0))
        except (TimeoutError, OSError):
            return False
        return True

    # -- requests ------------------------------------------------------------------------------

    def _request(self, method: str, uri: str) -> SipRequest:
        ep = self.endpoint
        self._cseq += 1
        req = SipRequest(method=method, uri=uri)
        req.headers.append("Via", via(ep.public_host, ep.public_port, self.account.transport))
        req.headers.set_single("Max-Forwards", "70")
        req.headers.set_single("From", f"<{self.account.aor}>;tag={self._from_tag}")
        req.headers.set_single("To", f"<{self.account.aor}>")
        req.headers.set_single("Call-ID", self._call_id if method == "REGISTER" else new_tag())
        req.headers.set_single("CSeq", f"{self._cseq} {method}")
        if self.account.proxy:
            suffix = ";transport=tcp" if self.account.transport == "tcp" else ""
            req.headers.set_single("Route", f"<sip:{self.account.proxy};lr{suffix}>")
        req.headers.set_single("User-Agent", ep.settings.user_agent)
        return req

    async def _register(self, expires: int, timeout: float = 8.0) -> SipResponse:
        ep = self.endpoint
        account = self.account
        registrar = account.registrar or account.domain

        def make() -> SipRequest:
            req = self._request("REGISTER", f"sip:{registrar.split(':')[0]}")
            suffix = ";transport=tcp" if account.transport == "tcp" else ""
            name = f'"{account.display_name}" ' if account.display_name else ""
            req.headers.set_single(
                "Contact",
                f"{name}<sip:{account.username}@{ep.public_host}:{ep.public_port}{suffix}>",
            )
            req.headers.set_single("Expires", str(expires))
            return req

        credentials = SipDigestAuth(account.login, account.password) if account.password else None
        _, resp = await ep.clients.send_with_auth(make, self.peer, credentials, timeout=timeout)
        return resp

    def _granted(self, resp: SipResponse) -> int:
        """Our Contact's ``expires`` in the 200, else Expires, else what we asked."""
        ours = f"{self.account.username}@{self.endpoint.public_host}:{self.endpoint.public_port}"
        for value in resp.headers.get("contact"):
            if ours in value:
                for param in value.split(">", 1)[-1].split(";"):
                    name, _, number = param.partition("=")
                    if name.strip().lower() == "expires" and number.strip().isdigit():
                        return int(number)
        header = (resp.headers.get_first("expires") or "").strip()
        return int(header) if header.isdigit() else self._expires


class Registrations:
    def __init__(self, endpoint: SipEndpoint, accounts: list[SipAccount]) -> None:
        self.items = [Registration(endpoint, a, i) for i, a in enumerate(accounts)]

    def start(self) -> None:
        for item in self.items:
            item.start()

    async def stop(self) -> None:
        await asyncio.gather(*(item.stop() for item in self.items), return_exceptions=True)
