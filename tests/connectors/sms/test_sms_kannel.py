"""Kannel's HTTP sendsms against a real Kannel (bearerbox + smsbox) and its fake SMSC: Cyrillic
as UCS-2, a long text in concatenated parts, a plain text as 7-bit, and how each kind of
failure is classified (refused connection, bad credentials, a dead port mid-way)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from connectors.sms import SmsRejected, SmsTemporaryError, SmsUncertain
from connectors.sms.kannel import KannelGateway, KannelSettings
from tests.fakes.kannel import PASSWORD, USER, KannelServer, join_parts, start_for_tests
from tests.fakes.smtp_server import free_port

TO = "79001234567"


@pytest.fixture(scope="module")
def kannel() -> Iterator[KannelServer]:
    server = start_for_tests()
    try:
        yield server
    finally:
        server.stop()


def gateway(url: str, password: str = PASSWORD, **extra: object) -> KannelGateway:
    settings = KannelSettings(url=url, username=USER, password=password, **extra)  # type: ignore[arg-type]
    return KannelGateway(settings)


async def test_cyrillic_text_reaches_the_fake_smsc_as_ucs2(kannel: KannelServer) -> None:
    before = len(kannel.received())
    gw = gateway(kannel.sendsms_url)
    try:
        receipt = await gw.send(TO, "Здравствуйте! Перезвоним вам.", "Shop")
    finally:
        await gw.close()
    assert receipt.detail == "0: Accepted for delivery"
    assert receipt.parts == 1
    got = kannel.wait_for_messages(before + 1)[before:]
    assert len(got) == 1
    assert (got[0].sender, got[0].receiver, got[0].kind) == ("Shop", TO, "ucs-2")
    assert got[0].text == "Здравствуйте! Перезвоним вам."


async def test_a_long_text_goes_as_concatenated_parts(kannel: KannelServer) -> None:
    before = len(kannel.received())
    text = "Мы пропустили ваш звонок в магазин и обязательно перезвоним. " * 3  # 183 chars
    gw = gateway(kannel.sendsms_url)
    try:
        receipt = await gw.send(TO, text.strip(), "Shop")
    finally:
        await gw.close()
    assert receipt.parts == 3
    got = kannel.wait_for_messages(before + 3)[before:]
    assert len(got) == 3
    assert {m.udh[:3] for m in got} == {b"\x05\x00\x03"}  # concatenation UDH, 8-bit reference
    assert sorted(m.udh[5] for m in got) == [1, 2, 3] and {m.udh[4] for m in got} == {3}
    assert join_parts(got) == text.strip()


async def test_plain_ascii_goes_as_seven_bit_text(kannel: KannelServer) -> None:
    before = len(kannel.received())
    gw = gateway(kannel.sendsms_url)
    try:
        await gw.send(TO, "Order 15 is ready", "Shop")
    finally:
        await gw.close()
    got = kannel.wait_for_messages(before + 1)[before:]
    assert [(m.kind, m.text) for m in got] == [("text", "Order 15 is ready")]


async def test_wrong_password_is_temporary_and_nothing_is_sent(kannel: KannelServer) -> None:
    before = len(kannel.received())
    gw = gateway(kannel.sendsms_url, password="wrong-pw")
    try:
        with pytest.raises(SmsTemporaryError, match="403"):
            await gw.send(TO, "Здравствуйте", "Shop")
    finally:
        await gw.close()
    await asyncio.sleep(0.5)
    assert len(kannel.received()) == before


async def test_a_closed_port_is_temporary() -> None:
    gw = gateway(f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms", connect_timeout=1.0)
    try:
        with pytest.raises(SmsTemporaryError, match="cannot connect"):
            await gw.send(TO, "Здравствуйте", "")
    finally:
        await gw.close()


async def test_a_silent_server_after_the_request_is_uncertain() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    gw = gateway(f"http://127.0.0.1:{port}/cgi-bin/sendsms", timeout=1.0)
    try:
        with pytest.raises(SmsUncertain):
            await gw.send(TO, "Здравствуйте", "")
    finally:
        await gw.close()
        listener.close()


async def test_bad_recipients_and_texts_are_refused_before_any_request() -> None:
    gw = gateway(f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms")
    try:
        for to, text in (("+79001234567", "x"), ("12", "x"), (TO, "  "), (TO, "я" * 700)):
            with pytest.raises(SmsRejected):
                await gw.send(to, text, "")
    finally:
        await gw.close()
