"""Fakes that play Asterisk against our AudioSocket and FastAGI servers, over real TCP.

Written from the protocol descriptions, not from our server code:

- AudioSocket (docs.asterisk.org "AudioSocket" channel-driver page; asterisk
  ``res/res_audiosocket.c``): ``[kind u8][length u16 big-endian][payload]``; Asterisk sends
  the UUID first (``01 00 10`` + 16 bytes), then 0x10 audio (8 kHz slin16 LE, 320 bytes per
  20 ms), 0x03 DTMF (one ASCII byte), 0x00 hang-up, 0xff error.
- FastAGI (asterisk ``res/res_agi.c``): ``agi_network: yes``, ``agi_network_script``, the
  ``agi_*`` environment and a blank line; each command line gets one reply line
  (``200 result=…``, ``510``, ``511``, or a ``520-`` … ``520 `` block); ``HANGUP`` lines may
  arrive unasked; arguments split like ``parse_args`` (quotes, backslash escapes).

    client = AudioSocketClient("127.0.0.1", port)
    await client.connect()
    await client.send_audio(pcm, paced=True)
    await client.send_dtmf("5")
    await client.send_hangup()
    await client.wait_closed()
    client.frames  # what the server sent, with arrival times
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono


def frame(kind: int, payload: bytes = b"") -> bytes:
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: bytes
    at: float  # time.monotonic() when it arrived


class AudioSocketClient:
    """Plays Asterisk's ``AudioSocket()`` application: connects, sends, collects."""

    def __init__(self, host: str, port: int, call_uuid: str | uuid.UUID | None = None) -> None:
        self.host = host
        self.port = port
        self.uuid = uuid.UUID(str(call_uuid)) if call_uuid is not None else uuid.uuid4()
        self.frames: list[Frame] = []
        self.raw = bytearray()  # every byte the server sent, in order
        self.trailing = b""  # bytes after the last whole frame when the server closed
        self.server_closed = asyncio.Event()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def connect(self, *, send_uuid: bool = True) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._task = asyncio.create_task(self._collect())
        if send_uuid:
            await self.send_frame(KIND_UUID, self.uuid.bytes)

    async def __aenter__(self) -> AudioSocketClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- sending ------------------------------------------------------------------------------

    async def send_raw(self, data: bytes) -> None:
        assert self._writer is not None, "connect() first"
        self._writer.write(data)
        await self._writer.drain()

    async def send_frame(self, kind: int, payload: bytes = b"") -> None:
        await self.send_raw(frame(kind, payload))

    async def send_audio(
        self, pcm: bytes, *, paced: bool = False, frame_bytes: int = FRAME_BYTES
    ) -> None:
        """Send ``pcm`` as 0x10 frames; ``paced`` sends one frame per 20 ms like a channel."""
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), frame_bytes)):
            if paced:
                delay = start + index * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await self.send_frame(KIND_AUDIO, pcm[offset : offset + frame_bytes])

    async def send_dtmf(self, digit: str) -> None:
        await self.send_frame(KIND_DTMF, digit.encode("ascii"))

    async def send_hangup(self) -> None:
        await self.send_raw(frame(KIND_HANGUP))

    async def send_error(self, code: bytes = b"\x01") -> None:
        await self.send_frame(KIND_ERROR, code)

    async def close(self, *, abort: bool = False) -> None:
        """Close our side (``abort``: reset the connection instead of a clean FIN)."""
        if self._writer is not None:
            if abort:
                self._writer.transport.abort()
            else:
                self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 1.0)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    # -- receiving ----------------------------------------------------------------------------

    async def _collect(self) -> None:
        assert self._reader is not None
        buffer = b""
        try:
            while True:
                chunk = await self._reader.read(65536)
                if not chunk:
                    break
                self.raw.extend(chunk)
                buffer += chunk
                while len(buffer) >= 3:
                    length = int.from_bytes(buffer[1:3], "big")
                    if len(buffer) < 3 + length:
                        break
                    now = time.monotonic()
                    self.frames.append(Frame(buffer[0], buffer[3 : 3 + length], now))
                    buffer = buffer[3 + length :]
        except (ConnectionError, OSError):
            pass
        finally:
            self.trailing = buffer
            self.server_closed.set()

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Until the server has closed the connection."""
        await asyncio.wait_for(self.server_closed.wait(), timeout)

    async def wait_audio(self, nbytes: int, timeout: float = 5.0) -> bytes:
        """Until at least ``nbytes`` of audio arrived (or the server closed); returns it all."""
        deadline = time.monotonic() + timeout
        while len(self.audio()) < nbytes and not self.server_closed.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"got {len(self.audio())} of {nbytes} audio bytes")
            await asyncio.sleep(0.005)
        return self.audio()

    def audio(self) -> bytes:
        return b"".join(f.payload for f in self.frames if f.kind == KIND_AUDIO)

    def kinds(self) -> list[int]:
        return [f.kind for f in self.frames]


# --- FastAGI ----------------------------------------------------------------------------------


def agi_parse_args(line: str) -> list[str]:
    """Split a command as Asterisk's ``parse_args`` does (res_agi.c)."""
    args: list[list[str]] = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                args.append([])
                whitespace = False
            continue
        if ch in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            args.append([])
            whitespace = False
        args[-1].append(ch)
        escaped = False
    return ["".join(a) for a in args]


AudioScenario = Callable[[AudioSocketClient], Awaitable[None]]


async def wait_for_server_hangup(client: AudioSocketClient) -> None:
    """The default audio leg: stay silent until the bot ends the call."""
    await client.wait_closed(10.0)


@dataclass
class FastAgiClient:
    """Plays Asterisk running ``AGI(agi://host:port/script)`` against a FastAGI server.

    ``EXEC AudioSocket <uuid>,<host:port>`` opens a real :class:`AudioSocketClient` to that
    address, runs ``audio`` on it, and answers ``200 result=<exec_result>`` when it returns.
    Every other command line is recorded in ``commands``; SET VARIABLE values (unquoted)
    land in ``variables``.
    """

    host: str
    port: int
    env: Mapping[str, str]
    audio: AudioScenario = wait_for_server_hangup
    exec_result: int = 0
    hangup_line_before_exec_reply: bool = False  # send "HANGUP" before the EXEC reply
    exec_reply: list[str] | None = None  # raw reply lines instead of running the audio leg
    set_reply: list[str] = field(default_factory=lambda: ["200 result=1"])
    commands: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    audio_client: AudioSocketClient | None = None
    closed_by_server: bool = False

    async def run(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._run(), timeout)

    async def _run(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            head = "".join(f"{name}: {value}\n" for name, value in self.env.items()) + "\n"
            writer.write(head.encode("utf-8"))
            await writer.drain()
            while True:
                raw = await reader.readline()
                if not raw:
                    self.closed_by_server = True
                    return
                line = raw.decode("utf-8").rstrip("\n")
                self.commands.append(line)
                for reply in await self._answer(line):
                    writer.write(reply.encode("utf-8") + b"\n")
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, line: str) -> list[str]:
        argv = agi_parse_args(line)
        verb = [a.upper() for a in argv[:2]]
        if verb[:1] == ["EXEC"]:
            if self.exec_reply is not None:
                return self.exec_reply
            if len(argv) < 2 or argv[1].lower() != "audiosocket":
                return ["200 result=-2"]
            call_uuid, _, service = (argv[2] if len(argv) > 2 else "").partition(",")
            host, _, port = service.rpartition(":")
            self.audio_client = AudioSocketClient(host.strip("[]"), int(port), call_uuid)
            await self.audio_client.connect()
            try:
                await self.audio(self.audio_client)
            finally:
                await self.audio_client.close()
            replies = [f"200 result={self.exec_result}"]
            if self.hangup_line_before_exec_reply:
                replies.insert(0, "HANGUP")
            return replies
        if verb == ["SET", "VARIABLE"]:
            if len(argv) != 4:
                return [
                    "520-Invalid command syntax.  Proper usage follows:",
                    " Usage: SET VARIABLE <variablename> <value>",
                    "520 End of proper usage.",
                ]
            self.variables[argv[2]] = argv[3]
            return list(self.set_reply)
        if verb == ["GET", "VARIABLE"]:
            return ["200 result=0"]
        return ["510 Invalid or unknown command"]


def agi_env(
    *,
    script: str = "order",
    callerid: str = "79161234567",
    calleridname: str = "unknown",
    dnid: str = "4951112233",
    extension: str = "2",
    channel: str = "PJSIP/trunk-00000007",
    uniqueid: str = "1700000000.42",
    args: tuple[str, ...] = (),
) -> dict[str, str]:
    """An environment block in the order res_agi.c sends it."""
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:4573/{script}",
        "agi_channel": channel,
        "agi_language": "ru",
        "agi_type": "PJSIP",
        "agi_uniqueid": uniqueid,
        "agi_version": "20.5.0",
        "agi_callerid": callerid,
        "agi_calleridname": calleridname,
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": dnid,
        "agi_rdnis": "unknown",
        "agi_context": "ivr",
        "agi_extension": extension,
        "agi_priority": "1",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "140000000000000",
    }
    for index, value in enumerate(args, start=1):
        env[f"agi_arg_{index}"] = value
    return env
