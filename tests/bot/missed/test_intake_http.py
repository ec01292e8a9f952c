"""``POST /missed`` on a real socket behind the edge: Asterisk's CURL() form, JSON, the
secret, idempotency, answered notices, clear 4xx answers for bad input, body limits, and a
database that is down (503: the sender may try again)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

from bot.missed import statuses
from bot.missed.intake import MissedCallIntake
from tests.bot.missed.intake_fixtures import (  # noqa: F401
    MSK,
    SECRET,
    Endpoint,
    endpoint,
    intake,
    store,
)

FORM = "application/x-www-form-urlencoded"


async def post(endpoint: Endpoint, path: str, data: str | bytes, ctype: str = FORM):  # noqa: F811
    async with endpoint.session.post(
        endpoint.base + path, data=data, headers={"Content-Type": ctype}
    ) as response:
        return response.status, await response.json(content_type=None)


async def test_asterisk_curl_form_is_stored_once(
    endpoint: Endpoint,  # noqa: F811
    intake: MissedCallIntake,  # noqa: F811
) -> None:
    # what the dialplan snippet of docs/missed/intake.md posts from the h extension
    form = (
        "caller=%2B79161234567&called=74951234567&queue=sales&wait=37"
        "&id=1733040000.17&status=TIMEOUT&member=&time=2026-12-01%2010%3A00%3A00"
    )
    status, body = await post(endpoint, f"/missed/{SECRET}", form)
    assert status == 200 and body["ok"] and not body["duplicate"]
    call = await intake.store.get(body["id"])
    assert call is not None
    assert (call.caller, call.called, call.source_kind, call.source, call.wait_s) == (
        "9161234567",
        "4951234567",
        "queue",
        "sales",
        37.0,
    )
    assert call.intake == "http" and call.external_id == "1733040000.17"
    assert call.details["status"] == "TIMEOUT"
    assert call.missed_at == datetime(2026, 12, 1, 10, 0, tzinfo=MSK), "no offset: the shop's"
    again_status, again = await post(endpoint, f"/missed/{SECRET}", form)
    assert again_status == 200 and again["duplicate"] and again["id"] is None
    assert await intake.store.count() == 1


async def test_json_with_the_secret_in_the_header(
    endpoint: Endpoint,  # noqa: F811
    intake: MissedCallIntake,  # noqa: F811
) -> None:
    payload = {"caller": "", "extension": "103", "wait": "00:00:20", "id": "pbx-2"}
    async with endpoint.session.post(
        endpoint.base + "/missed", json=payload, headers={"X-Bot-Secret": SECRET}
    ) as response:
        assert response.status == 200
        body = await response.json()
    call = await intake.store.get(body["id"])
    assert call is not None
    assert (call.caller, call.source_kind, call.source, call.wait_s) == ("", "extension", "103", 20)


async def test_answered_closes_open_missed_calls(
    endpoint: Endpoint,  # noqa: F811
    intake: MissedCallIntake,  # noqa: F811
) -> None:
    _, first = await post(endpoint, f"/missed/{SECRET}", "caller=89161234567&queue=sales&id=a")
    # the same caller again, a member answered (MEMBERINTERFACE set): «Клиент позвонил сам»
    status, body = await post(
        endpoint, f"/missed/{SECRET}", "caller=89161234567&queue=sales&id=b&member=PJSIP%2F103"
    )
    assert status == 200 and body == {"ok": True, "marked": 1}
    call = await intake.store.get(first["id"])
    assert call is not None and call.status == statuses.CLIENT_CALLED
    assert call.history[-1]["member"] == "PJSIP/103"
    assert await intake.store.count() == 1, "an answered call is no missed call"
    status, body = await post(endpoint, f"/missed/{SECRET}", "caller=&id=c&event=answered")
    assert status == 200 and body["marked"] == 0


async def test_bad_requests_get_clear_answers(
    endpoint: Endpoint,  # noqa: F811
    intake: MissedCallIntake,  # noqa: F811
) -> None:
    cases = [
        ("caller=1", 400, "missing required field id"),
        ("id=1", 400, "missing required field caller"),
        ("caller=1&id=1&wait=soon", 400, "wait must be seconds"),
        ("caller=1&id=1&event=ringing", 400, "event must be missed or answered"),
        ("caller=1&id=1&queue=a&extension=1", 400, "not several"),
        ("caller=1&id=1&time=tomorrow", 400, "time is neither"),
        ("caller=1&id=" + "9" * 300, 400, "too long"),
        ("caller=%0Aadmin&id=1", 400, "control characters"),
    ]
    for form, expected, message in cases:
        status, body = await post(endpoint, f"/missed/{SECRET}", form)
        assert (status, body["ok"]) == (expected, False), form
        assert message in body["error"], (form, body)
    status, body = await post(endpoint, f"/missed/{SECRET}", "[1, 2]", "application/json")
    assert status == 400 and "JSON body must be an object" in body["error"]
    status, body = await post(endpoint, f"/missed/{SECRET}", "{bad", "application/json")
    assert status == 400 and "not valid UTF-8 JSON" in body["error"]
    status, body = await post(endpoint, f"/missed/{SECRET}", b"x", "application/pdf")
    assert status == 415 and "urlencoded form or JSON" in body["error"]
    status, body = await post(endpoint, f"/missed/{SECRET}", "caller=1&id=1&x=" + "a" * 5000)
    assert status == 413 and "larger than 4096 bytes" in body["error"]
    async with endpoint.session.post(endpoint.base + "/missed", data="caller=1&id=1") as response:
        assert response.status == 401, "no secret"
    async with endpoint.session.post(endpoint.base + "/missed/wrong", data="caller=1") as r:
        assert r.status == 401
    assert await intake.store.count() == 0


async def test_a_database_that_is_down_answers_503(
    endpoint: Endpoint,  # noqa: F811
    intake: MissedCallIntake,  # noqa: F811
) -> None:
    await intake.store.db.close()
    status, body = await post(endpoint, f"/missed/{SECRET}", "caller=89161234567&id=down")
    assert status == 503 and "try again" in body["error"]


async def test_many_reports_at_once(
    endpoint: Endpoint,  # noqa: F811
    intake: MissedCallIntake,  # noqa: F811
) -> None:
    forms = [f"caller=8916123456{n % 10}&queue=sales&id=burst-{n % 25}" for n in range(50)]
    answers = await asyncio.gather(*(post(endpoint, f"/missed/{SECRET}", f) for f in forms))
    assert all(status == 200 for status, _ in answers), json.dumps(answers)[:500]
    assert sum(not body["duplicate"] for _, body in answers) == 25
    assert await intake.store.count() == 25
