"""Fake WebSocket media clients, written from the wire specs (not from our server code).

- :class:`TwilioClient` plays Twilio Media Streams (bidirectional ``<Connect><Stream>``),
  https://www.twilio.com/docs/voice/media-streams/websocket-messages: JSON text frames
  ``connected``, ``start``, ``media`` (base64 μ-law 8 kHz, 20 ms = 160 bytes per chunk),
  ``dtmf``, ``stop``; it echoes every ``mark`` it receives, as Twilio does once the audio sent
  before it has played.
- :class:`AudioForkClient` plays FreeSWITCH ``mod_audio_fork`` (drachtio-freeswitch-modules):
  sub-protocol ``audio.drachtio.org``, the metadata as the first text frame, then binary frames
  of 16-bit linear PCM; ``send_text`` frames for DTMF (our convention).
- :class:`BrowserClient` plays our ``talk.html`` page: a ``start`` JSON text frame, binary PCM,
  ``dtmf``/``stop`` JSON.

Each client keeps reading in the background: ``texts`` (parsed JSON, or the raw string),
``binaries``, and ``close_code`` once the server closed. :func:`serve_app` runs an aiohttp
application on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

from speech.audio import Audio
from speech.g711 import ulaw_decode, ulaw_encode

TWILIO_RATE = 8000
AUDIO_FORK_SUBPROTOCOL = "audio.drachtio.org"


@contextlib.asynccontextmanager
async def serve_app(
    routes: Mapping[str, Callable[[web.Request], Awaitable[web.StreamResponse]]],
) -> AsyncIterator[str]:
    """Serve GET ``routes`` on 127.0.0.1:<free port>; yields ``http://127.0.0.1:<port>``."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


class FakeWsClient:
    """A WebSocket peer that records everything the server sends."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.texts: list[Any] = []
        self.binaries: list[bytes] = []
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, **kwargs: Any
    ) -> AsyncIterator[Any]:
        protocols = kwargs.pop("protocols", ())
        ws = await session.ws_connect(url, protocols=protocols, autoclose=True, autoping=True)
        client = cls(ws, **kwargs)
        try:
            yield client
        finally:
            await client.close()

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    try:
                        self.texts.append(json.loads(msg.data))
                    except ValueError:
                        self.texts.append(msg.data)
                    await self.on_text(self.texts[-1])
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    self.binaries.append(msg.data)
                self._changed.set()
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            self._changed.set()

    async def on_text(self, message: Any) -> None:
        """Hook: react to a text message (Twilio echoes marks)."""

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 3.0) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                if predicate():
                    return
                if self.closed.is_set():
                    raise AssertionError("the server closed before the condition held")
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    async def wait_closed(self, timeout: float = 3.0) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    def messages(self, key: str, value: str) -> list[dict[str, Any]]:
        return [m for m in self.texts if isinstance(m, dict) and m.get(key) == value]

    async def send_text(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_json(self, message: Mapping[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._reader, 3.0)


# --- Twilio --------------------------------------------------------------------------------


class TwilioClient(FakeWsClient):
    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        *,
        stream_sid: str = "MZ00000000000000000000000000000001",
        call_sid: str = "CA00000000000000000000000000000001",
        echo_marks: bool = True,
    ) -> None:
        super().__init__(ws)
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.account_sid = "AC00000000000000000000000000000001"
        self.echo_marks = echo_marks
        self._seq = 0
        self._chunk = 0

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def on_text(self, message: Any) -> None:
        if self.echo_marks and isinstance(message, dict) and message.get("event") == "mark":
            with contextlib.suppress(Exception):
                await self.send_json(
                    {
                        "event": "mark",
                        "sequenceNumber": self._next_seq(),
                        "streamSid": self.stream_sid,
                        "mark": {"name": message["mark"]["name"]},
                    }
                )

    async def send_connected(self) -> None:
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    async def send_start(self, custom_parameters: Mapping[str, str] | None = None) -> None:
        await self.send_json(
            {
                "event": "start",
                "sequenceNumber": self._next_seq(),
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {
                        "encoding": "audio/x-mulaw",
                        "sampleRate": TWILIO_RATE,
                        "channels": 1,
                    },
                    "customParameters": dict(custom_parameters or {}),
                },
                "streamSid": self.stream_sid,
            }
        )

    async def begin(self, caller: str = "", called: str = "") -> None:
        """``connected`` then ``start`` with ``caller``/``called`` custom parameters."""
        await self.send_connected()
        await self.send_start({"caller": caller, "called": called})

    async def send_media(self, mulaw: bytes) -> None:
        self._chunk += 1
        await self.send_json(
            {
                "event": "media",
                "sequenceNumber": self._next_seq(),
                "media": {
                    "track": "inbound",
                    "chunk": str(self._chunk),
                    "timestamp": str((self._chunk - 1) * 20),
                    "payload": base64.b64encode(mulaw).decode("ascii"),
                },
                "streamSid": self.stream_sid,
            }
        )

    async def send_audio(self, audio: Audio) -> bytes:
        """Send ``audio`` (resampled to 8 kHz) as 20 ms μ-law chunks; returns the μ-law bytes."""
        mulaw = ulaw_encode(np.frombuffer(audio.resample(TWILIO_RATE).pcm, dtype="<i2"))
        for offset in range(0, len(mulaw), 160):
            await self.send_media(mulaw[offset : offset + 160])
        return mulaw

    async def send_dtmf(self, digit: str) -> None:
        await self.send_json(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": self._next_seq(),
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def send_stop(self) -> None:
        await self.send_json(
            {
                "event": "stop",
                "sequenceNumber": self._next_seq(),
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                "streamSid": self.stream_sid,
            }
        )

    def media_payloads(self) -> list[bytes]:
        return [base64.b64decode(m["media"]["payload"]) for m in self.messages("event", "media")]

    def received_audio(self) -> Audio:
        pcm = ulaw_decode(b"".join(self.media_payloads())).astype("<i2").tobytes()
        return Audio(pcm, TWILIO_RATE)


# --- FreeSWITCH mod_audio_fork -------------------------------------------------------------


class AudioForkClient(FakeWsClient):
    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, **kwargs: Any
    ) -> AsyncIterator[Any]:
        kwargs.setdefault("protocols", (AUDIO_FORK_SUBPROTOCOL,))
        async with super().connect(session, url, **kwargs) as client:
            yield client

    async def send_metadata(self, metadata: Mapping[str, Any]) -> None:
        """The ``<metadata>`` argument of ``uuid_audio_fork ... start``, as FreeSWITCH sends it."""
        await self.send_text(json.dumps(metadata, separators=(",", ":")))

    async def send_audio(self, audio: Audio, rate: int, frame_ms: int = 20) -> None:
        for frame in audio.resample(rate).frames(frame_ms):
            await self.send_bytes(frame.pcm)

    async def send_dtmf(self, digit: str) -> None:
        """``uuid_audio_fork <uuid> send_text {"type":"dtmf","digit":"5"}``."""
        await self.send_text(json.dumps({"type": "dtmf", "digit": digit}, separators=(",", ":")))

    def play_audio(self) -> list[dict[str, Any]]:
        return [m["data"] for m in self.messages("type", "playAudio")]

    def received_audio(self, rate: int) -> Audio:
        chunks = [base64.b64decode(d["audioContent"]) for d in self.play_audio()]
        return Audio(b"".join(chunks), rate)


# --- our browser page ----------------------------------------------------------------------


class BrowserClient(FakeWsClient):
    async def send_start(self, rate: int = 16000, caller: str = "", called: str = "") -> None:
        await self.send_json({"type": "start", "rate": rate, "caller": caller, "called": called})

    async def send_audio(self, audio: Audio, rate: int, frame_ms: int = 20) -> None:
        for frame in audio.resample(rate).frames(frame_ms):
            await self.send_bytes(frame.pcm)

    async def send_dtmf(self, digit: str) -> None:
        await self.send_json({"type": "dtmf", "digit": digit})

    async def send_stop(self) -> None:
        await self.send_json({"type": "stop"})

    def received_audio(self, rate: int) -> Audio:
        return Audio(b"".join(self.binaries), rate)
