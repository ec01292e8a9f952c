"""A keypad-driven Asterisk call against a running ``bot serve``, for benchmarks.

It plays Asterisk as ``python -m bot dial`` does (FastAGI session, then the AudioSocket leg the
bot asks for), but without speech: the line carries 20 ms frames of silence in real time,
each step's keys are pressed once the bot's next prompt has begun (keys interrupt prompts, so a
whole order takes seconds), and nothing is transcribed. The result says what the bot set for
the dialplan and how the call ended, e.g. whether the bot said anything after the caller's
last key before it let go (a silent hang-up if not).

    result = await keypad_call(("127.0.0.1", 4573), ORDER_KEYS, caller="+79001234567")
    result.variables["BOT_RESULT"]   # "hangup" | "transfer" | "error"
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from connectors.pbx.audiosocket_wire import KIND_AUDIO, KIND_DTMF, KIND_UUID, encode_frame

FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
PROMPT_BEGUN_BYTES = 3200  # 0.2 s of a new prompt: the bot is speaking again
SPOKE_BYTES = 4800  # 0.3 s: the bot said something after the last key
# menu «заказ», article 123, 2 pieces, yes, no more, the order read back: right
ORDER_KEYS = ("1#", "123#", "2#", "1#", "2#", "1#")
CONFIRM_STEP = 3  # after this step's keys (the «да») the bot's next prompt means "item saved"


@dataclass
class KeypadResult:
    variables: dict[str, str] = field(default_factory=dict)
    steps_done: int = 0  # steps whose keys were pressed
    confirmed: bool = False  # the bot went on after the «да»: the item is on disk
    bot_audio_bytes: int = 0
    audio_after_last_key: int = 0  # bytes of the bot's voice after the caller's last key
    bot_hung_up: bool = False  # the bot closed the audio leg (not the caller, not a crash)
    agi_closed_cleanly: bool = False  # the FastAGI session ended after the variables
    linked: bool = False  # the audio leg connected
    error: str = ""
    seconds: float = 0.0

    @property
    def result(self) -> str:
        return self.variables.get("BOT_RESULT", "")

    @property
    def silent_hangup(self) -> bool:
        """The bot hung up on the caller without a word after their last key, or the
        dialplan got no result at all (a transfer is no hang-up: a person takes the call)."""
        if self.error:
            return False  # a crash or a cut line, counted apart
        hung_up = self.bot_hung_up and self.result != "transfer"
        return (hung_up and self.audio_after_last_key < SPOKE_BYTES) or not self.result


class _Leg:
    """The AudioSocket connection: silence out, the bot's audio in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.audio = 0
        self.closed = asyncio.Event()
        self.lost = False  # reset, not closed

    async def receive(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(3)
                payload = await self.reader.readexactly(int.from_bytes(header[1:], "big"))
                if header[0] == KIND_AUDIO:
                    self.audio += len(payload)
        except asyncio.IncompleteReadError:
            pass
        except (ConnectionError, OSError):
            self.lost = True
        self.closed.set()

    async def send_silence(self) -> None:
        frame = encode_frame(KIND_AUDIO, bytes(FRAME_BYTES))
        next_at = time.monotonic()
        with contextlib.suppress(ConnectionError, OSError):
            while not self.closed.is_set():
                self.writer.write(frame)
                await self.writer.drain()
                next_at += 0.02
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def wait_audio(self, nbytes: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.audio < nbytes and not self.closed.is_set():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return self.audio >= nbytes

    async def press(self, keys: str) -> None:
        for digit in keys:
            self.writer.write(encode_frame(KIND_DTMF, digit.encode("ascii")))
        await self.writer.drain()


async def keypad_call(
    agi: tuple[str, int],
    steps: tuple[str, ...] | list[str] = ORDER_KEYS,
    *,
    caller: str = "+79001234567",
    called: str = "78123098635",
    step_timeout: float = 20.0,
    end_timeout: float = 30.0,
    hold: asyncio.Event | None = None,
    before_step: Callable[[int], Awaitable[None]] | None = None,
    result: KeypadResult | None = None,
) -> KeypadResult:
    """One call: ``steps`` of keys, each once the next prompt has begun (and
    ``before_step(index)`` returned); then until the bot ends the call (or, with ``hold``,
    the line stays open until ``hold`` is set)."""
    started = time.monotonic()
    result = result if result is not None else KeypadResult()  # a caller may watch it live
    try:
        reader, writer = await asyncio.open_connection(*agi)
    except OSError as exc:
        result.error = f"connect: {type(exc).__name__}"
        return result
    env = {
        "agi_network": "yes",
        "agi_network_script": "order",
        "agi_request": f"agi://{agi[0]}:{agi[1]}/order",
        "agi_channel": f"PJSIP/bench-{uuid.uuid4().hex[:8]}",
        "agi_uniqueid": f"{time.time():.6f}",
        "agi_callerid": caller,
        "agi_calleridname": "unknown",
        "agi_dnid": called,
        "agi_context": "ivr",
        "agi_extension": "2",
        "agi_priority": "1",
    }
    try:
        writer.write("".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n")
        await writer.drain()
        while True:
            raw = await reader.readline()
            if not raw:
                result.agi_closed_cleanly = "BOT_RESULT" in result.variables
                break
            words = shlex.split(raw.decode("utf-8", "replace").strip())
            if words[:2] == ["EXEC", "AudioSocket"]:
                call_uuid, address = words[2].split(",", 1)
                await _audio_leg(
                    call_uuid,
                    address,
                    steps,
                    result,
                    (step_timeout, end_timeout),
                    hold,
                    before_step,
                )
                writer.write(b"200 result=0\n")
            elif words[:2] == ["SET", "VARIABLE"] and len(words) >= 4:
                result.variables[words[2]] = words[3]
                writer.write(b"200 result=1\n")
            else:
                writer.write(b"510 Invalid or unknown command\n")
            await writer.drain()
    except (ConnectionError, OSError) as exc:
        result.error = result.error or f"fastagi: {type(exc).__name__}"
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    result.seconds = time.monotonic() - started
    return result


async def _audio_leg(
    call_uuid: str,
    address: str,
    steps: tuple[str, ...] | list[str],
    result: KeypadResult,
    timeouts: tuple[float, float],
    hold: asyncio.Event | None,
    before_step: Callable[[int], Awaitable[None]] | None,
) -> None:
    step_timeout, end_timeout = timeouts
    host, port = address.rsplit(":", 1)
    try:
        reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
    except OSError as exc:
        result.error = f"audiosocket: {type(exc).__name__}"
        return
    result.linked = True
    writer.write(encode_frame(KIND_UUID, uuid.UUID(call_uuid).bytes))
    leg = _Leg(reader, writer)
    tasks = [asyncio.create_task(leg.receive()), asyncio.create_task(leg.send_silence())]
    last_key_audio = 0
    try:
        for index, keys in enumerate(steps):
            if not await leg.wait_audio(leg.audio + PROMPT_BEGUN_BYTES, step_timeout):
                break
            if index == CONFIRM_STEP + 1:
                result.confirmed = True  # the prompt after the «да» has begun
            if before_step is not None:
                await before_step(index)
            await leg.press(keys)
            last_key_audio = leg.audio
            result.steps_done = index + 1
        if result.steps_done == CONFIRM_STEP + 1 and len(steps) == CONFIRM_STEP + 1:
            result.confirmed = await leg.wait_audio(leg.audio + PROMPT_BEGUN_BYTES, step_timeout)
        if hold is not None:
            waiter = asyncio.create_task(hold.wait())
            await asyncio.wait({waiter, tasks[0]}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(end_timeout):
                    await leg.closed.wait()
    finally:
        result.bot_hung_up = leg.closed.is_set() and not leg.lost
        if leg.lost:
            result.error = "audiosocket: connection lost"
        result.bot_audio_bytes = leg.audio
        result.audio_after_last_key = leg.audio - last_key_audio
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
