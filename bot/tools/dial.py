"""``python -m bot dial``: place a simulated Asterisk call against a running ``bot serve``.

It plays Asterisk's part on the wire: a FastAGI session (``agi_*`` environment with the
caller and dialled numbers), then the AudioSocket connection the bot asks for with
``EXEC AudioSocket <uuid>,<host:port>``, streaming the caller's phrases (Festival, 8 kHz,
20 ms frames in real time, silence in between) and DTMF. After the audio leg it answers the
bot's ``SET VARIABLE`` commands and prints them (``CALLERID(name)``, ``BOT_TRANSFER``,
``BOT_RESULT``). The bot's phrases are transcribed with Whisper (``--no-transcribe`` skips
that) and everything it said is written to ``--out`` as a WAV.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import time
import uuid
from pathlib import Path

from connectors.pbx.audiosocket_wire import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_HANGUP,
    encode_audio,
    encode_frame,
)
from speech.audio import Audio

RATE = 8000
FRAME_BYTES = 320
REPLY_PAUSE_S = 0.8  # the bot has finished a reply when its audio pauses this long


def add_dial_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dial = commands.add_parser("dial", help="place a simulated Asterisk call on a running server")
    dial.add_argument("--agi", default="127.0.0.1:4573", help="the bot's FastAGI host:port")
    dial.add_argument("--caller", default="+79607775577")
    dial.add_argument("--called", default="78123098635")
    dial.add_argument("--say", action="append", dest="steps", type=lambda t: ("say", t))
    dial.add_argument("--dtmf", action="append", dest="steps", type=lambda t: ("dtmf", t))
    dial.add_argument("--out", type=Path, default=Path("var/dial-bot.wav"))
    dial.add_argument("--no-transcribe", action="store_true", help="do not run Whisper")


class AudioLeg:
    """The AudioSocket connection as Asterisk runs it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.bot_pcm = bytearray()
        self.utterances: list[bytes] = []
        self._current = bytearray()
        self.last_audio = 0.0
        self.closed = asyncio.Event()

    async def receive(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(3)
                payload = await self.reader.readexactly(int.from_bytes(header[1:], "big"))
                if header[0] == KIND_AUDIO:
                    self.bot_pcm += payload
                    self._current += payload
                    self.last_audio = time.monotonic()
                elif header[0] == KIND_HANGUP:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self.cut()
        self.closed.set()

    def cut(self) -> None:
        if self._current:
            self.utterances.append(bytes(self._current))
            self._current = bytearray()

    async def send_pcm(self, pcm: bytes) -> None:
        next_at = time.monotonic()
        for i in range(0, len(pcm), FRAME_BYTES):
            if self.closed.is_set():
                return
            self.writer.write(encode_audio(pcm[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")))
            await self.writer.drain()
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def silence_until_reply(self, timeout: float = 30.0) -> None:
        """Keep the line open with silence until the bot has spoken and paused."""
        started = time.monotonic()
        heard_from = self.last_audio
        silence = bytes(FRAME_BYTES)
        while not self.closed.is_set() and time.monotonic() - started < timeout:
            await self.send_pcm(silence)
            spoke = self.last_audio > heard_from
            if spoke and time.monotonic() - self.last_audio > REPLY_PAUSE_S:
                return


async def cmd_dial(args: argparse.Namespace) -> int:
    from speech.tts import create_synthesizer

    steps: list[tuple[str, str]] = args.steps or []
    voice = create_synthesizer("festival", rate=16000)
    phrases = {
        text: (await voice.synthesize(text)).resample(RATE).pcm
        for kind, text in steps
        if kind == "say"
    }
    host, port = args.agi.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    channel_id = uuid.uuid4().hex[:8]
    env = {
        "agi_network": "yes",
        "agi_network_script": "order",
        "agi_request": f"agi://{args.agi}/order",
        "agi_channel": f"PJSIP/dial-{channel_id}",
        "agi_language": "ru",
        "agi_type": "PJSIP",
        "agi_uniqueid": f"{time.time():.6f}",
        "agi_callerid": args.caller,
        "agi_calleridname": "unknown",
        "agi_dnid": args.called,
        "agi_context": "ivr",
        "agi_extension": args.called,
        "agi_priority": "1",
    }
    writer.write("".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n")
    await writer.drain()
    leg: AudioLeg | None = None
    variables: dict[str, str] = {}
    while True:
        line = (await reader.readline()).decode("utf-8", "replace").strip()
        if not line:
            break
        words = shlex.split(line, posix=True)
        if words[:2] == ["EXEC", "AudioSocket"]:
            call_uuid, address = words[2].split(",", 1)
            leg = await _audio_leg(call_uuid, address, steps, phrases, args)
            writer.write(b"200 result=0\n")
        elif words[:2] == ["SET", "VARIABLE"] and len(words) >= 4:
            variables[words[2]] = words[3]
            writer.write(b"200 result=1\n")
        else:
            writer.write(b"510 Invalid or unknown command\n")
        await writer.drain()
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    for name, value in variables.items():
        print(f"  {name} = {value}")
    if leg is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        Audio(bytes(leg.bot_pcm), RATE).write_wav(args.out)
        print(f"the bot's audio: {args.out} ({len(leg.bot_pcm) / 2 / RATE:.1f} s)")
    return 0 if leg is not None else 1


async def _audio_leg(
    call_uuid: str,
    address: str,
    steps: list[tuple[str, str]],
    phrases: dict[str, bytes],
    args: argparse.Namespace,
) -> AudioLeg:
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
    writer.write(encode_frame(0x01, uuid.UUID(call_uuid).bytes))
    leg = AudioLeg(reader, writer)
    receiver = asyncio.create_task(leg.receive())
    transcriber = None if args.no_transcribe else _Transcriber()
    await leg.silence_until_reply()
    await _show(leg, transcriber)
    for kind, value in steps:
        if leg.closed.is_set():
            break
        print(f"вы: {value}" if kind == "say" else f"вы: [клавиши {value}]")
        if kind == "say":
            await leg.send_pcm(phrases[value])
        else:
            for digit in value:
                writer.write(encode_frame(KIND_DTMF, digit.encode()))
            await writer.drain()
        await leg.silence_until_reply()
        await _show(leg, transcriber)
    if not leg.closed.is_set():
        writer.write(encode_frame(KIND_HANGUP))
        await writer.drain()
    await asyncio.wait({receiver}, timeout=5)
    receiver.cancel()
    await asyncio.gather(receiver, return_exceptions=True)
    await _show(leg, transcriber)
    writer.close()
    return leg


class _Transcriber:
    def __init__(self) -> None:
        from speech.asr import create_recognizer

        self.asr = create_recognizer("whisper")

    async def text(self, pcm: bytes) -> str:
        transcript = await self.asr.transcribe(Audio(pcm, RATE))
        return transcript.text


async def _show(leg: AudioLeg, transcriber: _Transcriber | None) -> None:
    leg.cut()
    for pcm in leg.utterances:
        seconds = len(pcm) / 2 / RATE
        text = await transcriber.text(pcm) if transcriber else "…"
        print(f"бот ({seconds:.1f} s): {text}")
    leg.utterances.clear()
