"""Our plain browser format (``bot/static/talk.html``) as a :class:`CallTransport`.

This format is ours, so its source is this docstring (the page and
``tests/fakes/ws_clients.py`` follow it). One call per WebSocket.

From the browser:

- first, a text frame ``{"type": "start", "rate": 16000, "caller": "...", "called": "..."}``
  (``rate``: 8000, 16000, 24000, 32000, 44100 or 48000; ``caller``/``called`` optional
  strings; an optional ``call_id`` string, else one is made up);
- binary frames: 16-bit little-endian mono PCM at ``rate`` (the page sends 20 ms frames;
  any even length up to the size limit is accepted);
- text frames ``{"type": "dtmf", "digit": "1"}`` (0-9 * # A-D) and ``{"type": "stop"}`` (the
  caller hung up; closing the socket means the same).

From the server:

- binary frames: the bot's voice, 16-bit little-endian mono PCM at the same ``rate``, one
  frame per :meth:`BrowserTransport.play` (the session paces them in real time);
- ``{"type": "clear"}``: barge-in — drop everything queued for playback now;
- ``{"type": "caller_name", "name": "..."}``: what a PBX would show operators;
- ``{"type": "transfer", "target": "...", "result": "transfer" | "error", "reason": "..."}``
  then a close (1000): the call is handed over (a browser has nowhere to go; the page shows
  it); ``result`` is ``error`` when something failed (order not saved, engine failure);
- ``{"type": "hangup"}`` then a close (1000).

Anything else — bad JSON, wrong types, an unknown ``type``, PCM with an odd byte count,
binary before ``start`` — ends the call (see :mod:`connectors.pbx.websocket_base`).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.http_websocket import WSMessage

from connectors.pbx.transport import (
    AudioIn,
    CallInfo,
    DtmfIn,
    HangupIn,
    InboundEvent,
)
from connectors.pbx.websocket_base import (
    WebSocketTransport,
    WireError,
    check_digit,
    check_identifier,
    get_int,
    get_str,
    new_call_id,
    parse_json_object,
    pcm_audio,
)
from speech.audio import Audio

RATES = (8000, 16000, 24000, 32000, 44100, 48000)


class BrowserTransport(WebSocketTransport):
    connector = "browser"

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        super().__init__(ws, request)
        self.rate = 16000

    def parse_start(self, msg: WSMessage) -> CallInfo | None:
        if msg.type is not WSMsgType.TEXT:
            raise WireError("binary frame before the start message", WSCloseCode.UNSUPPORTED_DATA)
        obj = parse_json_object(msg.data)
        if get_str(obj, "type") != "start":
            raise WireError("expected the start message first")
        rate = get_int(obj, "rate")
        if rate not in RATES:
            raise WireError("unsupported sample rate", WSCloseCode.UNSUPPORTED_DATA)
        self.rate = rate
        return CallInfo(
            call_id=check_identifier(
                get_str(obj, "call_id", required=False) or new_call_id(), "call_id"
            ),
            caller=check_identifier(get_str(obj, "caller", required=False), "caller"),
            called=check_identifier(get_str(obj, "called", required=False), "called"),
            connector=self.connector,
            extra={"path": self.request.path},
        )

    def parse_message(self, msg: WSMessage) -> Iterable[InboundEvent]:
        if msg.type is WSMsgType.BINARY:
            return (AudioIn(pcm_audio(msg.data, self.rate)),) if msg.data else ()
        obj = parse_json_object(msg.data)
        kind = get_str(obj, "type")
        if kind == "dtmf":
            return (DtmfIn(check_digit(obj.get("digit"))),)
        if kind == "stop":
            return (HangupIn("stop"),)
        if kind == "start":
            raise WireError("duplicate start message")
        raise WireError("unknown message type")

    async def play(self, frame: Audio) -> None:
        await self.send_bytes(frame.resample(self.rate).pcm)

    async def clear(self) -> None:
        await self.send_json({"type": "clear"})

    async def set_caller_name(self, name: str) -> None:
        self.outcome.caller_name = name
        await self.send_json({"type": "caller_name", "name": name})

    async def transfer(self, target: str) -> None:
        outcome = self.outcome.transfer_to(target)
        message = {"type": "transfer", "target": target}
        await self.send_json({**message, "result": outcome.result, "reason": outcome.reason})
        await self.close(WSCloseCode.OK, "transfer")

    async def hangup(self) -> None:
        self.outcome.hung_up()
        await self.send_json({"type": "hangup"})
        await self.close(WSCloseCode.OK, "hangup")
