"""Telphin's call-event notifications at ``POST /missed/telphin`` on a real socket, in the
format of Telphin's documentation (form fields EventType, CallID, SubCallID, CallStatus,
CallFlow, Bridged, EventTime in microseconds...): a queue caller who gave up, one who was
answered, outbound calls ignored, repeats stored once, broken events refused."""

from __future__ import annotations

import urllib.parse

from bot.missed import statuses
from bot.missed.intake import MissedCallIntake
from bot.missed.intake_telphin import TelphinEvents, short_extension
from tests.bot.missed.intake_fixtures import (  # noqa: F401
    SECRET,
    Endpoint,
    endpoint,
    intake,
    store,
)

T0 = 1764572400_000000  # 2025-12-01 07:00:00 UTC, in microseconds (EventTime)
QUEUE = "3515*200@sipproxy.telphin.ru"


def event(kind: str, call_id: str, at_s: float, **extra: str) -> dict[str, str]:
    """One notification as Telphin sends it for the queue extension 3515*200."""
    fields = {
        "EventType": kind,
        "CallID": call_id,
        "SubCallID": f"124575-{call_id}",
        "CallAPIID": f"3584709733-{call_id}",
        "CallerIDNum": "+79161234567",
        "CallerIDName": "+79161234567",
        "CalledDID": "74951234567",
        "CalledExtension": QUEUE,
        "CalledExtensionID": "124575",
        "CalledNumber": "3515*200",
        "CallFlow": "in",
        "EventTime": str(T0 + int(at_s * 1_000_000)),
        "CallStatus": "CALLING" if kind in ("dial-in", "dial-out") else "ANSWER",
    }
    fields.update(extra)
    return fields


async def send(endpoint: Endpoint, fields: dict[str, str]):  # noqa: F811
    async with endpoint.session.post(
        f"{endpoint.base}/missed/telphin/{SECRET}",
        data=urllib.parse.urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as response:
        return response.status, await response.json()


async def test_a_queue_caller_who_gave_up(endpoint: Endpoint, intake: MissedCallIntake) -> None:  # noqa: F811
    assert await send(endpoint, event("dial-in", "c1", 0)) == (200, {"ok": True})
    hangup = event("hangup", "c1", 47.5, CallStatus="CANCEL", Bridged="no", Duration="0")
    status, body = await send(endpoint, hangup)
    assert status == 200 and body["ok"] and not body["duplicate"]
    call = await intake.store.get(body["id"])
    assert call is not None
    assert (call.intake, call.external_id) == ("telphin", "c1/124575-c1")
    assert (call.caller, call.called) == ("9161234567", "4951234567")
    assert (call.source_kind, call.source, call.wait_s) == ("queue", "3515*200", 47.5)
    assert call.missed_at.timestamp() == (T0 + 47_500_000) / 1e6
    assert call.details["status"] == "CANCEL" and call.details["wait_known"] is True
    status, again = await send(endpoint, hangup)  # Telphin repeated it
    assert status == 200 and again["duplicate"]
    assert await intake.store.count() == 1


async def test_answered_calls_close_open_ones(endpoint: Endpoint, intake: MissedCallIntake) -> None:  # noqa: F811
    await send(endpoint, event("hangup", "old", 0, CallStatus="NOANSWER", Bridged="no"))
    (old,) = await intake.store.list()
    assert old.wait_s == 0.0 and old.details["wait_known"] is False, "no dial-in seen"
    await send(endpoint, event("dial-in", "new", 100))
    # Telphin's own example: in «answer» CallerIDNum is the answering extension
    status, body = await send(endpoint, event("answer", "new", 110, CallerIDNum="101"))
    assert status == 200 and body["marked"] == 1
    status, body = await send(
        endpoint, event("hangup", "new", 200, CallStatus="ANSWER", Bridged="yes")
    )
    assert status == 200 and body["marked"] == 0, "already counted at the answer"
    row = await intake.store.get(old.id)
    assert row is not None and row.status == statuses.CLIENT_CALLED
    assert await intake.store.count() == 1


async def test_extension_without_bridged_and_outbound_calls(
    endpoint: Endpoint,  # noqa: F811
    intake: MissedCallIntake,  # noqa: F811
) -> None:
    ext = event(
        "hangup", "e1", 5, CallStatus="BUSY", CalledExtension="3515*101@sipproxy.telphin.ru"
    )
    status, body = await send(endpoint, ext)
    call = await intake.store.get(body["id"])
    assert call is not None and (call.source_kind, call.source) == ("extension", "3515*101")
    status, body = await send(
        endpoint, event("hangup", "o1", 5, CallFlow="out", CallStatus="NOANSWER")
    )
    assert status == 200 and body["ignored"] == "outbound call"
    assert await intake.store.count() == 1


async def test_broken_events_are_refused(endpoint: Endpoint, intake: MissedCallIntake) -> None:  # noqa: F811
    status, body = await send(endpoint, event("call_interactive", "x", 0))
    assert status == 400 and "EventType must be" in body["error"]
    status, body = await send(endpoint, event("hangup", "", 0))
    assert status == 400 and "CallID" in body["error"]
    status, body = await send(endpoint, event("hangup", "x", 0, EventTime="soon"))
    assert status == 400 and "time" in body["error"]
    async with endpoint.session.post(
        f"{endpoint.base}/missed/telphin", data="EventType=hangup"
    ) as r:
        assert r.status == 401, "the secret is required here too"
    assert await intake.store.count() == 0


async def test_followed_calls_are_bounded(intake: MissedCallIntake) -> None:  # noqa: F811
    events = TelphinEvents(intake, extensions=["3515*200"], max_calls=10, track_s=3600)
    for n in range(30):
        await events.handle(event("dial-in", f"b{n}", n))
    assert len(events._calls) <= 11
    other = event("hangup", "z", 1, CalledExtension="3515*300@x", CallStatus="CANCEL")
    assert (await events.handle(other))["ignored"] == "extension not followed"
    assert short_extension(QUEUE) == "3515*200"
