"""FastAGI + AudioSocket linked through AsteriskCalls, over real TCP with a fake Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import pytest

from connectors.pbx.asterisk import AsteriskCalls, AsteriskConnector
from connectors.pbx.fastagi import FastAgiServer, agi_quote, call_info_from_env
from connectors.pbx.transport import (
    AudioIn,
    CallHandler,
    CallInfo,
    CallTransport,
    DtmfIn,
    HangupIn,
    InboundEvent,
)
from speech.audio import tone
from tests.fakes.asterisk_client import (
    KIND_AUDIO,
    KIND_HANGUP,
    AudioSocketClient,
    FastAgiClient,
    agi_env,
    agi_parse_args,
)

CALLER = "79161234567"
NAME = 'Иван "Ваня" \\ 3(5)'


@contextlib.asynccontextmanager
async def connector(handler: CallHandler) -> AsyncIterator[AsteriskConnector]:
    bot = AsteriskConnector(handler, audiosocket_port=0, agi_port=0)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop(grace=1.0)


async def hang_up(transport: CallTransport) -> None:
    await transport.hangup()


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


async def test_linking_caller_name_and_transfer(caplog: pytest.LogCaptureFixture) -> None:
    infos: list[CallInfo] = []
    heard: list[InboundEvent] = []

    async def handler(transport: CallTransport) -> None:
        infos.append(transport.info)
        async for event in transport.events():
            heard.append(event)
            if isinstance(event, DtmfIn):
                await transport.set_caller_name(NAME)
                await transport.play(tone(800, 0.04, rate=8000))
                await transport.transfer("operators")

    async def caller(client: AudioSocketClient) -> None:
        await client.send_audio(bytes(640), paced=True)
        await client.send_dtmf("0")
        await client.wait_closed(3.0)

    caplog.set_level(logging.DEBUG)
    async with connector(handler) as bot:
        asterisk = FastAgiClient(
            "127.0.0.1", bot.fastagi.port, agi_env(callerid=CALLER, args=("x",)), audio=caller
        )
        await asterisk.run(5.0)
        assert len(bot.calls) == 0  # forgotten after the session

    assert asterisk.audio_client is not None
    call_id = str(asterisk.audio_client.uuid)
    assert uuid.UUID(call_id).version == 4
    assert asterisk.commands == [
        f"EXEC AudioSocket {call_id},127.0.0.1:{bot.audiosocket.port}",
        'SET VARIABLE CALLERID(name) "Иван \\"Ваня\\" \\\\ 3(5)"',
        'SET VARIABLE BOT_TRANSFER "operators"',
        'SET VARIABLE BOT_RESULT "transfer"',
    ]
    assert asterisk.variables == {
        "CALLERID(name)": NAME,
        "BOT_TRANSFER": "operators",
        "BOT_RESULT": "transfer",
    }
    assert asterisk.closed_by_server

    assert len(infos) == 1
    info = infos[0]
    assert (info.call_id, info.caller, info.called, info.connector) == (
        call_id,
        CALLER,
        "4951112233",
        "audiosocket",
    )
    assert info.extra["channel"] == "PJSIP/trunk-00000007"
    assert info.extra["uniqueid"] == "1700000000.42"
    assert info.extra["script"] == "order"
    assert info.extra["arg_1"] == "x"
    assert [type(e) for e in heard] == [AudioIn, AudioIn, DtmfIn]

    audio_leg = asterisk.audio_client
    assert audio_leg.kinds() == [KIND_AUDIO] * 2 + [KIND_HANGUP]
    assert all(CALLER not in text for text in messages(caplog))


async def test_plain_hangup_sets_only_the_result() -> None:
    async with connector(hang_up) as bot:
        asterisk = FastAgiClient("127.0.0.1", bot.fastagi.port, agi_env())
        await asterisk.run(5.0)
    assert asterisk.commands[1:] == ['SET VARIABLE BOT_RESULT "hangup"']
    assert asterisk.variables == {"BOT_RESULT": "hangup"}


async def test_unknown_caller_and_dnid_fall_back() -> None:
    infos: list[CallInfo] = []

    async def handler(transport: CallTransport) -> None:
        infos.append(transport.info)
        await transport.hangup()

    env = agi_env(callerid="unknown", dnid="unknown", extension="2", calleridname="Petrov")
    async with connector(handler) as bot:
        await FastAgiClient("127.0.0.1", bot.fastagi.port, env).run(5.0)
    assert infos[0].caller == "" and infos[0].called == "2"
    assert infos[0].extra["caller_name"] == "Petrov"


async def test_caller_hangs_up_with_hangup_line() -> None:
    heard: list[InboundEvent] = []

    async def handler(transport: CallTransport) -> None:
        await transport.set_caller_name("Анна 0(1)")
        heard.extend([e async for e in transport.events()])

    async def caller(client: AudioSocketClient) -> None:
        await client.send_audio(bytes(320))
        await asyncio.sleep(0.05)
        await client.close()  # the caller hangs up: Asterisk closes the socket

    async with connector(handler) as bot:
        asterisk = FastAgiClient(
            "127.0.0.1",
            bot.fastagi.port,
            agi_env(),
            audio=caller,
            exec_result=-1,
            hangup_line_before_exec_reply=True,
        )
        await asterisk.run(5.0)
    assert [type(e) for e in heard] == [AudioIn, HangupIn]
    assert asterisk.variables == {"CALLERID(name)": "Анна 0(1)", "BOT_RESULT": "hangup"}
    assert asterisk.closed_by_server


async def test_dead_channel_511_stops_quietly(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(transport: CallTransport) -> None:
        await transport.set_caller_name("Анна")
        await transport.transfer("101")

    caplog.set_level(logging.WARNING)
    async with connector(handler) as bot:
        asterisk = FastAgiClient(
            "127.0.0.1",
            bot.fastagi.port,
            agi_env(),
            set_reply=["511 Command Not Permitted on a dead channel"],
        )
        await asterisk.run(5.0)
    assert len(asterisk.commands) == 2  # EXEC, then the first SET VARIABLE got 511
    assert asterisk.closed_by_server
    assert messages(caplog) == []


@pytest.mark.parametrize(
    "reply",
    [
        [
            "520-Invalid command syntax.  Proper usage follows:",
            " Usage: EXEC <application> <options>",
            "   Executes application with given options.",
            "520 End of proper usage.",
        ],
        ["200 result=-2"],
        ["510 Invalid or unknown command"],
    ],
)
async def test_exec_failure_reports_error(
    reply: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    async def handler(transport: CallTransport) -> None:
        calls.append(transport.info.call_id)

    caplog.set_level(logging.WARNING, logger="connectors.pbx.fastagi")
    async with connector(handler) as bot:
        asterisk = FastAgiClient("127.0.0.1", bot.fastagi.port, agi_env(), exec_reply=reply)
        await asterisk.run(5.0)
    assert calls == []
    assert asterisk.commands[1:] == ['SET VARIABLE BOT_RESULT "error"']
    assert len(messages(caplog)) == 1


async def test_unsafe_transfer_target_is_not_put_in_the_dialplan() -> None:
    async def handler(transport: CallTransport) -> None:
        await transport.transfer("101&PJSIP/evil,,tT")

    async with connector(handler) as bot:
        asterisk = FastAgiClient("127.0.0.1", bot.fastagi.port, agi_env())
        await asterisk.run(5.0)
    assert asterisk.variables == {"BOT_RESULT": "error"}


MALFORMED_ENV = {
    "no colon": b"agi_network: yes\nthis is not a header\n\n",
    "not agi_": b"agi_network: yes\nfoo: bar\n\n",
    "empty": b"\n",
    "too many lines": b"".join(f"agi_x{i}: v\n".encode() for i in range(100)) + b"\n",
    "overlong line": b"agi_network: yes\nagi_x: " + b"a" * 10000 + b"\n\n",
    "silent": b"agi_network: yes\n",
}


@pytest.mark.parametrize("case", list(MALFORMED_ENV))
async def test_malformed_environment_closes_that_session(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.pbx.fastagi")
    calls = AsteriskCalls()
    server = FastAgiServer(
        "127.0.0.1", 0, audiosocket_address="127.0.0.1:9", registry=calls, header_timeout=0.3
    )
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(MALFORMED_ENV[case])
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 2.0)
        assert rest == b""  # closed without a command
        writer.close()
        assert len(messages(caplog)) == 1
        assert len(calls) == 0

        good = FastAgiClient("127.0.0.1", server.port, agi_env(), exec_reply=["200 result=-1"])
        await good.run(3.0)
        assert good.variables == {"BOT_RESULT": "error"}
    finally:
        await server.stop(1.0)


async def test_direct_audiosocket_call_without_agi() -> None:
    infos: list[CallInfo] = []

    async def handler(transport: CallTransport) -> None:
        infos.append(transport.info)
        await transport.set_caller_name("x")
        await transport.transfer("101")  # nobody to tell: just ends the audio leg

    async with connector(handler) as bot:
        async with AudioSocketClient("127.0.0.1", bot.audiosocket.port) as client:
            await client.wait_closed(2.0)
        assert len(bot.calls) == 0
    assert infos[0].caller == "" and infos[0].call_id == str(client.uuid)
    assert client.kinds() == [KIND_HANGUP]


def test_quoting_round_trips_through_asterisk_parse_args() -> None:
    for value in [NAME, "", "a b", 'x"', "\\", "ИП Сидоров 10(12)", "tab\there\nnl"]:
        line = f"SET VARIABLE N {agi_quote(value)}"
        argv = agi_parse_args(line)
        assert argv[:3] == ["SET", "VARIABLE", "N"] and len(argv) == 4
        assert argv[3] == value.replace("\t", " ").replace("\n", " ")


def test_call_info_from_env() -> None:
    info = call_info_from_env("id-1", agi_env(callerid=CALLER, dnid="", extension="2"))
    assert (info.caller, info.called, info.connector) == (CALLER, "2", "audiosocket")
    assert info.extra["context"] == "ivr"
