"""The SMPP 3.4 transmitter against Kannel's SMSC simulator ``drive_smpp`` (real third-party
SMPP code from Debian) and against our scripted SMSC (tests/fakes/smpp_smsc.py) for the bytes
on the wire and every failure: busy, refused, silent, a refused later part, no SMSC at all."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from connectors.sms import SmsRejected, SmsTemporaryError, SmsUncertain
from connectors.sms import smpp_pdu as p
from connectors.sms.smpp import SmppGateway, SmppSettings
from tests.fakes.smpp_smsc import DriveSmpp, DriveSmppUnavailable, FakeSmsc
from tests.fakes.smtp_server import free_port

TO = "79001234567"
HELLO = "Здравствуйте! Вы звонили в магазин, мы перезвоним."


@pytest.fixture
def drive_smpp() -> Iterator[DriveSmpp]:
    try:
        server = DriveSmpp.start()
    except DriveSmppUnavailable as exc:
        if os.environ.get("SPEECH_REQUIRE_ENGINES") == "1" or os.environ.get("CI"):
            pytest.fail(f"Kannel's drive_smpp is required here: {exc}")
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def smsc() -> AsyncIterator[FakeSmsc]:
    server = await FakeSmsc().start()
    try:
        yield server
    finally:
        await server.stop()


def gateway(port: int, **extra: object) -> SmppGateway:
    values: dict[str, object] = {"port": port, "system_id": "shopbot", "password": "pw123"}
    values.update(extra)
    return SmppGateway(SmppSettings(**values))  # type: ignore[arg-type]


async def test_kannel_drive_smpp_takes_our_bind_submits_enquire_link_and_unbind(
    drive_smpp: DriveSmpp,
) -> None:
    gw = gateway(drive_smpp.port, enquire_link_s=0.3, idle_close_s=30)
    try:
        first = await gw.send(TO, "Your order is ready", "Shop")
        await gw.send(TO, HELLO, "Shop")
        await asyncio.sleep(0.5)  # idle longer than enquire_link_s: the link is checked first
        await gw.send(TO, "Second message", "Shop")
    finally:
        await gw.close()
    assert first.parts == 1
    for _ in range(50):
        if drive_smpp.handled("unbind"):
            break
        await asyncio.sleep(0.1)
    submitted = drive_smpp.submitted()
    assert len(submitted) == 3
    assert submitted[0] == "Your order is ready" and submitted[2] == "Second message"
    assert drive_smpp.handled("bind_transmitter") == 1  # one link for all three
    assert drive_smpp.handled("enquire_link") >= 1
    assert drive_smpp.handled("unbind") == 1


async def test_cyrillic_goes_as_ucs2_from_an_alphanumeric_sender(smsc: FakeSmsc) -> None:
    gw = gateway(smsc.port)
    try:
        receipt = await gw.send(TO, HELLO, "Shop")
    finally:
        await gw.close()
    assert receipt.message_id == "m1" and receipt.parts == 1
    assert smsc.binds == [("shopbot", "pw123")]
    [sm] = smsc.submitted
    assert (sm.source_ton, sm.source_npi, sm.source) == (5, 0, "Shop")
    assert (sm.dest_ton, sm.dest_npi, sm.destination) == (1, 1, TO)
    assert (sm.data_coding, sm.esm_class) == (8, 0)
    assert sm.short_message == HELLO.encode("utf-16-be")
    assert smsc.unbinds == 1


async def test_a_long_text_is_split_with_a_concatenation_udh(smsc: FakeSmsc) -> None:
    text = ("Мы пропустили ваш звонок и перезвоним в ближайшее время. " * 3).strip()
    gw = gateway(smsc.port)
    try:
        receipt = await gw.send(TO, text, "+74950000000")
    finally:
        await gw.close()
    assert receipt.parts == 3 and receipt.message_id == "m1,m2,m3"
    parts = smsc.submitted
    assert all(sm.esm_class & 0x40 and sm.data_coding == 8 for sm in parts)
    assert all((sm.source_ton, sm.source_npi, sm.source) == (1, 1, "74950000000") for sm in parts)
    udhs = [sm.short_message[:6] for sm in parts]
    assert [u[:3] for u in udhs] == [b"\x05\x00\x03"] * 3
    assert len({u[3] for u in udhs}) == 1  # one reference for the whole message
    assert [(u[4], u[5]) for u in udhs] == [(3, 1), (3, 2), (3, 3)]
    assert all(len(sm.short_message) <= 140 for sm in parts)
    assert b"".join(sm.short_message[6:] for sm in parts).decode("utf-16-be") == text


async def test_payload_mode_sends_one_pdu_with_message_payload(smsc: FakeSmsc) -> None:
    text = "Ваш заказ собран и ждёт вас в пункте выдачи на улице Ленина, дом 5, с 10 до 20."
    gw = gateway(smsc.port, long_messages="payload")
    try:
        receipt = await gw.send(TO, text, "Shop")
    finally:
        await gw.close()
    [sm] = smsc.submitted
    assert receipt.parts == 1
    assert sm.short_message == b"" and sm.tlvs[0x0424] == text.encode("utf-16-be")


def test_a_surrogate_pair_is_never_cut_between_parts() -> None:
    text = "я" * 66 + "😀" + "ы" * 10  # the emoji straddles the 67-unit boundary
    encoded = p.split_text(text, 7, gsm7=False)
    chunks = [part[6:] for part in encoded.parts]
    assert all(len(c) % 2 == 0 for c in chunks)
    assert [c.decode("utf-16-be") for c in chunks] == ["я" * 66, "😀" + "ы" * 10]


async def test_a_busy_smsc_is_temporary_and_a_refusal_is_final(smsc: FakeSmsc) -> None:
    smsc.statuses = [p.ESME_RTHROTTLED, p.ESME_RINVDSTADR]
    gw = gateway(smsc.port)
    try:
        with pytest.raises(SmsTemporaryError, match="busy"):
            await gw.send(TO, HELLO, "Shop")
        with pytest.raises(SmsRejected, match="0x0000000b"):
            await gw.send(TO, HELLO, "Shop")
        assert (await gw.send(TO, HELLO, "Shop")).message_id  # the link is still fine
    finally:
        await gw.close()
    assert smsc.connections == 1


async def test_no_submit_sm_resp_is_uncertain_and_the_next_send_reconnects(
    smsc: FakeSmsc,
) -> None:
    smsc.statuses = [None]
    gw = gateway(smsc.port, response_timeout=0.5)
    try:
        with pytest.raises(SmsUncertain, match="no submit_sm_resp"):
            await gw.send(TO, HELLO, "Shop")
        await gw.send(TO, HELLO, "Shop")
    finally:
        await gw.close()
    assert smsc.connections == 2 and len(smsc.submitted) == 2


async def test_a_refused_later_part_is_uncertain(smsc: FakeSmsc) -> None:
    smsc.statuses = [0, p.ESME_RSYSERR]
    gw = gateway(smsc.port)
    try:
        with pytest.raises(SmsUncertain, match="later part"):
            await gw.send(TO, "ж" * 100, "Shop")
    finally:
        await gw.close()


async def test_a_refused_bind_and_a_missing_smsc_are_temporary(smsc: FakeSmsc) -> None:
    smsc.bind_status = p.ESME_RINVPASWD
    gw = gateway(smsc.port)
    try:
        with pytest.raises(SmsTemporaryError, match="bind refused"):
            await gw.send(TO, HELLO, "Shop")
    finally:
        await gw.close()
    assert smsc.submitted == []
    gw = gateway(free_port(), connect_timeout=1.0)
    try:
        with pytest.raises(SmsTemporaryError, match="cannot connect"):
            await gw.send(TO, HELLO, "Shop")
    finally:
        await gw.close()


async def test_an_oversized_pdu_from_the_smsc_closes_the_link() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(16)
        writer.write(b"\x7f\xff\xff\xff" + b"\0" * 12)  # command_length 2 GiB
        await writer.drain()
        await asyncio.sleep(2)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gw = gateway(port, response_timeout=1.0)
    try:
        with pytest.raises(SmsTemporaryError, match="no bind response"):
            await gw.send(TO, HELLO, "Shop")
    finally:
        await gw.close()
        server.close()
