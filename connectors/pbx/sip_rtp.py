"""RTP for one call: G.711 both ways, RFC 4733 keys in, continuous 20 ms packets out.

Our own (about 250 lines) instead of ``aiortp`` 0.8.0, which on this machine sent nothing
while the bot was quiet (peers with RTP timeouts hang up) and decoded PCMA with the sign
inverted. The codecs are the project's ``speech.g711``.

- Outgoing: :meth:`RtpStream.send_pcm` sends each 20 ms of audio at once (the session's
  player paces them); a clock sends a silence packet whenever the far end would otherwise
  run dry, so RTP never stops. Timestamps run on in 160-sample steps; the marker bit starts
  each talk spurt.
- Incoming: symmetric RTP: the first packet's source is where we send from then on (NAT),
  packets from elsewhere are dropped; lost packets (a sequence gap up to 10) are filled with
  silence so the caller's timeline stays true; datagrams over 1500 bytes, other payload
  types and broken headers are dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from speech.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

log = logging.getLogger(__name__)

RATE = 8000
SAMPLES = 160  # 20 ms
MAX_PACKET = 1500
MAX_GAP_FILL = 10
DTMF_EVENTS = "0123456789*#ABCD"
ENCODERS = {"PCMA": alaw_encode, "PCMU": ulaw_encode}
DECODERS = {"PCMA": alaw_decode, "PCMU": ulaw_decode}


class PortPool:
    """Even RTP ports from a range, handed out round-robin (RTCP would take the odd one)."""

    def __init__(self, low: int, high: int) -> None:
        self.ports = list(range(low + low % 2, high, 2))
        self._next = random.randrange(len(self.ports)) if self.ports else 0

    async def bind(self, host: str, factory: Callable[[], RtpStream]) -> RtpStream:
        loop = asyncio.get_running_loop()
        for _ in range(len(self.ports)):
            port = self.ports[self._next]
            self._next = (self._next + 1) % len(self.ports)
            try:
                _, protocol = await loop.create_datagram_endpoint(factory, local_addr=(host, port))
            except OSError:
                continue
            return protocol
        raise OSError("no free RTP port in server.sip.rtp_port_min..rtp_port_max")


class RtpStream(asyncio.DatagramProtocol):
    def __init__(
        self,
        on_audio: Callable[[bytes], None],
        on_dtmf: Callable[[str], None],
    ) -> None:
        self.on_audio = on_audio  # 16-bit little-endian PCM at 8 kHz, 20 ms (or the ptime)
        self.on_dtmf = on_dtmf
        self.codec = "PCMA"
        self.payload_type = 8
        self.dtmf_payload_type: int | None = None
        self.remote: tuple[str, int] | None = None  # from SDP, then from the first packet
        self.latched = False
        self.sending = True
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.last_received = time.monotonic()
        self.packets_in = 0
        self.packets_out = 0
        self.dropped = 0
        self._ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)
        self._media_end = 0.0  # wall time at which the far end has played all we sent
        self._last_sent = 0.0
        self._filling = True  # sending silence (the bot is quiet)
        self._marker = True
        self._in_seq: int | None = None
        self._dtmf_seen: set[int] = set()
        self._clock: asyncio.Task[None] | None = None
        self._silence = b""

    # -- set-up ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # on 3.11 the selector's datagram transport does not subclass DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.port = int(transport.get_extra_info("sockname")[1])

    def configure(
        self,
        codec: str,
        payload_type: int,
        dtmf: int | None,
        remote: tuple[str, int],
        sending: bool,
    ) -> None:
        """Apply the agreed media (again on a re-INVITE: hold, new address, codec)."""
        if remote != self.remote and not (self.latched and remote[0] == self.remote_host()):
            self.remote, self.latched = remote, False
        self.codec, self.payload_type, self.dtmf_payload_type = codec, payload_type, dtmf
        self.sending = sending and remote[1] != 0
        self._silence = ENCODERS[codec](np.zeros(SAMPLES, dtype=np.int16))
        if self._clock is None:
            self._clock = asyncio.get_running_loop().create_task(self._run_clock())

    def remote_host(self) -> str:
        return self.remote[0] if self.remote else ""

    def close(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    # -- sending ---------------------------------------------------------------------------

    def send_pcm(self, pcm: bytes) -> None:
        """Send 16-bit 8 kHz PCM now, in 20 ms packets (a short tail is padded)."""
        samples = np.frombuffer(pcm, dtype="<i2")
        self._filling = False
        for start in range(0, len(samples), SAMPLES):
            chunk = samples[start : start + SAMPLES]
            if len(chunk) < SAMPLES:
                chunk = np.concatenate([chunk, np.zeros(SAMPLES - len(chunk), dtype=np.int16)])
            self._send(ENCODERS[self.codec](chunk), marker=self._marker)
            self._marker = False

    def talk_spurt_ended(self) -> None:
        self._marker = True

    def _send(self, payload: bytes, *, marker: bool = False) -> None:
        now = time.monotonic()
        if self._media_end and now > self._media_end + 0.01:
            # the far end ran dry: the timestamps follow the wall clock over the gap
            skipped = int((now - self._media_end) * RATE) // SAMPLES * SAMPLES
            self._ts = (self._ts + skipped) & 0xFFFFFFFF
        self._media_end = max(self._media_end, now) + SAMPLES / RATE
        self._last_sent = now
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + SAMPLES) & 0xFFFFFFFF
        if self.transport is None or self.remote is None or not self.sending:
            return
        first = 0x80
        second = (0x80 if marker else 0) | self.payload_type
        header = struct.pack("!BBHII", first, second, self._seq, self._ts, self._ssrc)
        self.transport.sendto(header + payload, self.remote)
        self.packets_out += 1

    async def _run_clock(self) -> None:
        """Silence whenever the far end would run dry: RTP never stops."""
        next_tick = time.monotonic()
        while True:
            next_tick += SAMPLES / RATE
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            now = time.monotonic()
            if now - next_tick > 0.2:  # the loop stalled: do not burst to catch up
                next_tick = now
            # a player paced a little slower than 20 ms must not get silence between its
            # frames: fill only after 30 ms without a packet
            dry = now - self._last_sent >= 0.03 and self._media_end <= now + 0.005
            if self._filling or dry:
                self._marker = self._filling = True  # the next real audio starts a talk spurt
                self._send(self._silence)

    # -- receiving -------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Any) -> None:
        source = (str(addr[0]), int(addr[1]))
        if len(data) < 12 or len(data) > MAX_PACKET or data[0] >> 6 != 2:
            self.dropped += 1
            return
        if self.latched and source != self.remote:
            self.dropped += 1
            return
        if not self.latched:
            self.remote, self.latched = source, True
        first, second, seq = data[0], data[1], int.from_bytes(data[2:4], "big")
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:  # header extension
            if len(data) < offset + 4:
                self.dropped += 1
                return
            offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
        end = len(data) - (data[-1] if first & 0x20 else 0)
        if offset > end:
            self.dropped += 1
            return
        payload = data[offset:end]
        payload_type = second & 0x7F
        self.last_received = time.monotonic()
        self.packets_in += 1
        if payload_type == self.payload_type:
            self._audio(seq, payload)
        elif payload_type == self.dtmf_payload_type:
            self._event(int.from_bytes(data[4:8], "big"), payload)
        elif payload_type in (0, 8):  # the other G.711 law, if the peer switched
            codec = "PCMU" if payload_type == 0 else "PCMA"
            self.on_audio(DECODERS[codec](payload).astype("<i2").tobytes())
        else:
            self.dropped += 1

    def _audio(self, seq: int, payload: bytes) -> None:
        if self._in_seq is not None:
            gap = (seq - self._in_seq) & 0xFFFF
            if gap == 0 or gap > 0x8000:  # a duplicate or a late packet: drop it
                return
            if 1 < gap <= MAX_GAP_FILL:
                self.on_audio(bytes(2 * len(payload) * (gap - 1)))
        self._in_seq = seq
        if payload:
            self.on_audio(DECODERS[self.codec](payload).astype("<i2").tobytes())

    def _event(self, timestamp: int, payload: bytes) -> None:
        """RFC 4733: one key per event timestamp (its packets repeat; the end is sent 3×)."""
        if len(payload) < 4 or payload[0] >= len(DTMF_EVENTS):
            return
        if timestamp in self._dtmf_seen:
            return
        self._dtmf_seen.add(timestamp)
        if len(self._dtmf_seen) > 64:
            self._dtmf_seen = {timestamp}
        self.on_dtmf(DTMF_EVENTS[payload[0]])

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %r", exc)
