"""AMI's Originate (``connectors.pbx.ami_originate``): the action's fields, and what an
``OriginateResponse`` event says of the call (the client's round trip is in test_pbx_ami)."""

from __future__ import annotations

import pytest

from connectors.pbx.ami_originate import originate_fields, originate_result


def test_fields_for_a_context_or_an_application() -> None:
    fields = originate_fields(
        "PJSIP/103", context="callback", exten="79161234567", timeout_s=25, variables={"A": "1"}
    )
    assert fields == {
        "Action": "Originate",
        "Channel": "PJSIP/103",
        "Timeout": "25000",
        "Async": "true",
        "Context": "callback",
        "Exten": "79161234567",
        "Priority": "1",
        "Variable": ["A=1"],
    }
    app = originate_fields("Local/1@x", application="Playback", data="hello", caller_id="Shop")
    assert app["Application"] == "Playback" and app["Data"] == "hello"
    assert "Context" not in app and app["CallerID"] == "Shop"


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
