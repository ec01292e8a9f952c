"""Twilio Media Streams (bidirectional ``<Connect><Stream>``) as a :class:`CallTransport`.

Wire format, as documented by Twilio ("Media Streams - WebSocket Messages",
https://www.twilio.com/docs/voice/media-streams/websocket-messages; ``<Stream>``:
https://www.twilio.com/docs/voice/twiml/stream; ``<Connect>``:
https://www.twilio.com/docs/voice/twiml/connect). Every message is a JSON **text** frame
(Twilio rejects binary frames: error 31950, https://www.twilio.com/docs/api/errors/31950).

From Twilio, in this order:

- ``{"event": "connected", "protocol": "Call", "version": "1.0.0"}`` — first, once;
- ``{"event": "start", "sequenceNumber": "1", "start": {"streamSid", "accountSid", "callSid",
  "tracks": ["inbound"], "customParameters": {...}, "mediaFormat": {"encoding":
  "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}, "streamSid"}`` — once;
- ``{"event": "media", "media": {"track": "inbound", "chunk": "2", "timestamp": "5",
  "payload": "<base64 μ-law 8 kHz mono>"}, "streamSid", "sequenceNumber"}``;
- ``{"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "1"}, ...}`` (bidirectional
  streams only);
- ``{"event": "mark", "mark": {"name": "..."}}`` — the echo of a mark we sent, when the audio
  sent before it has been played (or dropped by ``clear``);
- ``{"event": "stop", "stop": {"accountSid", "callSid"}, ...}`` — the stream or call ended.

To Twilio: ``{"event": "media", "streamSid", "media": {"payload": "<base64 μ-law/8000>"}}``,
``{"event": "mark", "streamSid", "mark": {"name": "..."}}`` and ``{"event": "clear",
"streamSid"}`` (empties Twilio's buffer of our audio: barge-in). Nothing else exists.

Caller and called numbers are not in the stream: pass them as custom parameters, which Twilio
copies into ``start.customParameters``. TwiML (``{{From}}``/``{{To}}`` is TwiML Bin template
syntax; a webhook that renders TwiML writes the values in itself)::

    <Response>
      <Connect action="https://bot.example/twilio/after-stream">
        <Stream url="wss://bot.example/ws/twilio">
          <Parameter name="caller" value="{{From}}"/>
          <Parameter name="called" value="{{To}}"/>
        </Stream>
      </Connect>
      <Dial>operator-number-or-sip-uri</Dial>
    </Response>

``caller``/``called`` are read (``From``/``To`` are accepted too); any other custom parameter
lands in ``CallInfo.extra`` as ``param.<name>``. ``CallInfo.call_id`` is the ``callSid``.

Transfer and hang-up. A stream cannot transfer a call: Twilio only goes on with the TwiML after
``<Connect>`` (or requests ``<Connect action=...>``) once our server closes the WebSocket
(https://www.twilio.com/docs/api/errors/31921). So :meth:`TwilioTransport.transfer` sends a
``mark`` named ``transfer:<target>`` (``error:<target>`` when the bot hands over because
something failed: the order could not be saved, a speech engine failed or timed out), waits
(at most ``mark_timeout``) for Twilio to echo it — i.e. for the caller to hear the audio
already sent, such as «соединяю с оператором» — and closes the stream with 1000; the target
and result stay in the transport's :class:`~connectors.pbx.transport.CallOutcome`. The
``<Connect action>`` webhook (keyed by ``CallSid``) or the static TwiML after ``<Connect>``
does the redirect (``<Dial>``/``<Enqueue>``). No custom ``transfer`` event is sent: Twilio
knows none. :meth:`TwilioTransport.hangup` does the same with a ``hangup`` mark; with nothing
after ``<Connect>`` (or an action answering ``<Hangup/>``) Twilio ends the call. Twilio has no
caller-name display: :meth:`set_caller_name` does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.http_websocket import WSMessage

from connectors.pbx.transport import AudioIn, CallInfo, DtmfIn, HangupIn, InboundEvent
from connectors.pbx.websocket_base import (
    WebSocketTransport,
    WireError,
    b64decode_strict,
    b64encode,
    check_digit,
    check_identifier,
    get_object,
    get_str,
    parse_json_object,
)
from speech.audio import Audio
from speech.g711 import ulaw_decode, ulaw_encode

RATE = 8000
ENCODING = "audio/x-mulaw"
DEFAULT_MARK_TIMEOUT = 2.0


class TwilioTransport(WebSocketTransport):
    connector = "twilio"

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        *,
        mark_timeout: float = DEFAULT_MARK_TIMEOUT,
    ) -> None:
        super().__init__(ws, request)
        self.rate = RATE
        self.stream_sid = ""
        self.mark_timeout = mark_timeout
        self._seen_connected = False
        self._marks: dict[str, asyncio.Event] = {}

    # -- inbound --------------------------------------------------------------------------------

    def _json(self, msg: WSMessage) -> tuple[str, dict[str, Any]]:
        if msg.type is not WSMsgType.TEXT:
            raise WireError("binary frame (Twilio sends JSON text)", WSCloseCode.UNSUPPORTED_DATA)
        obj = parse_json_object(msg.data)
        return get_str(obj, "event"), obj

    def parse_start(self, msg: WSMessage) -> CallInfo | None:
        event, obj = self._json(msg)
        if event == "connected" and not self._seen_connected:
            self._seen_connected = True
            return None
        if event != "start":
            raise WireError("expected the start event first")
        start = get_object(obj, "start")
        self.stream_sid = get_str(start, "streamSid", required=False) or get_str(obj, "streamSid")
        call_sid = get_str(start, "callSid", required=False)
        account_sid = get_str(start, "accountSid", required=False)
        media_format = get_object(start, "mediaFormat", required=False)
        if media_format and (
            media_format.get("encoding") != ENCODING
            or media_format.get("sampleRate") != RATE
            or media_format.get("channels", 1) != 1
        ):
            raise WireError("media format is not μ-law 8 kHz mono", WSCloseCode.UNSUPPORTED_DATA)
        tracks = start.get("tracks", [])
        if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
            raise WireError("start.tracks must be a list of strings", WSCloseCode.INVALID_TEXT)
        params = get_object(start, "customParameters", required=False)
        if not all(isinstance(value, str) for value in params.values()):
            raise WireError("custom parameters must be strings", WSCloseCode.INVALID_TEXT)
        caller = check_identifier(params.get("caller") or params.get("From") or "", "caller")
        called = check_identifier(params.get("called") or params.get("To") or "", "called")
        check_identifier(call_sid or self.stream_sid, "callSid")
        extra = {"stream_sid": self.stream_sid, "call_sid": call_sid, "account_sid": account_sid}
        extra["tracks"] = ",".join(tracks)
        for name, value in params.items():
            if name not in ("caller", "called", "From", "To"):
                extra[f"param.{name}"] = value
        return CallInfo(
            call_id=call_sid or self.stream_sid,
            caller=caller,
            called=called,
            connector=self.connector,
            extra=extra,
        )

    def parse_message(self, msg: WSMessage) -> Iterable[InboundEvent]:
        event, obj = self._json(msg)
        sid = obj.get("streamSid")
        if sid is not None and sid != self.stream_sid:
            raise WireError("message for another streamSid")
        if event == "media":
            media = get_object(obj, "media")
            track = get_str(media, "track", required=False, default="inbound")
            pcm = b64decode_strict(get_str(media, "payload"))
            if track not in ("inbound", "inbound_track") or not pcm:
                return ()
            samples = ulaw_decode(pcm).astype("<i2", copy=False)
            return (AudioIn(Audio(samples.tobytes(), RATE)),)
        if event == "dtmf":
            return (DtmfIn(check_digit(get_object(obj, "dtmf").get("digit"))),)
        if event == "mark":
            name = get_str(get_object(obj, "mark"), "name")
            waiter = self._marks.pop(name, None)
            if waiter is not None:
                waiter.set()
            return ()
        if event == "stop":
            return (HangupIn("stop"),)
        if event in ("start", "connected"):
            raise WireError(f"duplicate {event} event")
        raise WireError("unknown event")

    def on_stream_end(self) -> None:
        for waiter in self._marks.values():
            waiter.set()
        self._marks.clear()

    # -- outbound -------------------------------------------------------------------------------

    async def play(self, frame: Audio) -> None:
        audio = frame.resample(RATE)
        payload = b64encode(ulaw_encode(np.frombuffer(audio.pcm, dtype="<i2")))
        await self.send_json(
            {"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}}
        )

    async def clear(self) -> None:
        await self.send_json({"event": "clear", "streamSid": self.stream_sid})

    async def mark(self, name: str, *, wait: bool = False) -> None:
        """Send a mark; with ``wait``, until Twilio echoes it (≤ ``mark_timeout`` s)."""
        waiter = asyncio.Event()
        waiting = wait and not self.closed and not self.stream_ended
        if waiting:
            self._marks[name] = waiter
        await self.send_json(
            {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}
        )
        if waiting:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.mark_timeout):
                    await waiter.wait()
            self._marks.pop(name, None)

    async def transfer(self, target: str) -> None:
        outcome = self.outcome.transfer_to(target)
        await self.mark(f"{outcome.result}:{target}", wait=True)  # transfer:… or error:…
        await self.close(WSCloseCode.OK, outcome.result)

    async def hangup(self) -> None:
        self.outcome.hung_up()
        await self.mark("hangup", wait=True)
        await self.close(WSCloseCode.OK, "hangup")
