"""AMI's ``Originate`` action (:meth:`connectors.pbx.ami.AmiClient.originate`): its fields and
its outcome.

With ``Async: true`` the ``Response`` only says the call was queued; the outcome comes later
as an ``OriginateResponse`` event with the same ``ActionID`` (``Response: Success | Failure``
and ``Reason``, the dial cause: 4 answered, 5 busy, 3 no answer, 8 congestion, 0/1 failed),
read here into an :class:`OriginateResult`. The client does the sending and the waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from connectors.pbx.ami_wire import Message

# OriginateResponse's Reason: the dial cause of the outbound channel (Asterisk's
# AST_CONTROL_* values as the manager reports them)
ORIGINATE_REASONS: Final[dict[str, str]] = {
    "0": "failed",
    "1": "hangup",
    "3": "no_answer",
    "4": "answered",
    "5": "busy",
    "8": "congestion",
}


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """The outcome of an Async ``Originate``."""

    success: bool
    reason: str  # answered | busy | no_answer | congestion | failed | hangup | error | timeout
    reason_code: str = ""  # OriginateResponse's Reason as sent
    uniqueid: str = ""  # of the outbound channel ("" / "<null>" when it never existed)
    channel: str = ""
    event: Message = field(default_factory=dict, repr=False)


def originate_fields(
    channel: str,
    *,
    context: str = "",
    exten: str = "",
    priority: str = "1",
    application: str = "",
    data: str = "",
    caller_id: str = "",
    timeout_s: float = 30.0,
    variables: Mapping[str, str] | None = None,
    account: str = "",
) -> dict[str, str | list[str]]:
    """The action's fields (without its ``ActionID``): ``channel`` rings ``timeout_s``, then
    goes to ``context``/``exten``/``priority`` or to ``application``(``data``)."""
    fields: dict[str, str | list[str]] = {
        "Action": "Originate",
        "Channel": channel,
        "Timeout": str(int(timeout_s * 1000)),
        "Async": "true",
    }
    if application:
        fields.update(Application=application, Data=data)
    else:
        fields.update(Context=context, Exten=exten, Priority=priority)
    if caller_id:
        fields["CallerID"] = caller_id
    if account:
        fields["Account"] = account
    if variables:
        fields["Variable"] = [f"{k}={v}" for k, v in variables.items()]
    return fields


def originate_result(event: Message) -> OriginateResult:
    """What an ``OriginateResponse`` event says of the call."""
    code = event.get("Reason", "")
    success = event.get("Response", "").lower() == "success"
    reason = "answered" if success else ORIGINATE_REASONS.get(code, "failed")
    if not success and reason == "answered":
        reason = "failed"
    uniqueid = event.get("Uniqueid", "")
    return OriginateResult(
        success=success,
        reason=reason,
        reason_code=code,
        uniqueid="" if uniqueid == "<null>" else uniqueid,
        channel=event.get("Channel", ""),
        event=event,
    )
