"""AMI's Originate (``connectors.pbx.ami_originate``): what an ``OriginateResponse`` event says
of the call (the client's round trip is in test_pbx_ami)."""

from __future__ import annotations

import pytest

from connectors.pbx.ami_originate import originate_result


@pytest.mark.parametrize(
    ("response", "code", "reason", "success"),
    [
        ("Success", "4", "answered", True),
        ("Failure", "5", "busy", False),
        ("Failure", "3", "no_answer", False),
        ("Failure", "8", "congestion", False),
        ("Failure", "4", "failed", False),  # «answered» with a failure is no answer
        ("Failure", "99", "failed", False),
    ],
)
def test_the_outcome(response: str, code: str, reason: str, success: bool) -> None:
    event = {"Event": "OriginateResponse", "Response": response, "Reason": code}
    result = originate_result({**event, "Uniqueid": "<null>", "Channel": "PJSIP/103-1"})
    assert (result.success, result.reason, result.reason_code) == (success, reason, code)
    assert result.uniqueid == "" and result.channel == "PJSIP/103-1"
