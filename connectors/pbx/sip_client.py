"""A small SIP caller (UAC) for tools and benchmarks: INVITE with a G.711 offer, ACK, RTP
both ways at one 20 ms packet per 20 ms, RFC 4733 keys, BYE either way.

It reuses the endpoint's own pieces (wire, transactions, SDP, RTP) but plays the phone:
``python -m bot bench sip`` drives ``bot serve`` from outside with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import time
from collections.abc import Callable

import numpy as np
from aiosipua.message import SipRequest, SipResponse

from connectors.pbx import sip_sdp
from connectors.pbx.sip_messages import contact, new_tag, response, via
from connectors.pbx.sip_rtp import RtpStream
from connectors.pbx.sip_transactions import ClientTransactions
from connectors.pbx.sip_wire import Peer, SipWire

FRAME_BYTES = 320


class SipCaller:
    def __init__(self, target: tuple[str, int], *, caller: str, called: str) -> None:
        self.target = Peer(target[0], target[1], "udp")
        self.caller = caller
        self.called = called
        self.wire = SipWire(self._on_message, "127.0.0.1", 0, tcp=False)
        self.clients = ClientTransactions(self.wire)
        self.rtp: RtpStream | None = None
        self.on_bot_audio: Callable[[float, bytes], None] = lambda at, pcm: None
        self.on_sent: Callable[[float, bytes], None] = lambda at, pcm: None
        self.answered = asyncio.Event()
        self.closed = asyncio.Event()
        self.status = 0
        self._call_id = f"{secrets.token_hex(8)}@bench"
        self._tag = new_tag()
        self._to = f"<sip:{called}@{target[0]}:{target[1]}>"
        self._remote_target = f"sip:{called}@{target[0]}:{target[1]}"
        self._routes: list[str] = []
        self._cseq = 0
        self._queue: list[bytes] = []
        self._sender: asyncio.Task[None] | None = None

    # -- signalling ----------------------------------------------------------------------------

    def _request(self, method: str, cseq: int | None = None) -> SipRequest:
        if cseq is None:
            self._cseq += 1
            cseq = self._cseq
        req = SipRequest(method=method, uri=self._remote_target)
        req.headers.append("Via", via("127.0.0.1", self.wire.port, "udp"))
        req.headers.set_single("Max-Forwards", "70")
        req.headers.set_single("From", f"<sip:{self.caller}@127.0.0.1>;tag={self._tag}")
        req.headers.set_single("To", self._to)
        req.headers.set_single("Call-ID", self._call_id)
        req.headers.set_single("CSeq", f"{cseq} {method}")
        req.headers.set_single("Contact", contact("127.0.0.1", self.wire.port, "udp", "caller"))
        for route in self._routes:
            req.headers.append("Route", route)
        return req

    async def call(self, timeout: float = 15.0) -> bool:
        """Dial; True once answered (RTP running), False if refused or unanswered."""
        await self.wire.start()
        loop = asyncio.get_running_loop()
        _, self.rtp = await loop.create_datagram_endpoint(
            lambda: RtpStream(self._bot_audio, lambda digit: None), local_addr=("127.0.0.1", 0)
        )
        invite = self._request("INVITE")
        invite.headers.set_single("Content-Type", "application/sdp")
        invite.text = sip_sdp.offer(["PCMA"], "127.0.0.1", self.rtp.port, 1)
        try:
            resp = await self.clients.send(invite, self.target, timeout=timeout)
        except TimeoutError:
            return False
        self.status = resp.status_code
        if not 200 <= resp.status_code < 300:
            self._ack(resp, invite)
            return False
        to = resp.headers.get_first("to") or self._to
        self._to = to
        raw_contact = resp.headers.get_first("contact") or ""
        if "<" in raw_contact:
            self._remote_target = raw_contact[raw_contact.find("<") + 1 : raw_contact.find(">")]
        self._routes = list(reversed(resp.headers.get("record-route")))
        self._ack(resp, invite)
        media = sip_sdp.negotiate(resp.text, ["PCMA"])
        self.rtp.configure(
            media.codec, media.payload_type, media.dtmf_payload_type, (media.host, media.port), True
        )
        self.answered.set()
        self._sender = loop.create_task(self._send_loop())
        return True

    def _ack(self, resp: SipResponse, invite: SipRequest) -> None:
        ack = self._request("ACK", cseq=invite.cseq.seq if invite.cseq else 1)
        ack.headers.set_single("To", resp.headers.get_first("to") or self._to)
        if resp.status_code >= 300:  # non-2xx ACK: same branch as the INVITE
            ack.headers.remove("Via")
            ack.headers.append("Via", invite.headers.get_first("via") or "")
        self.wire.send(ack, self.target)

    def _on_message(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        if isinstance(message, SipResponse):
            self.clients.on_response(message)
            return
        if message.method == "BYE":
            self.wire.send(response(message, 200, to_tag=self._tag), peer)
            self.closed.set()
        elif message.method != "ACK":
            self.wire.send(response(message, 200, to_tag=self._tag), peer)

    async def hangup(self) -> None:
        if not self.closed.is_set() and self.answered.is_set():
            with contextlib.suppress(TimeoutError):
                await self.clients.send(self._request("BYE"), self.target, timeout=4.0)
        self.closed.set()

    async def close(self) -> None:
        await self.hangup()
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        if self.rtp is not None:
            self.rtp.close()
        await self.wire.stop()

    # -- media -------------------------------------------------------------------------------

    def _bot_audio(self, pcm: bytes) -> None:
        self.on_bot_audio(time.monotonic(), pcm)

    def say(self, pcm: bytes) -> None:
        """Queue speech: sent at one 20 ms frame per 20 ms after what is queued."""
        self._queue.extend(
            pcm[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
            for i in range(0, len(pcm), FRAME_BYTES)
        )

    @property
    def speaking(self) -> bool:
        return bool(self._queue)

    async def keys(self, digits: str) -> None:
        """RFC 4733 events (100 ms each, the end sent three times)."""
        assert self.rtp is not None and self.rtp.transport is not None
        for digit in digits:
            event = "0123456789*#ABCD".index(digit)
            stamp = secrets.randbits(32)
            for n in range(8):
                end = 0x80 if n >= 5 else 0
                payload = struct.pack("!BBH", event, end | 10, min(n + 1, 5) * 160)
                header = struct.pack("!BBHII", 0x80, 101, secrets.randbits(16), stamp, 1)
                if self.rtp.remote is not None:
                    self.rtp.transport.sendto(header + payload, self.rtp.remote)
                await asyncio.sleep(0.02)

    async def _send_loop(self) -> None:
        assert self.rtp is not None
        silence = bytes(FRAME_BYTES)
        next_at = time.monotonic()
        while not self.closed.is_set():
            frame = self._queue.pop(0) if self._queue else silence
            self.rtp.send_pcm(frame)
            self.on_sent(time.monotonic(), frame)
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
