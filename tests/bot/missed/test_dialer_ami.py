"""Call-backs placed with Asterisk AMI ``Originate`` (the AMI client over a real TCP socket to
the fake Asterisk manager, :mod:`tests.fakes.ami_server`): client first into the call-back
context with the greeting as a channel variable, employee first into the dialling context
with the client's number, and the OriginateResponse reasons as outcomes (answered, busy, no
answer; the next employee when one does not answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.missed.callback_rules import CallbackRule
from bot.missed.callback_settings import CallbackSettings
from bot.missed.dialer import AmiDialer
from bot.missed.scheduler import (
    BUSY,
    CONNECTED,
    EMPLOYEE_NO_ANSWER,
    NO_ANSWER,
    CallbackRequest,
)
from connectors.pbx.ami import AmiClient
from connectors.pbx.ami_settings import AmiSettings
from tests.fakes.ami_server import FakeAmi, OriginatePlan

RULE = CallbackRule(name="Продажи", source_kind="queue", source="sales", targets=("sales",))


@pytest.fixture
async def ami() -> AsyncIterator[tuple[FakeAmi, AmiClient]]:
    fake = await FakeAmi.start()
    client = AmiClient(
        AmiSettings(enabled=True, port=fake.port, username="bot", secret="s3cret",
                    action_timeout_s=2.0, login_timeout_s=2.0)
    )  # fmt: skip
    await client.start()
    await client.wait_connected(5)
    try:
        yield fake, client
    finally:
        await client.stop()
        await fake.stop()


def request(rule: CallbackRule) -> CallbackRequest:
    return CallbackRequest(
        job_id=7, attempt=1, caller="9161234567", number="89161234567", called="74951234567",
        rule=rule, missed_ids=(3,),
    )  # fmt: skip


async def test_client_first_originates_the_client_into_the_callback_context(
    ami: tuple[FakeAmi, AmiClient],
) -> None:
    fake, client = ami
    settings = CallbackSettings(shop_name="«Ромашка»")
    dialer = AmiDialer(client, settings)
    result = await dialer.call_back(request(RULE))
    assert result.outcome == CONNECTED and result.detail["ami"] == "answered"
    (action,) = fake.actions_named("Originate")
    assert action["Channel"] == "PJSIP/89161234567@trunk"
    assert (action["Context"], action["Exten"], action["Async"]) == ("callback", "sales", "true")
    assert action["Timeout"] == "40000"

    fake.plans["PJSIP/89161234567@trunk"] = OriginatePlan(response="Failure", reason="5")
    assert (await dialer.call_back(request(RULE))).outcome == BUSY
    fake.plans["PJSIP/89161234567@trunk"] = OriginatePlan(response="Failure", reason="3")
    assert (await dialer.call_back(request(RULE))).outcome == NO_ANSWER


async def test_employee_first_tries_the_employees_in_turn(ami: tuple[FakeAmi, AmiClient]) -> None:
    fake, client = ami
    rule = CallbackRule(name="Менеджеры", first="employee", targets=("101", "102"))
    dialer = AmiDialer(client, CallbackSettings())
    fake.plans["PJSIP/101"] = OriginatePlan(response="Failure", reason="3")
    result = await dialer.call_back(request(rule))
    assert result.outcome == CONNECTED and result.detail["employee"] == "102"
    calls: list[dict[str, Any]] = fake.actions_named("Originate")
    assert [(a["Channel"], a["Context"], a["Exten"]) for a in calls] == [
        ("PJSIP/101", "from-internal", "89161234567"),
        ("PJSIP/102", "from-internal", "89161234567"),
    ]
    fake.plans["PJSIP/102"] = OriginatePlan(response="Failure", reason="5")
    assert (await dialer.call_back(request(rule))).outcome == EMPLOYEE_NO_ANSWER
