"""Placing a call-back: over SIP from the bot's own endpoint, or with Asterisk AMI ``Originate``.

Both are :class:`~bot.missed.scheduler.Dialer` s (``callbacks.dialer``: ``sip`` | ``ami``).

**SIP** (:class:`SipDialer`): an outbound INVITE (:mod:`connectors.pbx.sip_outbound`) from the
bot's SIP endpoint (``server.sip``), to ``sip:<number>@<callbacks.sip.trunk>`` (``route:
trunk``) or through the registered extension ``server.sip.accounts[n]`` (``route: account``:
its proxy or registrar and its digest login, as a desk phone would). A number or an extension
goes that way; a target written as a whole SIP URI (``sip:101@10.0.0.5``) goes to its own host.

- client first: the client is called; when they answer, the call-back dialog
  (:mod:`dialogs.callback`) greets them («Вы звонили в …») and transfers them with REFER to the
  rule's target (the queue, the first employee, the dispatcher's employees in turn), music
  playing meanwhile; a transfer that fails or takes longer than ``voicemail_after_s`` ends in
  voicemail when the rule has it;
- employee first: the rule's employees are called in turn; the one who answers hears a short
  notice and is transferred (REFER) to the client's number: the PBX places that call and
  bridges the two. The bot itself never bridges audio between two legs.

Busy (486, 600, 603) ➜ ``busy``; no answer (408, 480, 487, the ring timeout) ➜
``no_answer``; any other refusal ➜ ``failed``; an employee nobody answered for ➜
``employee_no_answer``.

**AMI** (:class:`AmiDialer`): Asterisk places the call and runs its own dialplan. Client
first: ``Originate`` of ``callbacks.ami.client_channel`` (the client through the trunk) into
``callbacks.ami.context`` with the target as the extension and the greeting, music and
voicemail wait as channel variables (``CALLBACK_GREETING``, ``CALLBACK_MUSIC``,
``CALLBACK_VOICEMAIL_AFTER``); employee first: ``Originate`` of the employee's channel into
``callbacks.ami.dial_context`` with the client's number as the extension. The outcome is the
``OriginateResponse`` of the first leg (Asterisk reports nothing about the second one here).
See ``docs/missed/callbacks.md`` for the dialplan.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from aiosipua.auth import SipDigestAuth

from bot.missed.callback_call import CONNECTED as LEG_CONNECTED
from bot.missed.callback_call import VOICEMAIL_LEFT, CallbackLeg
from bot.missed.callback_rules import CallbackRule
from bot.missed.callback_settings import CallbackSettings
from bot.missed.scheduler import (
    BUSY,
    CALL_FAILED,
    CONNECTED,
    EMPLOYEE_NO_ANSWER,
    NO_ANSWER,
    VOICEMAIL,
    CallbackRequest,
    CallbackResult,
)
from bot.missed.voicemail import VoicemailRecorder, VoiceMessages
from connectors.pbx.ami import OriginateResult
from connectors.pbx.sip_config import split_hostport
from connectors.pbx.sip_messages import uri_peer
from connectors.pbx.sip_outbound import OutboundResult, invite
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.sip_wire import Peer
from dialogs.callback import EMPLOYEE_NOTICE, CallbackDialog, CallbackScript
from dialogs.context import CallContext
from speech.tts import Synthesizer

log = logging.getLogger(__name__)
BUSY_CODES = frozenset({486, 600, 603})
NO_ANSWER_CODES = frozenset({408, 480, 487})


def sip_outcome(status: int) -> str:
    if status in BUSY_CODES:
        return BUSY
    if status in NO_ANSWER_CODES:
        return NO_ANSWER
    return CALL_FAILED


def script_for(rule: CallbackRule, settings: CallbackSettings, client_uri: str) -> CallbackScript:
    """What the leg says and where it goes, from the rule."""
    if rule.first == "employee":
        return CallbackScript("employee", client_uri, EMPLOYEE_NOTICE)
    return CallbackScript(
        "client",
        rule.target,
        rule.greeting_text(settings.shop_name),
        voicemail=rule.voicemail_after_s is not None,
        voicemail_greeting=rule.voicemail_greeting,
        straight_to_voicemail=rule.target_kind == "voicemail",
    )


class SipDialer:
    def __init__(
        self,
        endpoint: SipEndpoint,
        settings: CallbackSettings,
        synthesizer: Synthesizer,
        voicemail: VoicemailRecorder | None = None,
        messages: VoiceMessages | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.synthesizer = synthesizer
        self.voicemail = voicemail
        self.messages = messages

    # -- where the INVITE goes -----------------------------------------------------------------

    def _route(self) -> tuple[str, Peer, SipDigestAuth | None]:
        """(the host part of the request URI, the next hop, the digest credentials)."""
        sip = self.settings.sip
        if sip.route == "account":
            accounts = self.endpoint.settings.accounts
            if sip.account >= len(accounts):
                raise ValueError("callbacks.sip.account: no such server.sip.accounts entry")
            account = accounts[sip.account]
            host, port = account.next_hop
            login = SipDigestAuth(account.login, account.password) if account.password else None
            return account.domain, Peer(host, port, account.transport), login
        if not sip.trunk:
            raise ValueError("callbacks.sip.trunk is not set")
        host, port = split_hostport(sip.trunk, "callbacks.sip.trunk")
        login = SipDigestAuth(sip.username, sip.password) if sip.username else None
        return sip.trunk, Peer(host, port, "udp"), login

    def uri_for(self, number: str) -> str:
        if number.startswith(("sip:", "sips:")):
            return number
        domain, _, _ = self._route()
        return f"sip:{number}@{domain}"

    async def _dial(self, number: str) -> OutboundResult:
        _, hop, login = self._route()
        if number.startswith(("sip:", "sips:")):  # a full SIP URI goes to its own host
            hop = uri_peer(number, hop)
        caller_id = self.settings.sip.caller_id
        if self.settings.sip.route == "account":
            caller_id = self.endpoint.settings.accounts[self.settings.sip.account].username
        return await invite(
            self.endpoint,
            self.uri_for(number),
            hop,
            caller_id=caller_id,
            credentials=login,
            ring_timeout=self.settings.sip.ring_timeout_s,
        )

    # -- the call-back -------------------------------------------------------------------------

    async def call_back(self, request: CallbackRequest) -> CallbackResult:
        if request.rule.first == "employee":
            return await self._employee_first(request)
        return await self._client_first(request)

    async def _client_first(self, request: CallbackRequest) -> CallbackResult:
        rule = request.rule
        placed = await self._dial(request.number)
        if placed.call is None:
            return CallbackResult(sip_outcome(placed.status), {"sip_status": placed.status})
        script = script_for(rule, self.settings, "")
        leg = CallbackLeg(
            placed.call,
            self.synthesizer,
            wait_s=rule.voicemail_after_s,
            music=Path(rule.music) if rule.music else None,
            voicemail=self.voicemail if script.voicemail or script.straight_to_voicemail else None,
            targets=rule.targets,
        )
        context = CallContext(placed.call.info.call_id, request.caller, request.called,
                              connector="sip")  # fmt: skip
        result = await leg.run(CallbackDialog(context, script))
        detail: dict[str, object] = {
            "sip_status": placed.status,
            "first": "client",
            "target": result.target,
            "transfer": result.refer_status,
            "call_id": placed.call.info.call_id,
            **result.detail,
        }
        if result.outcome == VOICEMAIL_LEFT and result.recording is not None:
            if self.messages is not None:
                message = await self.messages.add(
                    result.recording,
                    caller=request.caller,
                    called=request.called,
                    missed_id=request.missed_ids[-1] if request.missed_ids else None,
                    job_id=request.job_id,
                    rule=rule.name,
                    call_id=placed.call.info.call_id,
                )
                detail["voice_message"] = message.id
            return CallbackResult(VOICEMAIL, detail)
        if result.outcome == LEG_CONNECTED:
            return CallbackResult(CONNECTED, detail)
        return CallbackResult(EMPLOYEE_NO_ANSWER, detail)  # the client waited for nobody

    async def _employee_first(self, request: CallbackRequest) -> CallbackResult:
        rule = request.rule
        client_uri = self.uri_for(request.number)
        tried: list[dict[str, object]] = []
        for employee in rule.targets:
            placed = await self._dial(employee)
            tried.append({"employee": employee, "sip_status": placed.status})
            if placed.call is None:
                continue
            leg = CallbackLeg(placed.call, self.synthesizer)
            context = CallContext(placed.call.info.call_id, None, employee, connector="sip")
            script = script_for(rule, self.settings, client_uri)
            result = await leg.run(CallbackDialog(context, script))
            detail = {
                "first": "employee",
                "employee": employee,
                "transfer": result.refer_status,
                "call_id": placed.call.info.call_id,
                "tried": tried,
            }
            if result.outcome == LEG_CONNECTED and result.refer_status == "transferred":
                return CallbackResult(CONNECTED, detail)
            return CallbackResult(CALL_FAILED, detail)  # the PBX could not reach the client
        return CallbackResult(EMPLOYEE_NO_ANSWER, {"first": "employee", "tried": tried})


class Originator(Protocol):
    """What :class:`AmiDialer` needs of :class:`connectors.pbx.ami.AmiClient`."""

    async def originate(
        self,
        channel: str,
        *,
        context: str = "",
        exten: str = "",
        priority: str = "1",
        application: str = "",
        data: str = "",
        caller_id: str = "",
        timeout_s: float = 30.0,
        variables: dict[str, str] | None = None,
        account: str = "",
        wait_s: float | None = None,
    ) -> OriginateResult: ...


AMI_OUTCOMES = {"answered": CONNECTED, "busy": BUSY, "no_answer": NO_ANSWER}


class AmiDialer:
    def __init__(self, ami: Originator, settings: CallbackSettings) -> None:
        self.ami = ami
        self.settings = settings

    async def call_back(self, request: CallbackRequest) -> CallbackResult:
        ami = self.settings.ami
        rule = request.rule
        variables = {"CALLBACK_JOB": str(request.job_id), "CALLBACK_RULE": rule.name}
        if rule.first == "employee":
            tried: list[dict[str, str]] = []
            for employee in rule.targets:
                result = await self.ami.originate(
                    ami.employee_channel.format(extension=employee),
                    context=ami.dial_context,
                    exten=request.number,
                    caller_id=f"<{request.number}>",
                    timeout_s=ami.ring_timeout_s,
                    variables=variables,
                    wait_s=ami.ring_timeout_s + 15,
                )
                tried.append({"employee": employee, "reason": result.reason})
                if result.success:
                    detail = {"first": "employee", "employee": employee, "tried": tried}
                    return CallbackResult(CONNECTED, {**detail, "ami": result.reason})
            return CallbackResult(EMPLOYEE_NO_ANSWER, {"first": "employee", "tried": tried})
        variables.update(
            CALLBACK_GREETING=rule.greeting_text(self.settings.shop_name),
            CALLBACK_MUSIC=rule.music,
            CALLBACK_VOICEMAIL_AFTER=str(int(rule.voicemail_after_s or 0)),
            CALLBACK_TARGET_KIND=rule.target_kind,
        )
        result = await self.ami.originate(
            ami.client_channel.format(number=request.number),
            context=ami.context,
            exten=rule.target or "s",
            timeout_s=ami.ring_timeout_s,
            variables=variables,
            wait_s=ami.ring_timeout_s + 15,
        )
        outcome = AMI_OUTCOMES.get(result.reason, CALL_FAILED)
        detail = {"first": "client", "ami": result.reason, "ami_code": result.reason_code}
        return CallbackResult(outcome, detail)
