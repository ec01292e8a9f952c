"""The outcome of AMI's ``Originate`` action (:meth:`connectors.pbx.ami.AmiClient.originate`).

With ``Async: true`` the ``Response`` only says the call was queued; the outcome comes later
as an ``OriginateResponse`` event with the same ``ActionID`` (``Response: Success | Failure``
and ``Reason``, the dial cause: 4 answered, 5 busy, 3 no answer, 8 congestion, 0/1 failed),
read here into an :class:`OriginateResult`. The client sends the action and waits.
"""

from __future__ import annotations

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
