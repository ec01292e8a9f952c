"""The benchmark's caller on the wire (``bot.tools.wire_caller``): a phrase held for a phase
starts at a frame whose number has that remainder, over a real TCP socket, so the false cut-off
benchmark can put each paused phrase at chosen places on the bot's VAD grid."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from bot.tools.wire_caller import FRAME_BYTES, WireCall, audible
from connectors.pbx.audiosocket_wire import KIND_AUDIO

LOUD = (np.full(FRAME_BYTES // 2 * 3, 4000, dtype="<i2")).tobytes()  # three loud frames


async def _frames_heard(phase: tuple[int, int] | None, after_s: float) -> tuple[list[bytes], int]:
    """Frames an AudioSocket peer receives while the caller says LOUD ``after_s`` into the
    call, held for ``phase``; and how many frames had gone out when it was said."""
    received: list[bytes] = []
    done = asyncio.Event()

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not done.is_set():
            try:
                header = await reader.readexactly(3)
                payload = await reader.readexactly(int.from_bytes(header[1:], "big"))
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            if header[0] == KIND_AUDIO:
                received.append(payload)
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    call = WireCall("127.0.0.1", 0)
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    sending = asyncio.create_task(call._send(writer))
    try:
        await asyncio.sleep(after_s)
        before = call._sent
        phrase = await asyncio.wait_for(call.say("громко", LOUD, phase), 5)
        await asyncio.sleep(0.1)
    finally:
        call.closed.set()
        done.set()
        await asyncio.wait_for(sending, 2)
        writer.close()
        server.close()
    assert phrase.first_audible and phrase.last_audible >= phrase.first_audible
    return received, before


@pytest.mark.parametrize("phase", [(0, 8), (3, 8), (6, 8)])
async def test_a_held_phrase_starts_at_its_phase(phase: tuple[int, int]) -> None:
    frames, _ = await _frames_heard(phase, after_s=0.13)
    loud = [i for i, f in enumerate(frames) if audible(f)]
    assert len(loud) == 3, "the whole phrase went out"
    assert loud[0] % phase[1] == phase[0]
    assert loud == list(range(loud[0], loud[0] + 3)), "once begun, the phrase is not held"


async def test_without_a_phase_the_phrase_starts_at_once() -> None:
    frames, before = await _frames_heard(None, after_s=0.13)
    loud = [i for i, f in enumerate(frames) if audible(f)]
    assert before >= 3, "silence went out meanwhile"
    assert loud[0] in (before, before + 1), "the next frame (or the one sending now) is its"


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST, as the kernel does for a killed process with unread input."""
    import socket
    import struct

    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_a_bot_that_dies_mid_call_ends_the_call_without_an_error() -> None:
    """The journal's crash test kills the bot mid-call: the caller's hangup and its AGI reply
    then meet reset sockets, which must end the call, not raise ConnectionResetError."""
    agi_writers: list[asyncio.StreamWriter] = []
    audio_writers: list[asyncio.StreamWriter] = []

    async def audio(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        audio_writers.append(writer)
        await reader.read(100)

    audio_server = await asyncio.start_server(audio, "127.0.0.1", 0)
    audio_port = audio_server.sockets[0].getsockname()[1]

    async def agi(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        agi_writers.append(writer)
        while (await reader.readline()).strip():
            pass  # the AGI environment
        line = f"EXEC AudioSocket 0f7c2a1e-5b0d-4c8e-9a51-2f3d4e5a6b7c,127.0.0.1:{audio_port}\n"
        writer.write(line.encode())
        await writer.drain()
        await reader.read(100)

    agi_server = await asyncio.start_server(agi, "127.0.0.1", 0)
    call = WireCall("127.0.0.1", agi_server.sockets[0].getsockname()[1])

    async def killed(call: WireCall) -> None:
        await asyncio.sleep(0.2)
        for writer in (*audio_writers, *agi_writers):
            _reset(writer)
        await asyncio.sleep(0.2)

    try:
        await asyncio.wait_for(call.run(killed), 10)
    finally:
        agi_server.close()
        audio_server.close()
    assert call.call_id == "0f7c2a1e-5b0d-4c8e-9a51-2f3d4e5a6b7c", "the audio leg was reached"
    assert call.closed.is_set()
