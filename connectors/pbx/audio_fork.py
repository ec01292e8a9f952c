"""FreeSWITCH ``mod_audio_fork`` (drachtio-freeswitch-modules) as a :class:`CallTransport`.

Verified against the module's source (github.com/drachtio/drachtio-freeswitch-modules,
``modules/mod_audio_fork/``: ``README.md``, ``mod_audio_fork.c``, ``lws_glue.cpp``,
``audio_pipe.cpp``, ``parser.cpp``):

- FreeSWITCH is the WebSocket *client*. ``uuid_audio_fork <uuid> start <ws-url> <mono|mixed|
  stereo> <8k|16k|rate> [metadata]`` connects to us asking for the sub-protocol
  ``audio.drachtio.org`` (env ``MOD_AUDIO_FORK_SUBPROTOCOL_NAME`` may rename it; pass
  ``subprotocols=`` then), sends ``metadata`` as the first **text** frame (up to 8 KiB,
  ``MAX_METADATA_LEN``), then the caller's audio as **binary** frames: 16-bit linear PCM
  (FreeSWITCH's native signed linear, little-endian on x86/ARM), at the requested rate, one
  or more 20 ms packets per frame. ``mono`` is the caller only, ``mixed`` both parties on one
  channel, ``stereo`` two interleaved channels — **we take mono (or mixed) only**.
  ``graceful-shutdown`` sends a zero-length binary frame (ignored here).
- ``uuid_audio_fork <uuid> send_text <text>`` sends a text frame at any time ("e.g. this can
  be used to notify of DTMF events"); ``uuid_audio_fork <uuid> stop [text]`` sends an
  optional last text frame and closes. When the channel hangs up the module closes the socket.
- The server may send JSON **text** frames (binary frames from us are discarded). By ``type``:
  ``playAudio`` ``{"data": {"audioContentType": "raw"|"wave", "sampleRate": 8000,
  "audioContent": "<base64>", "textContent": "..."}}`` — the module does *not* play it: it
  writes a temp file (``.r8``/``.r16``/``.r24``/``.r32``/``.r48``/``.r64`` by rate) and fires
  ``mod_audio_fork::play_audio`` with ``{"file": ...}`` for the application to play;
  ``killAudio`` stops the channel's current playback (``CF_BREAK``) and fires
  ``mod_audio_fork::kill_audio``; ``transcription``, ``transfer``, ``error`` fire events
  carrying ``data`` for the application (the module transfers nothing itself);
  ``disconnect`` fires ``mod_audio_fork::disconnect`` (the module does *not* hang up);
  ``json`` (or no ``type``) fires ``mod_audio_fork::json`` with the whole message (newer module
  versions; older ones log "unsupported msg type" and ignore it).
- There are no DTMF messages in mod_audio_fork.

Our conventions on top of that (the dialplan/ESL application must follow them):

- Metadata: a JSON object (compact, no spaces: FreeSWITCH splits API arguments on spaces),
  e.g. ``{"callid":"${uuid}","from":"${caller_id_number}","to":"${destination_number}",
  "sampleRate":16000}`` — the README's own example uses ``from``/``to``/``callid``;
  ``caller``/``called``/``callId``/``uuid`` are accepted too. ``sampleRate`` must equal the
  ``8k``/``16k`` argument; without it the URL query ``?rate=16000`` is used, else 8000. Allowed:
  8000, 16000, 24000, 32000, 48000, 64000 (the rates ``playAudio`` can write back).
- Keypad: the application forwards each DTMF event with
  ``uuid_audio_fork <uuid> send_text {"type":"dtmf","digit":"5"}``; ``{"type":"stop"}`` (e.g.
  as the ``stop`` text) ends the call like a close. Any other text frame is a protocol error.
- Our voice: :meth:`AudioForkTransport.play` batches the session's 20 ms frames into one
  ``playAudio`` (raw, the call's rate) per ``play_batch_ms`` (default 200 ms), flushing early
  after a 60 ms pause and before a transfer/hang-up: one temp file and one event per 20 ms frame
  would be 50 files a second and gaps between tiny files. ``play_batch_ms=20`` sends every frame
  as it comes. ``clear`` drops the unsent batch and sends ``killAudio`` (the application should
  also drop play_audio files it has queued but not started).
- ``transfer(target)`` ➜ ``{"type":"transfer","data":{"target":target,"result":"transfer",
  "reason":…}}`` then close (1000); ``result`` is ``error`` when the bot hands over because
  something failed (order not saved, speech engine failed or timed out; ``reason`` says
  which), for the application to route such calls (``mod_audio_fork::transfer`` event data);
  ``hangup`` ➜ ``{"type":"disconnect"}`` then close; ``set_caller_name(name)`` ➜
  ``{"type":"json","event":"caller_name","name":name}`` (for ``effective_caller_id_name``).
"""

from __future__ import annotations

import asyncio
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
    b64encode,
    check_digit,
    check_identifier,
    get_number_str,
    get_str,
    new_call_id,
    parse_json_object,
    pcm_audio,
)
from speech.audio import Audio

SUBPROTOCOL = "audio.drachtio.org"
RATES = (8000, 16000, 24000, 32000, 48000, 64000)
DEFAULT_RATE = 8000
DEFAULT_PLAY_BATCH_MS = 200
IDLE_FLUSH_S = 0.06


def _parse_rate(value: object) -> int:
    """16000, "16000" or "16k" (the forms of the ``uuid_audio_fork`` argument) ➜ 16000."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text.endswith("k") and text[:-1].isdigit():
            return int(text[:-1]) * 1000
        if text.isdigit():
            return int(text)
    raise WireError("sample rate must be a number", WSCloseCode.INVALID_TEXT)


class AudioForkTransport(WebSocketTransport):
    connector = "audio_fork"
    subprotocols = (SUBPROTOCOL,)

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        *,
        play_batch_ms: int = DEFAULT_PLAY_BATCH_MS,
    ) -> None:
        super().__init__(ws, request)
        self.rate = DEFAULT_RATE
        self.play_batch_ms = max(1, play_batch_ms)
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flush_tasks: set[asyncio.Task[None]] = set()

    # -- inbound --------------------------------------------------------------------------------

    def parse_start(self, msg: WSMessage) -> CallInfo | None:
        if msg.type is not WSMsgType.TEXT:
            raise WireError("binary frame before the metadata", WSCloseCode.UNSUPPORTED_DATA)
        meta = parse_json_object(msg.data)
        self.rate = self._rate(meta)
        call_id = get_number_str(meta, "callid", "callId", "uuid", "call_id") or new_call_id()
        call_id = check_identifier(call_id, "callid")
        caller = check_identifier(get_number_str(meta, "from", "caller"), "from")
        called = check_identifier(get_number_str(meta, "to", "called"), "to")
        known = {"callid", "callId", "uuid", "call_id", "from", "caller", "to", "called"}
        extra = {
            f"meta.{key}": value
            for key, value in meta.items()
            if key not in known and isinstance(value, str)
        }
        return CallInfo(call_id, caller, called, self.connector, extra)

    def _rate(self, meta: dict[str, object]) -> int:
        value = meta.get("sampleRate", meta.get("rate"))
        if value is None:
            value = self.request.query.get("rate", DEFAULT_RATE)
        rate = _parse_rate(value)
        if rate not in RATES:
            raise WireError("unsupported sample rate", WSCloseCode.UNSUPPORTED_DATA)
        return rate

    def parse_message(self, msg: WSMessage) -> Iterable[InboundEvent]:
        if msg.type is WSMsgType.BINARY:
            if not msg.data:  # graceful-shutdown flush frame
                return ()
            return (AudioIn(pcm_audio(msg.data, self.rate)),)
        obj = parse_json_object(msg.data)
        kind = get_str(obj, "type")
        if kind == "dtmf":
            return (DtmfIn(check_digit(obj.get("digit"))),)
        if kind in ("stop", "hangup"):
            return (HangupIn(kind),)
        raise WireError("unknown message type")

    # -- outbound -------------------------------------------------------------------------------

    async def play(self, frame: Audio) -> None:
        pcm = frame.resample(self.rate).pcm
        if not pcm or self.closed:
            return
        self._batch.append(pcm)
        self._batch_bytes += len(pcm)
        if self._batch_bytes * 1000 >= self.play_batch_ms * self.rate * 2:
            await self.flush()
        else:
            self._arm_flush_timer()

    def _arm_flush_timer(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        loop = asyncio.get_running_loop()
        self._flush_timer = loop.call_later(IDLE_FLUSH_S, self._flush_soon)

    def _flush_soon(self) -> None:
        self._flush_timer = None
        task = asyncio.ensure_future(self.flush())
        self._flush_tasks.add(task)
        task.add_done_callback(self._flush_tasks.discard)

    async def flush(self) -> None:
        """Send the batched audio now as one ``playAudio``."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if not self._batch:
            return
        pcm = b"".join(self._batch)
        self._batch.clear()
        self._batch_bytes = 0
        await self.send_json(
            {
                "type": "playAudio",
                "data": {
                    "audioContentType": "raw",
                    "sampleRate": self.rate,
                    "audioContent": b64encode(pcm),
                },
            }
        )

    def _drop_batch(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        self._batch.clear()
        self._batch_bytes = 0

    async def clear(self) -> None:
        self._drop_batch()
        await self.send_json({"type": "killAudio"})

    async def set_caller_name(self, name: str) -> None:
        self.outcome.caller_name = name
        await self.send_json({"type": "json", "event": "caller_name", "name": name})

    async def transfer(self, target: str) -> None:
        outcome = self.outcome.transfer_to(target)
        await self.flush()
        data = {"target": target, "result": outcome.result, "reason": outcome.reason}
        await self.send_json({"type": "transfer", "data": data})
        await self.close(WSCloseCode.OK, "transfer")

    async def hangup(self) -> None:
        self.outcome.hung_up()
        await self.flush()
        await self.send_json({"type": "disconnect"})
        await self.close(WSCloseCode.OK, "hangup")

    def on_close(self) -> None:
        self._drop_batch()
        current = asyncio.current_task()
        for task in list(self._flush_tasks):
            if task is not current:
                task.cancel()
