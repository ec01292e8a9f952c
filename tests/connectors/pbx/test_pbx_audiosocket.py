"""AudioSocket server over real TCP on 127.0.0.1, driven by a spec-written Asterisk fake."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest

from connectors.pbx.audiosocket import (
    REFUSED_DUPLICATE,
    REFUSED_UNKNOWN,
    AudioSocketServer,
    AudioSocketTransport,
    Claim,
)
from connectors.pbx.transport import (
    AudioIn,
    CallHandler,
    CallInfo,
    CallOutcome,
    CallTransport,
    DtmfIn,
    HangupIn,
    InboundEvent,
    ProtocolError,
)
from speech.audio import Audio, tone
from tests.fakes.asterisk_client import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_ERROR,
    KIND_HANGUP,
    KIND_UUID,
    AudioSocketClient,
    frame,
)

LOGGER = "connectors.pbx.audiosocket"


@contextlib.asynccontextmanager
async def serving(handler: CallHandler, **options: object) -> AsyncIterator[AudioSocketServer]:
    server = AudioSocketServer(handler, "127.0.0.1", 0, **options)  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=1.0)


def pcm_of(value: int, samples: int = 160) -> bytes:
    return np.full(samples, value, dtype="<i2").tobytes()


async def echo(transport: CallTransport) -> None:
    async for event in transport.events():
        if isinstance(event, AudioIn):
            await transport.play(event.audio)
        elif isinstance(event, HangupIn):
            break


async def check_echo_works(server: AudioSocketServer) -> None:
    """A fresh, well-behaved call on ``server`` gets its audio back."""
    async with AudioSocketClient("127.0.0.1", server.port) as client:
        payload = pcm_of(1234)
        await client.send_audio(payload)
        assert await client.wait_audio(len(payload), 2.0) == payload
        await client.send_hangup()
        await client.wait_closed(2.0)


def warnings_from(caplog: pytest.LogCaptureFixture, name: str = LOGGER) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == name and r.levelno >= logging.WARNING
    ]


# --- frames both ways ----------------------------------------------------------------------------


async def test_echo_and_dtmf_exact_bytes() -> None:
    infos: list[CallInfo] = []
    seen: list[InboundEvent] = []
    beep = tone(1000, 0.1, rate=8000)  # 800 samples = 1600 bytes = 5 frames

    async def handler(transport: CallTransport) -> None:
        infos.append(transport.info)
        assert transport.rate == 8000
        async for event in transport.events():
            seen.append(event)
            if isinstance(event, AudioIn):
                await transport.play(event.audio)
            elif isinstance(event, DtmfIn):
                await transport.play(beep)

    async with serving(handler) as server:
        client = AudioSocketClient("127.0.0.1", server.port)
        await client.connect()
        sent = [pcm_of(100), pcm_of(-200), pcm_of(300, samples=80)]
        for payload in sent:
            await client.send_audio(payload)
        await client.send_dtmf("5")
        expected_audio = b"".join(sent) + beep.pcm
        await client.wait_audio(len(expected_audio), 3.0)
        await client.send_hangup()
        await client.wait_closed(2.0)
        await client.close()

    expected = b"".join(frame(KIND_AUDIO, p) for p in sent)
    expected += b"".join(frame(KIND_AUDIO, beep.pcm[i : i + 320]) for i in range(0, 1600, 320))
    assert bytes(client.raw) == expected  # the peer hung up: no 0x00 back, just close
    assert expected[:3] == b"\x10\x01\x40"  # kind 0x10, length 320 big-endian
    assert client.trailing == b""

    assert [type(e) for e in seen] == [AudioIn, AudioIn, AudioIn, DtmfIn, HangupIn]
    assert [e.audio.pcm for e in seen[:3] if isinstance(e, AudioIn)] == sent
    assert all(e.audio.rate == 8000 for e in seen[:3] if isinstance(e, AudioIn))
    assert seen[3] == DtmfIn("5")
    assert infos == [
        CallInfo(call_id=str(client.uuid), caller="", called="", connector="audiosocket")
    ]


async def test_play_splits_resamples_and_bot_hangs_up() -> None:
    eight_k = Audio(bytes(range(250)) * 4, 8000)  # 1000 bytes -> 320 + 320 + 320 + 40
    wideband = tone(1000, 0.2, rate=16000)

    async def handler(transport: CallTransport) -> None:
        await transport.play(wideband)
        await transport.play(eight_k)
        await transport.hangup()
        await transport.play(eight_k)  # after hang-up: ignored, no error
        assert [e async for e in transport.events()] == []

    async with serving(handler) as server, AudioSocketClient("127.0.0.1", server.port) as client:
        await client.wait_closed(2.0)

    kinds = client.kinds()
    assert kinds[-1] == KIND_HANGUP and client.frames[-1].payload == b""
    assert bytes(client.raw[-3:]) == b"\x00\x00\x00"
    audio_frames = [f.payload for f in client.frames if f.kind == KIND_AUDIO]
    assert all(0 < len(p) <= 320 and len(p) % 2 == 0 for p in audio_frames)
    assert [len(p) for p in audio_frames[-4:]] == [320, 320, 320, 40]
    assert b"".join(audio_frames[-4:]) == eight_k.pcm
    narrow = np.frombuffer(b"".join(audio_frames[:-4]), dtype="<i2").astype(np.float64)
    assert 1560 <= narrow.size <= 1600  # 0.2 s at 8 kHz, minus the resampler's short delay
    spectrum = np.abs(np.fft.rfft(narrow))
    assert abs(np.argmax(spectrum) * 8000 / narrow.size - 1000) < 20


async def test_registry_supplies_call_info_and_the_shared_outcome() -> None:
    known = uuid.uuid4()
    info = CallInfo(str(known), "79160000000", "2", "audiosocket", {"channel": "PJSIP/x-1"})
    outcome = CallOutcome()
    got: list[CallInfo] = []
    ended: list[str] = []

    class Registry:
        def claim(self, call_id: str) -> Claim | str:
            return Claim(info, outcome) if call_id == str(known) else REFUSED_UNKNOWN

        def call_ended(self, call_id: str) -> None:
            ended.append(call_id)

    async def handler(transport: CallTransport) -> None:
        got.append(transport.info)
        await transport.set_caller_name("Анна 1(2)")
        await transport.hand_over("operators", "engine_error")

    async with serving(handler, registry=Registry()) as server:
        async with AudioSocketClient("127.0.0.1", server.port, known) as client:
            await client.wait_closed(2.0)
        async with AudioSocketClient("127.0.0.1", server.port) as stranger:
            await stranger.wait_closed(2.0)

    assert got[0] is info
    assert got[1].caller == "" and got[1].call_id == str(stranger.uuid)
    # the one place the decision lives: the registry's outcome object
    assert (outcome.result, outcome.target, outcome.reason, outcome.caller_name) == (
        "error",
        "operators",
        "engine_error",
        "Анна 1(2)",
    )
    assert ended == [str(known), str(stranger.uuid)]
    assert client.kinds()[-1] == KIND_HANGUP


async def test_unannounced_and_duplicate_uuids_are_refused_before_the_handler() -> None:
    known = uuid.uuid4()
    calls: list[str] = []
    release = asyncio.Event()

    class Registry:
        def claim(self, call_id: str) -> Claim | str:
            if call_id != str(known):
                return REFUSED_UNKNOWN
            return Claim(CallInfo(call_id, "", "", "audiosocket"), CallOutcome())

        def call_ended(self, call_id: str) -> None:
            pass

    async def handler(transport: CallTransport) -> None:
        calls.append(transport.info.call_id)
        await release.wait()
        await transport.hangup()

    async with serving(handler, registry=Registry(), require_announced=True) as server:
        strangers = [AudioSocketClient("127.0.0.1", server.port) for _ in range(20)]
        for stranger in strangers:
            await stranger.connect()
        for stranger in strangers:
            await stranger.wait_closed(2.0)
            assert stranger.frames == []  # closed without a word
        async with AudioSocketClient("127.0.0.1", server.port, known) as first:
            while not calls:
                await asyncio.sleep(0.01)
            async with AudioSocketClient("127.0.0.1", server.port, known) as second:
                await second.wait_closed(2.0)
                assert second.frames == []
            release.set()
            await first.wait_closed(2.0)
        assert server.refused == {REFUSED_UNKNOWN: 20, REFUSED_DUPLICATE: 1}
    assert calls == [str(known)]  # never a slot for the strangers nor the copy


# --- malformed input ends one call, never the server ---------------------------------------------

GOOD_UUID = frame(KIND_UUID, uuid.uuid4().bytes)

MALFORMED = {
    "truncated frame": [GOOD_UUID, b"\x10\x01\x40" + bytes(100)],
    "oversized length": [GOOD_UUID, b"\x10\xff\xff" + bytes(10)],
    "unknown kind": [GOOD_UUID, frame(0x42, b"zz")],
    "odd audio length": [GOOD_UUID, frame(KIND_AUDIO, bytes(3))],
    "bad dtmf": [GOOD_UUID, frame(KIND_DTMF, b"x")],
    "second uuid": [GOOD_UUID, frame(KIND_UUID, uuid.uuid4().bytes)],
    "missing uuid": [frame(KIND_AUDIO, bytes(320))],
    "short uuid": [frame(KIND_UUID, bytes(8))],
    "error frame": [GOOD_UUID, frame(KIND_ERROR, b"\x02")],
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_input_ends_only_that_call(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    outcomes: list[str] = []

    async def handler(transport: CallTransport) -> None:
        try:
            async for event in transport.events():
                if isinstance(event, AudioIn):
                    await transport.play(event.audio)
                elif isinstance(event, HangupIn):
                    outcomes.append(f"hangup:{event.reason}")
        except ProtocolError as exc:
            outcomes.append(f"error:{exc}")
            raise  # the server must not log it a second time

    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with serving(handler) as server:
        bad = AudioSocketClient("127.0.0.1", server.port)
        await bad.connect(send_uuid=False)
        for chunk in MALFORMED[case]:
            await bad.send_raw(chunk)
        if case == "truncated frame":
            await bad.close()  # EOF in the middle of the payload
        started = time.monotonic()
        await bad.wait_closed(2.0)
        assert time.monotonic() - started < 1.5  # an oversized length is not waited for
        await bad.close()
        assert server.active_calls == 0
        assert bad.audio() == b""

        messages = warnings_from(caplog)
        assert len(messages) == 1, messages
        if case in {"missing uuid", "short uuid"}:
            assert outcomes == []  # the handler never ran
        elif case == "error frame":
            assert outcomes == ["hangup:error 02"]
        else:
            assert len(outcomes) == 1 and outcomes[0].startswith("error:")
        if case == "unknown kind":
            assert "0x42" in messages[0]

        await check_echo_works(server)
    assert len(warnings_from(caplog)) == 1


async def test_no_uuid_in_time_closes_connection(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    async def handler(transport: CallTransport) -> None:
        calls.append(transport.info.call_id)
        await echo(transport)

    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with serving(handler, first_frame_timeout=0.3) as server:
        silent = AudioSocketClient("127.0.0.1", server.port)
        await silent.connect(send_uuid=False)
        await silent.wait_closed(2.0)
        await silent.close()
        await check_echo_works(server)
    assert len(calls) == 1  # only the good call
    assert len(warnings_from(caplog)) == 1


async def test_idle_call_ends_with_hangup_event() -> None:
    events: list[InboundEvent] = []

    async def handler(transport: CallTransport) -> None:
        events.extend([e async for e in transport.events()])

    async with (
        serving(handler, idle_timeout=0.3) as server,
        AudioSocketClient("127.0.0.1", server.port) as client,
    ):
        await client.wait_closed(2.0)
    assert events == [HangupIn("idle timeout")]


# --- peer gone, load, shutdown -------------------------------------------------------------------


@pytest.mark.parametrize("read_events", [True, False])
async def test_peer_hangs_up_mid_playback(
    read_events: bool, caplog: pytest.LogCaptureFixture
) -> None:
    finished = asyncio.Event()
    errors: list[BaseException] = []
    played: list[int] = []

    async def handler(transport: CallTransport) -> None:
        if finished.is_set():
            await echo(transport)  # later calls: prove the server still works
            return

        async def drain_events() -> None:
            async for _ in transport.events():
                pass

        reader = asyncio.create_task(drain_events() if read_events else asyncio.sleep(0))
        try:
            for index, chunk in enumerate(tone(440, 3.0, rate=8000).frames(20)):
                await transport.play(chunk)
                played.append(index)
                await asyncio.sleep(0.001)
            assert isinstance(transport, AudioSocketTransport) and transport.closed
            await transport.hangup()
        except BaseException as exc:  # the test records anything
            errors.append(exc)
        finally:
            await reader
            finished.set()

    caplog.set_level(logging.DEBUG)
    async with serving(handler) as server:
        client = AudioSocketClient("127.0.0.1", server.port)
        await client.connect()
        await client.wait_audio(320 * 5, 2.0)
        await client.close(abort=True)  # the caller's side vanishes (RST)
        await asyncio.wait_for(finished.wait(), 5.0)
        assert errors == []
        assert len(played) == 150  # play() kept returning quietly after the peer left
        await check_echo_works(server)

    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]


async def test_twenty_simultaneous_calls_get_their_own_audio() -> None:
    async with serving(echo) as server:
        clients = [AudioSocketClient("127.0.0.1", server.port) for _ in range(20)]
        sent = {
            c.uuid: b"".join(pcm_of(index * 1000 + k) for k in range(10))
            for index, c in enumerate(clients)
        }

        async def talk(client: AudioSocketClient) -> bytes:
            await client.connect()
            await client.send_audio(sent[client.uuid], paced=True)
            return await client.wait_audio(len(sent[client.uuid]), 5.0)

        received = await asyncio.gather(*(talk(c) for c in clients))
        assert server.active_calls == 20
        for client, audio in zip(clients, received, strict=True):
            assert audio == sent[client.uuid]
        for client in clients:
            await client.send_hangup()
        await asyncio.gather(*(c.wait_closed(3.0) for c in clients))
        await asyncio.gather(*(c.close() for c in clients))
        for _ in range(100):
            if server.active_calls == 0:
                break
            await asyncio.sleep(0.01)
        assert server.active_calls == 0


async def test_stop_lets_a_running_call_finish() -> None:
    done = asyncio.Event()

    async def handler(transport: CallTransport) -> None:
        for chunk in tone(500, 0.5, rate=8000).frames(20):  # 25 frames, paced
            await transport.play(chunk)
            await asyncio.sleep(0.02)
        await transport.hangup()
        done.set()

    server = AudioSocketServer(handler, "127.0.0.1", 0)
    await server.start()
    port = server.port
    client = AudioSocketClient("127.0.0.1", port)
    await client.connect()
    await client.wait_audio(320, 2.0)
    await server.stop(grace=3.0)
    assert done.is_set()
    await client.wait_closed(1.0)
    assert client.kinds() == [KIND_AUDIO] * 25 + [KIND_HANGUP]
    await client.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_stop_hangs_up_calls_that_outlive_grace() -> None:
    events: list[InboundEvent] = []

    async def handler(transport: CallTransport) -> None:
        events.extend([e async for e in transport.events()])  # waits for the caller forever

    server = AudioSocketServer(handler, "127.0.0.1", 0, idle_timeout=None)
    await server.start()
    client = AudioSocketClient("127.0.0.1", server.port)
    await client.connect()
    await client.send_audio(pcm_of(7))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await server.stop(grace=0.2)
    assert time.monotonic() - started < 1.5
    await client.wait_closed(1.0)
    assert client.kinds()[-1] == KIND_HANGUP
    assert len(events) == 1 and isinstance(events[0], AudioIn)
    assert server.active_calls == 0
    await client.close()


async def test_write_error_ends_call_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """A send that fails (peer reset before the read side noticed) closes without a fuss."""

    class BrokenWriter:
        closed = False

        def write(self, data: bytes) -> None:
            pass

        async def drain(self) -> None:
            raise ConnectionResetError("Connection lost")

        def is_closing(self) -> bool:
            return self.closed

        def close(self) -> None:
            self.closed = True

        async def wait_closed(self) -> None:
            pass

    ended: list[str] = []
    caplog.set_level(logging.INFO)
    info = CallInfo("c-1", "", "", "audiosocket")
    writer = BrokenWriter()
    transport = AudioSocketTransport(
        info,
        asyncio.StreamReader(),
        writer,  # type: ignore[arg-type]
        on_end=lambda: ended.append("c-1"),
    )
    await transport.play(tone(300, 0.1, rate=8000))
    assert transport.closed and writer.closed and ended == ["c-1"]
    await transport.play(tone(300, 0.1, rate=8000))
    await transport.hangup()
    await transport.transfer("100")
    assert [e async for e in transport.events()] == []
    assert ended == ["c-1"]
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
