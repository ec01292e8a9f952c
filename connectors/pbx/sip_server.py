"""The SIP endpoint: the bot as a trunk peer or a registered extension of any PBX.

Requests are dispatched here; one :class:`~connectors.pbx.sip_call.SipCall` per answered
INVITE runs the bot's ``handler`` (the session). What a new INVITE meets, in order:

1. source: ``allow_ips`` (CIDRs) or, with accounts and no ``allow_ips``, only the
   registrars' and proxies' addresses; else ``403``;
2. ``max_calls``: more calls at once get ``busy_status`` (486 or 503);
3. digest (trunk ``username``/``password``): ``401`` with SHA-256 and MD5 challenges;
4. ``Require`` we do not support ➜ ``420``; Session-Expires under ``min_se`` ➜ ``422``;
5. SDP: no common codec ➜ ``488``; a body that is not SDP ➜ ``415``.

Then ``100 Trying`` (``180 Ringing`` first when ``answer_after_ms`` is set), RTP on a port
from the range, ``200 OK`` with our answer, retransmitted over UDP until the ACK. OPTIONS
(PBX qualify) get ``200`` with Allow. Logs carry call ids and addresses, never numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from typing import Any

from aiosipua.message import SipRequest, SipResponse

from connectors.pbx import sip_sdp
from connectors.pbx.sip_auth import DigestChecker
from connectors.pbx.sip_call import SipCall
from connectors.pbx.sip_config import SipSettings
from connectors.pbx.sip_messages import ALLOW, Dialog, call_parties, contact, new_tag, response
from connectors.pbx.sip_register import Registrations
from connectors.pbx.sip_rtp import PortPool, RtpStream
from connectors.pbx.sip_transactions import T1, T2, ClientTransactions, ServerCache
from connectors.pbx.sip_wire import Peer, SipWire
from connectors.pbx.transport import CallHandler, CallInfo

log = logging.getLogger(__name__)
SUPPORTED = "timer, replaces"


class SipEndpoint:
    def __init__(self, handler: CallHandler, settings: SipSettings) -> None:
        self.handler = handler
        self.settings = settings
        self.wire = SipWire(
            self._on_message,
            settings.host,
            settings.port,
            udp=settings.udp,
            tcp=settings.tcp,
            max_bytes=settings.max_message_bytes,
            idle_timeout=settings.tcp_idle_timeout,
            max_connections=settings.max_tcp_connections,
        )
        self.clients = ClientTransactions(self.wire)
        self.cache = ServerCache()
        self.pool = PortPool(settings.rtp_port_min, settings.rtp_port_max)
        self.auth = (
            DigestChecker(
                settings.username,
                settings.password,
                settings.realm,
                tuple(settings.digest_algorithms),
            )
            if settings.username
            else None
        )
        self.allow = [ipaddress.ip_network(c, strict=False) for c in settings.allow_ips]
        self.trusted: set[str] = set()  # registrar / proxy addresses (extension mode)
        self.registrations = Registrations(self, settings.accounts)
        self.calls: dict[str, SipCall] = {}
        self.ringing: dict[str, tuple[SipRequest, Peer, str]] = {}  # Call-ID ➜ INVITE, tag
        self.answer_after_ms = 0
        self.own_users = {"bot", *(a.username for a in settings.accounts)}
        self.calls_total = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.wire.port

    @property
    def public_host(self) -> str:
        return self.settings.advertised_host

    @property
    def public_port(self) -> int:
        return self.settings.public_port or self.wire.port

    @property
    def media_public_host(self) -> str:
        return self.settings.advertised_host

    @property
    def active_calls(self) -> int:
        return len(self.calls) + len(self.ringing)

    # -- start / stop --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.wire.start()
        loop = asyncio.get_running_loop()
        for account in self.settings.accounts:
            for host in {account.next_hop[0], account.domain.split(":")[0]}:
                with contextlib.suppress(OSError):
                    for info in await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM):
                        self.trusted.add(str(info[4][0]))
        self.registrations.start()
        open_to_all = not (self.allow or self.auth or self.settings.accounts)
        if open_to_all and not ipaddress.ip_address(_host_ip(self.settings.host)).is_loopback:
            log.warning(
                "SIP endpoint takes INVITEs from any address: set server.sip.allow_ips or a "
                "digest username/password",
                extra={"host": self.settings.host, "port": self.port},
            )

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking calls; calls get ``grace`` seconds, then BYE; unregister."""
        self.stopping = True
        deadline = loop_time() + grace
        while self.calls and loop_time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.gather(
            *(c.hangup() for c in list(self.calls.values())), return_exceptions=True
        )
        await self.registrations.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.wire.stop()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def forget(self, call: SipCall) -> None:
        if self.calls.get(call.dialog.call_id) is call:
            del self.calls[call.dialog.call_id]

    # -- dispatch ------------------------------------------------------------------------------

    def send_response(self, request: SipRequest, resp: SipResponse, peer: Peer) -> None:
        data = bytes(resp)
        if request.method != "ACK":
            self.cache.remember(request, data, peer)
        self.wire.send_raw(data, peer)

    def _reply(self, request: SipRequest, peer: Peer, code: int, **kw: Any) -> None:
        tag = kw.pop("to_tag", None) or new_tag()
        resp = response(request, code, to_tag=tag, user_agent=self.settings.user_agent, **kw)
        self.send_response(request, resp, peer)

    def _on_message(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        if isinstance(message, SipResponse):
            if not self.clients.on_response(message):
                self._stray_response(message)
            return
        request = message
        method = request.method.upper()
        if method != "ACK":
            cached = self.cache.seen(request)
            if cached is not None:
                self.wire.send_raw(*cached)
                return
        call = self.calls.get(request.call_id or "")
        if method == "INVITE" and call is None:
            if (request.call_id or "") in self.ringing:
                return  # a retransmission we are still answering
            self._new_invite(request, peer)
        elif method == "ACK":
            if call is not None and call.dialog.matches(request):
                call.on_ack(request)
        elif method == "CANCEL":
            self._cancel(request, peer)
        elif method == "OPTIONS" and call is None:
            headers = {"Allow": ALLOW, "Accept": "application/sdp", "Supported": SUPPORTED}
            self._reply(request, peer, 200, headers=headers)
        elif method == "REGISTER":
            self._reply(request, peer, 405, headers={"Allow": ALLOW})
        elif call is None or not call.dialog.matches(request):
            if method in ("BYE", "INFO", "UPDATE", "NOTIFY", "INVITE", "OPTIONS", "REFER"):
                self._reply(request, peer, 481)
            else:
                self._reply(request, peer, 405, headers={"Allow": ALLOW})
        else:
            self._in_dialog(call, request, peer)

    def _in_dialog(self, call: SipCall, request: SipRequest, peer: Peer) -> None:
        method = request.method.upper()
        cseq = request.cseq.seq if request.cseq else 0
        if cseq <= call.dialog.remote_cseq and method != "BYE":
            self._reply(request, peer, 500, to_tag=call.dialog.local_tag)
            return
        call.dialog.remote_cseq = max(call.dialog.remote_cseq, cseq)
        if method == "BYE":
            self.send_response(request, call.reply(request, 200), peer)
            call.on_bye()
        elif method in ("INVITE", "UPDATE"):
            self.send_response(request, call.on_refresh(request), peer)
        elif method == "INFO":
            self.send_response(request, call.on_info(request), peer)
        elif method == "NOTIFY":
            self.send_response(request, call.reply(request, 200), peer)
            status = refer_status(request)
            if status and not call.notify_status.full():
                call.notify_status.put_nowait(status)
        elif method == "OPTIONS":
            self.send_response(request, call.reply(request, 200, headers={"Allow": ALLOW}), peer)
        else:
            self.send_response(request, call.reply(request, 405, headers={"Allow": ALLOW}), peer)

    def _stray_response(self, resp: SipResponse) -> None:
        """A 2xx retransmitted to a re-INVITE or REFER we no longer wait for: ignore."""

    # -- new calls -----------------------------------------------------------------------------

    def _allowed(self, peer: Peer) -> bool:
        if self.allow:
            address = ipaddress.ip_address(peer.host)
            return address in self.trusted or any(address in net for net in self.allow)
        if self.settings.accounts:
            return peer.host in self.trusted
        return True

    def _new_invite(self, invite: SipRequest, peer: Peer) -> None:
        settings = self.settings
        if not self._allowed(peer) or self.stopping:
            log.warning("SIP INVITE refused", extra={"peer": peer.host, "reason": "source"})
            self._reply(invite, peer, 403 if not self.stopping else 503)
            return
        if self.active_calls >= settings.max_calls:
            log.warning("SIP INVITE refused", extra={"peer": peer.host, "reason": "max_calls"})
            self._reply(invite, peer, settings.busy_status, headers={"Retry-After": "10"})
            return
        if self.auth is not None and peer.host not in self.trusted and not self.auth.check(invite):
            resp = response(invite, 401, to_tag=new_tag(), user_agent=settings.user_agent)
            for challenge in self.auth.challenges():
                resp.headers.append("WWW-Authenticate", challenge)
            self.send_response(invite, resp, peer)
            return
        required = {r.strip().lower() for r in invite.headers.get("require") if r.strip()}
        if required - {"timer"}:
            headers = {"Unsupported": ", ".join(sorted(required - {"timer"}))}
            self._reply(invite, peer, 420, reason="Bad Extension", headers=headers)
            return
        expires = (invite.headers.get_first("session-expires") or "").split(";")[0].strip()
        if expires.isdigit() and int(expires) < settings.min_se:
            self._reply(invite, peer, 422, headers={"Min-SE": str(settings.min_se)})
            return
        media = None
        kind = (invite.content_type or "application/sdp").split(";")[0].strip().lower()
        if invite.body and kind != "application/sdp":
            self._reply(invite, peer, 415, headers={"Accept": "application/sdp"})
            return
        if invite.body:
            try:
                media = sip_sdp.negotiate(invite.text, settings.codecs)
            except sip_sdp.SdpError as exc:
                log.warning("SIP INVITE refused", extra={"peer": peer.host, "error": str(exc)})
                if isinstance(exc, sip_sdp.SdpMalformed):
                    self._reply(invite, peer, 400, reason="Bad Request (malformed SDP)")
                else:
                    self._reply(invite, peer, 488, headers={"Warning": '304 bot "no common codec"'})
                return
        dialog = Dialog.from_invite(invite, peer)
        self.ringing[dialog.call_id] = (invite, peer, dialog.local_tag)
        self._reply(invite, peer, 100)
        self.spawn(self._answer(invite, peer, dialog, media))

    async def _answer(
        self, invite: SipRequest, peer: Peer, dialog: Dialog, media: sip_sdp.Media | None
    ) -> None:
        settings = self.settings
        rtp: RtpStream | None = None
        try:
            if self.answer_after_ms:
                self._reply(invite, peer, 180, to_tag=dialog.local_tag)
                await asyncio.sleep(self.answer_after_ms / 1000)
            if dialog.call_id not in self.ringing:
                return  # cancelled meanwhile
            try:
                rtp = await self.pool.bind(settings.media_host, lambda: RtpStream(_no, _no))
            except OSError:
                log.error("SIP INVITE refused: no free RTP port", extra={"peer": peer.host})
                self._reply(invite, peer, 503, to_tag=dialog.local_tag)
                return
            caller, called, extra = call_parties(invite, self.own_users)
            extra["transport"] = peer.transport
            info = CallInfo(dialog.call_id, caller, called, "sip", extra)
            call = SipCall(self, info, dialog, invite, rtp, None)
            if media is not None:
                call._apply(media)
                body = call.sdp_answer()
            else:
                body = sip_sdp.offer(settings.codecs, self.media_public_host, rtp.port, 1)
                rtp.configure("PCMA", 8, 101, (peer.host, 0), False)
            headers = call.session_headers(invite)
            headers.update(
                {
                    "Contact": contact(self.public_host, self.public_port, peer.transport),
                    "Allow": ALLOW,
                    "Supported": SUPPORTED,
                    "Content-Type": "application/sdp",
                }
            )
            ok = call.reply(invite, 200, headers=headers)
            ok.text = body
            if self.ringing.pop(dialog.call_id, None) is None:
                rtp.close()
                return
            rtp = None  # the call owns it now
            self.calls[dialog.call_id] = call
            self.calls_total += 1
            self.send_response(invite, ok, peer)
            log.info("SIP call answered", extra={"call_id": dialog.call_id, "peer": peer.host})
            call.start_watch()
            self.spawn(self._retransmit_ok(call, bytes(ok), peer))
            await self._run(call)
        finally:
            self.ringing.pop(dialog.call_id, None)
            if rtp is not None:
                rtp.close()

    async def _retransmit_ok(self, call: SipCall, data: bytes, peer: Peer) -> None:
        """RFC 3261 §13.3.1.4: the 2xx again until the ACK; no ACK in 32 s ends the call."""
        interval = T1
        waited = 0.0
        while not call.confirmed.is_set() and not call.ended.is_set():
            if waited >= 64 * T1:
                log.warning("SIP call: no ACK, ending it", extra={"call_id": call.info.call_id})
                await call.hangup()
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await call.confirmed.wait()
            waited += interval
            if peer.transport == "udp" and not call.confirmed.is_set():
                self.wire.send_raw(data, peer)
            interval = min(interval * 2, T2)

    async def _run(self, call: SipCall) -> None:
        try:
            await self.handler(call)
        except Exception:
            log.exception("SIP call: handler failed", extra={"call_id": call.info.call_id})
        finally:
            if not call.ended.is_set():
                await call.hangup()
            log.info(
                "SIP call ended", extra={"call_id": call.info.call_id, "reason": call.end_reason}
            )

    def _cancel(self, cancel: SipRequest, peer: Peer) -> None:
        ringing = self.ringing.pop(cancel.call_id or "", None)
        if ringing is None:
            self._reply(cancel, peer, 481 if cancel.call_id not in self.calls else 200)
            return
        invite, invite_peer, tag = ringing
        self._reply(cancel, peer, 200, to_tag=tag)
        self._reply(invite, invite_peer, 487, to_tag=tag)
        log.info("SIP call cancelled before answer", extra={"peer": peer.host})


def refer_status(notify: SipRequest) -> int:
    """The status code in a REFER progress NOTIFY (``message/sipfrag``), 0 if none."""
    event = (notify.headers.get_first("event") or notify.headers.get_first("o") or "").lower()
    if not event.startswith("refer"):
        return 0
    words = notify.text.strip().split(None, 2)
    if len(words) >= 2 and words[0].upper().startswith("SIP/") and words[1].isdigit():
        return int(words[1])
    return 0


def _host_ip(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "0.0.0.0"  # a name: treat as reachable from outside
    return host


def _no(*_: object) -> None:
    return None


def loop_time() -> float:
    return asyncio.get_running_loop().time()
