"""Blind transfer: REFER (RFC 3515) with NOTIFY progress; a fallback when the PBX refuses.

The REFER carries the caller name for operators («Иван 2(3)», ``UNKNOWN USER``) as the
``caller_name_header`` of the REFER itself (Asterisk reads REFER headers with
``GET_TRANSFERRER_DATA``) and, with ``name_in_refer_to``, as a header of the Refer-To URI,
which an RFC 3515 transferee copies into its new INVITE (``PJSIP_HEADER(read,…)`` on the
operator's side; off by default: baresip 1.0 fails such a transfer with 501).

- 2xx to the REFER, then a NOTIFY with a 2xx sipfrag (the target answered) or the PBX's BYE:
  transferred; we send BYE if the PBX did not.
- REFER refused (403, 405, 501, 603…), no answer within ``timeout``, or a NOTIFY with a final
  failure: ``fallback``. ``bye``: BYE carrying ``result_header: transfer``,
  ``target_header: <target>``, the caller name, and ``Reason: Q.850;cause=23`` («redirection
  to new destination», what FreeSWITCH shows as ``hangup_cause``) for the dialplan to act on.
  ``none``: a plain BYE.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import TYPE_CHECKING

from aiosipua.headers import parse_address

if TYPE_CHECKING:
    from connectors.pbx.sip_call import SipCall

log = logging.getLogger(__name__)
REASON = 'Q.850;cause=23;text="transfer"'


def refer_to(target: str, call: SipCall) -> str:
    """The Refer-To URI: a SIP URI as given; a bare extension at ``transfer.domain`` or the
    host of the caller's From (the PBX that sent the call)."""
    if target.startswith(("sip:", "sips:", "tel:")):
        return target
    domain = call.endpoint.settings.transfer.domain
    if not domain:
        try:
            uri = parse_address(call.dialog.remote_party).uri
            domain = uri.host + (f":{uri.port}" if uri.port else "")
        except Exception:
            domain = call.dialog.peer.host
    user = urllib.parse.quote(target, safe="+*#-_.!~()")
    return f"sip:{user}@{domain}"


def _name_headers(call: SipCall) -> dict[str, str]:
    settings = call.endpoint.settings.transfer
    return {settings.caller_name_header: call.caller_name} if call.caller_name else {}


async def transfer(call: SipCall, target: str) -> None:
    settings = call.endpoint.settings.transfer
    if call.ended.is_set():  # the caller hung up during the transfer notice
        call.outcome.transfer_failed = "caller_hangup"
        return
    outcome = "refused"
    if settings.refer:
        outcome = await refer(call, target)
    if outcome == "transferred":
        log.info("SIP transfer done", extra={"call_id": call.info.call_id})
        await call.hangup()
        return
    call.outcome.transfer_failed = "caller_hangup" if call.ended.is_set() else outcome
    if call.ended.is_set():
        return
    log.warning(
        "SIP transfer by REFER failed, fallback",
        extra={"call_id": call.info.call_id, "outcome": outcome, "fallback": settings.fallback},
    )
    headers: dict[str, str] = {}
    if settings.fallback == "bye":
        headers = {
            settings.result_header: "transfer",
            settings.target_header: target,
            "Reason": REASON,
            **_name_headers(call),
        }
    await call.hangup(headers)


async def refer(call: SipCall, target: str) -> str:
    """Ask the peer to transfer the call (REFER, NOTIFY followed), without hanging up:
    ``transferred`` | ``refused`` | ``timeout`` | ``failed`` | ``ended``."""
    settings = call.endpoint.settings.transfer
    ep = call.endpoint
    uri = refer_to(target, call)
    names = _name_headers(call)
    if names and settings.name_in_refer_to:
        query = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in names.items())
        uri = f"{uri}?{query}"
    request = call.request("REFER")
    request.headers.set_single("Refer-To", f"<{uri}>")
    request.headers.set_single("Referred-By", f"<sip:bot@{ep.public_host}:{ep.public_port}>")
    for name, value in names.items():
        request.headers.set_single(name, value)
    while not call.notify_status.empty():
        call.notify_status.get_nowait()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.timeout
    try:
        resp = await ep.clients.send(request, call.dialog.peer, timeout=settings.timeout)
    except TimeoutError:
        return "timeout"
    if resp.status_code >= 300:
        return "refused"
    while True:
        remaining = deadline - loop.time()
        if call.ended.is_set():
            return "transferred"  # the PBX took the caller and hung our leg up
        if remaining <= 0:
            return "timeout"
        status_task = asyncio.ensure_future(call.notify_status.get())
        ended_task = asyncio.ensure_future(call.ended.wait())
        done, pending = await asyncio.wait(
            {status_task, ended_task}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if status_task in done:
            status = status_task.result()
            if 200 <= status < 300:
                return "transferred"
            if status >= 300:
                return "failed"
