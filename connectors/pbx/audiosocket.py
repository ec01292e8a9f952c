"""Asterisk AudioSocket: a TCP server that turns each AudioSocket connection into a call.

The wire format (frame kinds, what Asterisk does with what we send, the sources) is in
:mod:`connectors.pbx.audiosocket_wire`; its names are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from connectors.pbx.audiosocket_wire import (
    DTMF_DIGITS,
    HANGUP_FRAME,
    KIND_AUDIO,
    KIND_DTMF,
    KIND_ERROR,
    KIND_HANGUP,
    KIND_UUID,
    MAX_OUT_PAYLOAD,
    RATE,
    CleanEof,
    encode_audio,
    encode_frame,
    read_frame,
)
from connectors.pbx.limits import ConnectionGate, LogThrottle
from connectors.pbx.tcp_server import TcpServer
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
from speech.audio import Audio, to_int16
from speech.resample import StreamResampler

log = logging.getLogger(__name__)

__all__ = [
    "DTMF_DIGITS",
    "HANGUP_FRAME",
    "KIND_AUDIO",
    "KIND_DTMF",
    "KIND_ERROR",
    "KIND_HANGUP",
    "KIND_UUID",
    "MAX_OUT_PAYLOAD",
    "RATE",
    "REFUSED_DUPLICATE",
    "REFUSED_UNKNOWN",
    "AudioSocketServer",
    "AudioSocketTransport",
    "Claim",
    "LegRegistry",
    "encode_audio",
    "encode_frame",
    "read_frame",
]


REFUSED_UNKNOWN = "uuid not announced over FastAGI"
REFUSED_DUPLICATE = "uuid already in use"


@dataclass(frozen=True, slots=True)
class Claim:
    """A uuid the signalling side announced: the call's info and its one outcome."""

    info: CallInfo
    outcome: CallOutcome


class LegRegistry(Protocol):
    """The signalling side (``AsteriskCalls``): who announced which uuid, and who waits for
    the end of its audio leg."""

    def claim(self, call_id: str) -> Claim | str:
        """The announced call, marked as linked; or why the uuid is refused
        (:data:`REFUSED_UNKNOWN`, :data:`REFUSED_DUPLICATE`)."""
        ...

    def call_ended(self, call_id: str) -> None: ...


class AudioSocketTransport(CallTransport):
    """One AudioSocket connection as a :class:`CallTransport` (8 kHz in and out)."""

    def __init__(
        self,
        info: CallInfo,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        max_payload: int = 4096,
        idle_timeout: float | None = 10.0,
        write_timeout: float = 5.0,
        outcome: CallOutcome | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.info = info
        self.rate = RATE
        if outcome is not None:
            self.outcome = outcome  # shared with FastAGI: BOT_RESULT, BOT_TRANSFER, name
        self.error: ProtocolError | None = None  # the malformed frame that ended the call
        self._reader = reader
        self._writer = writer
        self._max_payload = max_payload
        self._idle_timeout = idle_timeout
        self._write_timeout = write_timeout
        self._on_end = on_end
        self._closed = False
        self._peer_gone = False
        self._resampler: StreamResampler | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def peer_gone(self) -> bool:
        """Asterisk ended the leg (hang-up, close, error frame, broken frame)."""
        return self._peer_gone

    # -- inbound -----------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[InboundEvent]:
        while not self._closed:
            try:
                event = await self._next_event()
            except ProtocolError as exc:
                if self._closed:  # our own close cut a frame short: not the peer's fault
                    return
                self._fail(exc)
                raise
            if self._closed:  # the bot hung up while we were waiting
                return
            if event is None:
                continue
            if isinstance(event, HangupIn):
                if event.reason == "idle timeout":
                    log.warning(
                        "AudioSocket call %s: no frame for %.1f s, closing",
                        self.info.call_id,
                        self._idle_timeout,
                    )
                self._peer_gone = True
                self._close()
                yield event
                return
            yield event

    async def _next_event(self) -> InboundEvent | None:
        try:
            kind, payload = await read_frame(self._reader, self._max_payload, self._idle_timeout)
        except CleanEof:
            return HangupIn("closed")
        except TimeoutError:
            return HangupIn("idle timeout")
        except (ConnectionError, OSError):
            return HangupIn("connection lost")
        if kind == KIND_AUDIO:
            if len(payload) % 2:
                raise ProtocolError(f"audio frame with odd length {len(payload)}")
            return AudioIn(Audio(payload, RATE)) if payload else None
        if kind == KIND_DTMF:
            digit = payload.decode("ascii", "replace").upper() if len(payload) == 1 else ""
            if digit not in DTMF_DIGITS:
                raise ProtocolError(f"bad DTMF payload of {len(payload)} bytes")
            return DtmfIn(digit)
        if kind == KIND_HANGUP:
            return HangupIn("hangup")
        if kind == KIND_ERROR:
            code = payload.hex() or "none"
            log.warning(
                "AudioSocket call %s: Asterisk error frame, code %s", self.info.call_id, code
            )
            return HangupIn(f"error {code}")
        if kind == KIND_UUID:
            raise ProtocolError("second UUID frame")
        raise ProtocolError(f"unknown frame kind 0x{kind:02x}")

    def _fail(self, exc: ProtocolError) -> None:
        """Log the malformed frame once and drop the connection (no hang-up frame)."""
        if self.error is None:
            self.error = exc
            log.warning("AudioSocket call %s ended: %s", self.info.call_id, exc)
        self._peer_gone = True
        self._close()

    # -- outbound ----------------------------------------------------------------------------

    async def play(self, frame: Audio) -> None:
        if self._closed or self._peer_gone or not frame.pcm:
            return
        pcm = frame.pcm if frame.rate == RATE else self._to_8k(frame)
        if pcm:
            await self._write(encode_audio(pcm))

    def _to_8k(self, frame: Audio) -> bytes:
        if self._resampler is None or self._resampler.in_rate != frame.rate:
            self._resampler = StreamResampler(frame.rate, RATE)  # keeps history across frames
        samples = self._resampler.process(np.frombuffer(frame.pcm, dtype="<i2"))
        return to_int16(samples).astype("<i2", copy=False).tobytes()

    async def clear(self) -> None:
        # AudioSocket cannot recall frames Asterisk already has; forget resampler history so
        # the next phrase starts clean.
        if self._resampler is not None:
            self._resampler.reset()

    async def set_caller_name(self, name: str) -> None:
        self.outcome.caller_name = name  # FastAGI sets CALLERID(name) after the leg

    async def transfer(self, target: str) -> None:
        """Record ``target`` for the FastAGI side (BOT_TRANSFER), then end the audio leg."""
        self.outcome.transfer_to(target)
        await self.hangup()

    async def hangup(self) -> None:
        if self._closed:
            return
        self.outcome.hung_up()
        if not self._peer_gone:
            await self._write(HANGUP_FRAME)
        self._close()

    async def _write(self, data: bytes) -> bool:
        if self._writer.is_closing():
            self._peer_gone = True
            self._close()
            return False
        try:
            self._writer.write(data)
            async with asyncio.timeout(self._write_timeout):
                await self._writer.drain()
        except (ConnectionError, OSError, TimeoutError) as exc:
            log.debug("AudioSocket call %s: peer gone on write (%r)", self.info.call_id, exc)
            self._peer_gone = True
            self._close()
            return False
        return True

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        if self._on_end is not None:
            self._on_end()

    async def aclose(self) -> None:
        """End the call from the server: hang up if still open and wait for the socket."""
        if not self._closed:
            await self.hangup()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self._writer.wait_closed()


class AudioSocketServer(TcpServer):
    """Accepts AudioSocket connections from Asterisk and runs ``handler`` once per call.

    ``registry`` (FastAGI's ``AsteriskCalls``) supplies the :class:`CallInfo` and the shared
    :class:`CallOutcome` of an announced uuid. With ``require_announced`` a uuid it does not
    know is refused right after the UUID frame, before the call reaches ``handler`` (and
    takes a call slot); without it such a call runs with an empty caller (the direct
    ``AudioSocket()`` dialplan variant). A uuid already in use is always refused.
    """

    def __init__(
        self,
        handler: CallHandler,
        host: str = "127.0.0.1",
        port: int = 9092,
        *,
        registry: LegRegistry | None = None,
        require_announced: bool = False,
        gate: ConnectionGate | None = None,
        max_payload: int = 4096,
        first_frame_timeout: float = 5.0,
        idle_timeout: float | None = 10.0,
        write_timeout: float = 5.0,
    ) -> None:
        if not 0 < max_payload <= 0xFFFF:
            raise ValueError(f"max_payload must be 1..65535, got {max_payload}")
        super().__init__(host, port, gate=gate)
        self._handler = handler
        self._registry = registry
        self.require_announced = require_announced
        self._max_payload = max_payload
        self._first_frame_timeout = first_frame_timeout
        self._idle_timeout = idle_timeout
        self._write_timeout = write_timeout
        self._transports: set[AudioSocketTransport] = set()
        self._live_ids: set[str] = set()
        self.refused: dict[str, int] = {}  # uuid refusals by reason
        self._throttle = LogThrottle(log)

    @property
    def active_calls(self) -> int:
        return len(self._transports)

    async def _end_connections(self) -> bool:
        """After the grace period: hang the remaining calls up (0x00 frame, close)."""
        await asyncio.gather(*(t.aclose() for t in list(self._transports)), return_exceptions=True)
        return True

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        transport: AudioSocketTransport | None = None
        call_id = ""
        try:
            try:
                call_id = await self._read_uuid(reader)
            except ProtocolError as exc:
                self._throttle.log(
                    logging.WARNING, "no-uuid", "AudioSocket connection dropped: %s", exc
                )
                return
            claim = self._claim(call_id)
            if isinstance(claim, str):
                self.refused[claim] = self.refused.get(claim, 0) + 1
                self._throttle.log(
                    logging.WARNING, claim, "AudioSocket connection refused: %s", claim
                )
                call_id = ""
                return
            self._live_ids.add(call_id)
            transport = AudioSocketTransport(
                claim.info,
                reader,
                writer,
                max_payload=self._max_payload,
                idle_timeout=self._idle_timeout,
                write_timeout=self._write_timeout,
                outcome=claim.outcome,
                on_end=self._ended_callback(call_id),
            )
            self._transports.add(transport)
            try:
                await self._handler(transport)
            except ProtocolError as exc:
                if exc is not transport.error:
                    log.warning("AudioSocket call %s ended: %s", call_id, exc)
            except Exception:
                log.exception("AudioSocket call %s: handler failed", call_id)
                transport.outcome.failed("bot_failure")
            if not transport.outcome.result and not transport.peer_gone:
                transport.outcome.failed("no_decision")  # the bot let go without a word
        finally:
            if transport is not None:
                with contextlib.suppress(Exception):
                    await transport.aclose()
                self._transports.discard(transport)
            else:
                writer.close()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await writer.wait_closed()
            self._live_ids.discard(call_id)

    def _claim(self, call_id: str) -> Claim | str:
        if call_id in self._live_ids:
            return REFUSED_DUPLICATE
        claim: Claim | str = REFUSED_UNKNOWN
        if self._registry is not None:
            try:
                claim = self._registry.claim(call_id)
            except Exception:
                log.exception("AudioSocket call %s: registry failed", call_id)
        if claim == REFUSED_UNKNOWN and not self.require_announced:
            info = CallInfo(call_id=call_id, caller="", called="", connector="audiosocket")
            return Claim(info, CallOutcome())
        return claim

    def _ended_callback(self, call_id: str) -> Callable[[], None] | None:
        registry = self._registry
        if registry is None:
            return None
        return lambda: registry.call_ended(call_id)

    async def _read_uuid(self, reader: asyncio.StreamReader) -> str:
        try:
            kind, payload = await read_frame(reader, self._max_payload, self._first_frame_timeout)
        except CleanEof:
            raise ProtocolError("closed before the UUID frame") from None
        except TimeoutError:
            raise ProtocolError(f"no UUID frame within {self._first_frame_timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise ProtocolError(f"connection lost before the UUID frame ({exc!r})") from None
        if kind != KIND_UUID:
            raise ProtocolError(f"first frame is kind 0x{kind:02x}, not the UUID (0x01)")
        if len(payload) != 16:
            raise ProtocolError(f"UUID frame with {len(payload)} bytes, not 16")
        return str(uuid.UUID(bytes=payload))
