"""The intake: numbers normalised, stored once, listeners told after storing (a failing one
loses nothing), «Клиент позвонил сам»; times and waits as PBXs write them; the bot's own
handoffs that failed (a refused REFER, the caller hanging up) and orders the bot took."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from bot.events import CallBegan, CallEnded, DraftSaved, EventBus, OrderSaved, Transferred
from bot.missed import statuses
from bot.missed.intake import (
    IntakeError,
    MissedCallIntake,
    MissedReport,
    normalize_called,
    normalize_caller,
    parse_moment,
    parse_wait,
)
from bot.missed.intake_bot import BotHandoffs
from bot.missed.store import MissedCall, MissedCallStore
from bot.voice_settings import VoiceSettings
from connectors.pbx.transport import CallOutcome
from dialogs.context import CallContext
from tests.bot.missed.intake_fixtures import MSK, Heard, intake, store  # noqa: F401
from tests.bot.test_session import Factory
from tests.bot.test_session import make_call as make_call  # the fixture


def report(external_id: str = "1733040000.17", **values: object) -> MissedReport:
    fields: dict[str, object] = {
        "intake": "http",
        "external_id": external_id,
        "caller": "+7 (916) 123-45-67",
        "called": "8 495 123-45-67",
        "source_kind": "queue",
        "source": "sales",
        "wait_s": 12.0,
    }
    fields.update(values)
    return MissedReport(**fields)  # type: ignore[arg-type]


def test_numbers_times_and_waits() -> None:
    assert normalize_caller("+7 (916) 123-45-67") == "9161234567"
    assert normalize_caller("89161234567") == "9161234567"
    for hidden in ("", "anonymous", "<unknown>", "101", "3515*101"):
        assert normalize_caller(hidden) == "", hidden
    assert normalize_called("+7 495 123 45 67") == "4951234567"
    assert normalize_called(" 3515*099 ") == "3515*099", "an extension stays as sent"
    at = datetime(2026, 12, 1, 10, 0, tzinfo=MSK)
    assert parse_moment("2026-12-01 10:00:00", MSK) == at, "no offset: the shop's zone"
    assert parse_moment("2026-12-01T07:00:00Z", MSK) == at
    assert parse_moment(str(int(at.timestamp())), MSK) == at
    assert parse_moment("1505824724746286", MSK) == datetime(
        2017, 9, 19, 12, 38, 44, 746286, tzinfo=UTC
    ), "Telphin's EventTime: microseconds"
    assert parse_moment("", MSK) is None
    for bad in ("yesterday", "12"):
        with pytest.raises(IntakeError):
            parse_moment(bad, MSK)
    assert parse_wait("42") == 42.0 and parse_wait("00:01:05") == 65.0 and parse_wait(None) == 0
    for bad in ("-1", "nan", "forever", "1e9"):
        with pytest.raises(IntakeError):
            parse_wait(bad)


async def test_stored_once_then_listeners_are_told(intake: MissedCallIntake) -> None:  # noqa: F811
    heard = Heard()
    order: list[str] = []

    async def broken(call: MissedCall) -> None:
        order.append("broken")
        raise RuntimeError("the SMS gateway is down")

    intake.subscribe(broken)
    intake.subscribe(heard)
    call = await intake.missed(report())
    assert call is not None
    assert (call.caller, call.called, call.source, call.wait_s) == (
        "9161234567",
        "4951234567",
        "sales",
        12.0,
    )
    assert call.missed_at.tzinfo is not None
    await intake.drain()
    assert [c.id for c in heard.calls] == [call.id] and order == ["broken"]
    assert intake.listener_failures == 1
    assert await intake.store.get(call.id) == call, "the failing listener lost nothing"
    assert await intake.missed(report()) is None, "a repeat of the same PBX call"
    await intake.drain()
    assert len(heard.calls) == 1 and intake.duplicates == 1
    internal = await intake.missed(report("x2", caller="101"))
    assert (
        internal is not None and internal.caller == "" and internal.details["caller_raw"] == "101"
    )
    with pytest.raises(IntakeError, match="source_kind"):
        await intake.missed(report("x3", source_kind="trunk"))


async def test_answered_marks_the_callers_open_calls(intake: MissedCallIntake) -> None:  # noqa: F811
    first = await intake.missed(report("a1"))
    other = await intake.missed(report("a2", caller="+79035550011"))
    assert first and other
    assert await intake.answered("8 916 123 45 67", detail={"by": "test"}) == 1
    assert await intake.answered("anonymous") == 0
    row = await intake.store.get(first.id)
    assert row is not None and row.status == statuses.CLIENT_CALLED
    still = await intake.store.get(other.id)
    assert still is not None and still.status == statuses.NOT_CALLED_BACK


async def test_database_errors_are_retried_then_raised(
    store: MissedCallStore,  # noqa: F811
) -> None:
    calls = 0
    real_add = store.add

    async def flaky_add(**values: object) -> MissedCall | None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise OSError("database is locked")
        return await real_add(**values)  # type: ignore[arg-type]

    store.add = flaky_add  # type: ignore[method-assign]
    patient = MissedCallIntake(store, zone=MSK)
    stored = await patient.missed(report(), retries=(0.01, 0.01, 0.01))
    assert stored is not None and calls == 3
    calls = -10
    with pytest.raises(OSError):
        await patient.missed(report("never"), retries=(0.01,))


@dataclass
class Transport:
    """What BotHandoffs reads of a call's transport: its outcome."""

    outcome: CallOutcome = field(default_factory=CallOutcome)


def bot_call(handoffs: BotHandoffs, call_id: str, caller: str | None = "9161234567"):
    context = CallContext(call_id, caller, "74951234567", datetime.now().astimezone(), "sip")
    transport = Transport()
    bus = EventBus(call_id)
    handoffs.watch(context, transport, bus.subscribe)  # type: ignore[arg-type]
    bus.publish(CallBegan(connector="sip"))
    return bus, transport


async def test_bot_handoffs_nobody_took(intake: MissedCallIntake) -> None:  # noqa: F811
    handoffs = BotHandoffs(intake)
    heard = Heard()
    intake.subscribe(heard)
    # a REFER the PBX refused
    bus, transport = bot_call(handoffs, "sip-call-1")
    bus.publish(Transferred(target="103", reason="article_not_recognized"))
    transport.outcome.transfer_failed = "refused"
    bus.publish(CallEnded(reason="transfer:article_not_recognized", seconds=9.0))
    # the caller hung up during the transfer notice
    bus, transport = bot_call(handoffs, "sip-call-2", caller="9035550011")
    bus.publish(Transferred(target="sales", reason="caller_request"))
    transport.outcome.transfer_failed = "caller_hangup"
    bus.publish(CallEnded(reason="transfer:caller_request"))
    bus.publish(CallEnded(reason="again"))  # a second end is ignored
    # a transfer that went through, and a call without a transfer: no missed call
    bus, transport = bot_call(handoffs, "sip-call-3")
    bus.publish(Transferred(target="103", reason="caller_request"))
    bus.publish(CallEnded(reason="transfer:caller_request"))
    bus, transport = bot_call(handoffs, "sip-call-4")
    transport.outcome.transfer_failed = "refused"  # no Transferred event: not a handoff
    bus.publish(CallEnded(reason="caller_hangup"))
    await handoffs.drain()
    await intake.drain()
    rows = {c.external_id: c for c in await intake.store.list()}
    assert set(rows) == {"sip-call-1", "sip-call-2"}
    refused = rows["sip-call-1"]
    assert (refused.intake, refused.source_kind, refused.source) == ("bot", "bot", "103")
    assert refused.call_id == "sip-call-1" and refused.caller == "9161234567"
    assert refused.details["outcome"] == "refused"
    assert refused.details["reason"] == "article_not_recognized"
    assert rows["sip-call-2"].details["outcome"] == "caller_hangup"
    assert sorted(c.external_id for c in heard.calls) == ["sip-call-1", "sip-call-2"]


async def test_an_order_the_bot_took_means_the_client_got_through(
    intake: MissedCallIntake,  # noqa: F811
) -> None:
    missed = await intake.missed(report("q1"))
    assert missed is not None
    for orders_answer, expected in (
        (False, statuses.NOT_CALLED_BACK),
        (True, statuses.CLIENT_CALLED),
    ):
        handoffs = BotHandoffs(intake, orders_answer=orders_answer)
        bus, _ = bot_call(handoffs, f"order-{orders_answer}")
        items = ({"article": "123", "quantity": 2},)
        bus.publish(
            DraftSaved(
                order_id=7, status="черновик", caller="", called="", call_time="", items=items
            )
        )
        if orders_answer:
            bus.publish(
                OrderSaved(
                    order_id=7,
                    status="принят успешно",
                    caller="",
                    called="",
                    call_time="",
                    items=items,
                )
            )
        bus.publish(CallEnded(reason="bot_hangup"))
        await handoffs.drain()
        row = await intake.store.get(missed.id)
        assert row is not None and row.status == expected
    assert row.history[-1]["by"] == "bot" and row.history[-1]["order_id"] == 7


async def test_a_voice_call_whose_transfer_was_refused(
    make_call: Factory,
    intake: MissedCallIntake,  # noqa: F811
) -> None:
    """The whole path: a real CallSession hands off (maximum call length), the line refuses
    the transfer as the SIP connector records it, the call is a missed call of the bot."""
    vad = dataclasses.replace(VoiceSettings().vad, no_input_ms=10_000_000)
    call = make_call(voice=VoiceSettings(vad=vad, max_call_seconds=0.3))
    handoffs = BotHandoffs(intake)
    handoffs.attach(call.session)
    deliver = call.line.transfer

    async def refused(target: str) -> None:
        call.line.outcome.transfer_failed = "refused"
        await deliver(target)

    call.line.transfer = refused  # type: ignore[method-assign]
    log = await call.end()
    assert log.end_reason == "transfer:max_call_length"
    await handoffs.drain()
    (missed,) = await intake.store.list()
    assert (missed.intake, missed.source, missed.call_id) == ("bot", "operator", log.call_id)
    assert missed.details == {**missed.details, "outcome": "refused", "reason": "max_call_length"}
