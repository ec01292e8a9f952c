"""Outbound calls from the bot's SIP endpoint (the UAC side): INVITE ➜ answered
:class:`~connectors.pbx.sip_call.SipCall`, or the final status that refused it.

The INVITE goes from the endpoint's own socket (so the PBX sees the address it knows: the
trunk peer, or the registered extension's contact), with a G.711 offer on a port of the
endpoint's RTP range. A ``401``/``407`` challenge is answered once (digest MD5 or SHA-256)
with the trunk's or the extension's credentials. Provisional answers are followed; no final
answer within ``ring_timeout`` sends ``CANCEL`` (RFC 3261 §9) and the result is ``408``. A
non-2xx final answer is ACKed within its transaction (same branch); a 2xx gets an ACK of its
own (§13.2.2.4) and becomes a dialog: our From tag is the local tag, the To tag of the 200 the
remote one, its Contact the remote target, its Record-Route reversed the route set. The call
then runs exactly like an answered inbound one (REFER transfer, BYE either way, timers).

Assumed and not done: forking (several 2xx to one INVITE: the first one wins, later ones are
not ACKed) and 2xx retransmissions after our ACK was lost (the callee ends the call, RFC 3261
§13.3.1.4); neither happens on one trunk or a registrar that does not fork. A challenge is
ACKed (it is a non-2xx final answer) before the INVITE goes again with the credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from aiosipua.auth import SipDigestAuth, build_credentials
from aiosipua.headers import parse_auth, stringify_auth
from aiosipua.message import SipRequest, SipResponse

from connectors.pbx import sip_sdp
from connectors.pbx.sip_call import SipCall
from connectors.pbx.sip_messages import Dialog, contact, new_tag, uri_peer, user_of, via
from connectors.pbx.sip_rtp import RtpStream
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.sip_wire import Peer
from connectors.pbx.transport import CallInfo

log = logging.getLogger(__name__)
TIMEOUT = 408


@dataclass(slots=True)
class OutboundResult:
    status: int  # the final SIP status (200: answered; 408: no final answer in time)
    call: SipCall | None = None  # the answered call (status 2xx)
    reason: str = ""  # the reason phrase


async def invite(
    endpoint: SipEndpoint,
    uri: str,
    next_hop: Peer,
    *,
    caller_id: str = "bot",
    credentials: SipDigestAuth | None = None,
    ring_timeout: float = 40.0,
    headers: dict[str, str] | None = None,
) -> OutboundResult:
    """Call ``uri`` (``sip:89161234567@pbx``) through ``next_hop``; see the module doc."""
    settings = endpoint.settings
    host, port = endpoint.public_host, endpoint.public_port
    call_id = f"{secrets.token_hex(10)}@bot"
    tag = new_tag()
    local_party = f"<sip:{caller_id}@{host}:{port}>"
    try:
        rtp = await endpoint.pool.bind(settings.media_host, lambda: RtpStream(_no, _no))
    except OSError:
        log.error("SIP outbound call: no free RTP port")
        return OutboundResult(503, reason="no RTP port")
    body = sip_sdp.offer(settings.codecs, endpoint.media_public_host, rtp.port, 1)
    cseq = 0
    sent: list[SipRequest] = []
    provisional: list[SipResponse] = []

    def make() -> SipRequest:
        nonlocal cseq
        cseq += 1
        request = SipRequest(method="INVITE", uri=uri)
        request.headers.append("Via", via(host, port, next_hop.transport))
        request.headers.set_single("Max-Forwards", "70")
        request.headers.set_single("From", f"{local_party};tag={tag}")
        request.headers.set_single("To", f"<{uri}>")
        request.headers.set_single("Call-ID", call_id)
        request.headers.set_single("CSeq", f"{cseq} INVITE")
        request.headers.set_single("Contact", contact(host, port, next_hop.transport))
        request.headers.set_single("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY")
        request.headers.set_single("Supported", "timer, replaces")
        request.headers.set_single("User-Agent", settings.user_agent)
        for name, value in (headers or {}).items():
            request.headers.set_single(name, value)
        request.headers.set_single("Content-Type", "application/sdp")
        request.text = body
        sent.append(request)
        return request

    answered = False
    try:
        try:
            request = make()
            resp = await endpoint.clients.send(
                request, next_hop, timeout=ring_timeout, on_provisional=provisional.append
            )
            if resp.status_code in (401, 407) and credentials is not None:
                _ack_failure(endpoint, request, resp, next_hop)
                retry = _authorized(make, resp, credentials)
                if retry is not None:
                    request = retry
                    resp = await endpoint.clients.send(
                        request, next_hop, timeout=ring_timeout, on_provisional=provisional.append
                    )
        except TimeoutError:
            await _cancel(endpoint, sent[-1], next_hop, provisional)
            log.info("SIP outbound call unanswered", extra={"call_id": call_id})
            return OutboundResult(TIMEOUT, reason="no answer")
        if resp.status_code >= 300:
            _ack_failure(endpoint, request, resp, next_hop)
            log.info(
                "SIP outbound call refused",
                extra={"call_id": call_id, "status": resp.status_code},
            )
            return OutboundResult(resp.status_code, reason=resp.reason_phrase)
        dialog = _dialog(request, resp, local_party, tag, next_hop)
        _send_ack(endpoint, dialog, request)
        try:
            media = sip_sdp.negotiate(resp.text, settings.codecs)
        except sip_sdp.SdpError as exc:
            log.warning("SIP outbound call: bad SDP answer", extra={"error": str(exc)})
            media = None
        callee = user_of(f"<{uri}>")
        info = CallInfo(call_id, callee, caller_id, "sip", {"direction": "outbound"})
        call = SipCall(endpoint, info, dialog, request, rtp, None)
        endpoint.calls[call_id] = call
        answered = True
        if media is None:
            await call.hangup()
            return OutboundResult(488, reason="no common codec")
        call._apply(media)
        call.confirmed.set()
        call.start_watch()
        endpoint.calls_total += 1
        log.info("SIP outbound call answered", extra={"call_id": call_id})
        return OutboundResult(resp.status_code, call, resp.reason_phrase)
    finally:
        if not answered:
            rtp.close()


def _authorized(
    make: Callable[[], SipRequest], challenge: SipResponse, credentials: SipDigestAuth
) -> SipRequest | None:
    """The INVITE again with an answer to the strongest digest challenge (RFC 8760)."""
    name = "www-authenticate" if challenge.status_code == 401 else "proxy-authenticate"
    header = "Authorization" if challenge.status_code == 401 else "Proxy-Authorization"
    for raw in sorted(challenge.headers.get(name), key=lambda c: "sha-256" not in c.lower()):
        try:
            parsed = parse_auth(raw)
        except Exception:
            continue
        retry = make()
        answer = build_credentials(credentials, parsed, retry.method, retry.uri)
        if answer is None:
            continue
        retry.headers.set_single(header, stringify_auth(answer))
        return retry
    return None


def _dialog(
    request: SipRequest, resp: SipResponse, local_party: str, tag: str, hop: Peer
) -> Dialog:
    raw = resp.headers.get_first("contact") or ""
    target = raw[raw.find("<") + 1 : raw.find(">")] if "<" in raw else raw.split(";")[0]
    routes = list(reversed(resp.headers.get("record-route")))  # UAC: reversed (§12.1.2)
    target = target.strip() or request.uri
    peer = uri_peer(routes[0], hop) if routes else uri_peer(target, hop)
    cseq = request.cseq.seq if request.cseq else 1
    return Dialog(
        call_id=request.call_id or "",
        local_tag=tag,
        remote_tag=_tag(resp.headers.get_first("to") or ""),
        local_party=local_party,
        remote_party=resp.headers.get_first("to") or "",
        remote_target=target,
        route_set=routes,
        peer=peer,
        local_cseq=cseq,
    )


def _tag(header: str) -> str:
    for param in header.split(">", 1)[-1].split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "tag":
            return value.strip()
    return ""


def _send_ack(endpoint: SipEndpoint, dialog: Dialog, invite_request: SipRequest) -> None:
    cseq = invite_request.cseq.seq if invite_request.cseq else 1
    ack = dialog.request("ACK", endpoint.public_host, endpoint.public_port, cseq=cseq)
    endpoint.wire.send(ack, dialog.peer)


def _ack_failure(endpoint: SipEndpoint, request: SipRequest, resp: SipResponse, hop: Peer) -> None:
    """ACK for a non-2xx final answer: the INVITE's Via (same branch), the answer's To."""
    ack = SipRequest(method="ACK", uri=request.uri)
    ack.headers.append("Via", request.headers.get_first("via") or "")
    ack.headers.set_single("Max-Forwards", "70")
    ack.headers.set_single("From", request.headers.get_first("from") or "")
    ack.headers.set_single("To", resp.headers.get_first("to") or "")
    ack.headers.set_single("Call-ID", request.call_id or "")
    ack.headers.set_single("CSeq", f"{request.cseq.seq if request.cseq else 1} ACK")
    endpoint.wire.send(ack, hop)


async def _cancel(
    endpoint: SipEndpoint, request: SipRequest, hop: Peer, provisional: list[SipResponse]
) -> None:
    """CANCEL the INVITE (only after a provisional answer, RFC 3261 §9.1), then ACK its 487."""
    if not provisional:
        return
    cancel = SipRequest(method="CANCEL", uri=request.uri)
    cancel.headers.append("Via", request.headers.get_first("via") or "")
    cancel.headers.set_single("Max-Forwards", "70")
    cancel.headers.set_single("From", request.headers.get_first("from") or "")
    cancel.headers.set_single("To", request.headers.get_first("to") or "")
    cancel.headers.set_single("Call-ID", request.call_id or "")
    cancel.headers.set_single("CSeq", f"{request.cseq.seq if request.cseq else 1} CANCEL")
    with contextlib.suppress(TimeoutError, OSError):
        await endpoint.clients.send(cancel, hop, timeout=4.0)
    await asyncio.sleep(0.2)  # the 487 to the INVITE follows the 200 to the CANCEL
    fake_487 = SipResponse(status_code=487, reason_phrase="Request Terminated")
    fake_487.headers.set_single("To", provisional[-1].headers.get_first("to") or "")
    _ack_failure(endpoint, request, fake_487, hop)


def _no(*_: object) -> None:
    return None
