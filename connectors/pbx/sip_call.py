"""One answered SIP call as a :class:`CallTransport`: RTP audio and keys in, the bot's audio
out, re-INVITE / UPDATE (hold, new address, session refresh), INFO keys, BYE either way,
session timers (RFC 4028), an RTP timeout; transfer is :mod:`connectors.pbx.sip_transfer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import numpy as np
from aiosipua.message import SipRequest, SipResponse

from connectors.pbx import sip_sdp
from connectors.pbx.sip_messages import Dialog, contact, response
from connectors.pbx.sip_rtp import RtpStream
from connectors.pbx.transport import (
    AudioIn,
    CallInfo,
    CallTransport,
    DtmfIn,
    HangupIn,
    InboundEvent,
)
from speech.audio import Audio, to_int16
from speech.resample import StreamResampler

if TYPE_CHECKING:
    from connectors.pbx.sip_server import SipEndpoint

log = logging.getLogger(__name__)
RATE = 8000
MAX_QUEUE = 1500  # 30 s of 20 ms frames: a stalled session does not eat memory
INFO_DIGIT_RE = re.compile(r"^\s*Signal\s*=\s*([0-9*#A-Da-d])\s*$", re.M | re.I)


class SipCall(CallTransport):
    def __init__(
        self,
        endpoint: SipEndpoint,
        info: CallInfo,
        dialog: Dialog,
        invite: SipRequest,
        rtp: RtpStream,
        media: sip_sdp.Media | None,
    ) -> None:
        self.info = info
        self.rate = RATE
        self.endpoint = endpoint
        self.dialog = dialog
        self.invite = invite
        self.rtp = rtp
        self.media = media
        self.caller_name: str | None = None
        self.transfer_target: str | None = None
        self.end_reason = ""
        self.sdp_session = sip_sdp.new_session_id()
        self.sdp_version = 1
        self.session_interval = 0
        self.we_refresh = False
        self.confirmed = asyncio.Event()  # the ACK came
        self.ended = asyncio.Event()
        self.notify_status: asyncio.Queue[int] = asyncio.Queue(maxsize=32)  # REFER progress
        self._queue: asyncio.Queue[InboundEvent] = asyncio.Queue()
        self._resampler: StreamResampler | None = None
        self._watch: asyncio.Task[None] | None = None
        self._refreshed = time.monotonic()
        self.frames_played = 0  # the bot's frames sent (silence fill not counted)
        self.last_played_at = 0.0
        rtp.on_audio = self._on_audio
        rtp.on_dtmf = self._on_dtmf

    # -- inbound for the session -----------------------------------------------------------

    async def events(self) -> AsyncIterator[InboundEvent]:
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, HangupIn):
                return

    def _push(self, event: InboundEvent) -> None:
        if self.ended.is_set() and not isinstance(event, HangupIn):
            return
        if not isinstance(event, HangupIn) and self._queue.qsize() > MAX_QUEUE:
            return  # a stalled session or a flood of keys: dropped, never unbounded
        self._queue.put_nowait(event)

    def _on_audio(self, pcm: bytes) -> None:
        if self.confirmed.is_set() or self.media is not None:
            self._push(AudioIn(Audio(pcm, RATE)))

    def _on_dtmf(self, digit: str) -> None:
        self._push(DtmfIn(digit))

    # -- outbound from the session -----------------------------------------------------------

    async def play(self, frame: Audio) -> None:
        if self.ended.is_set() or not frame.pcm:
            return
        pcm = frame.pcm
        if frame.rate != RATE:
            if self._resampler is None or self._resampler.in_rate != frame.rate:
                self._resampler = StreamResampler(frame.rate, RATE)
            samples = self._resampler.process(np.frombuffer(frame.pcm, dtype="<i2"))
            pcm = to_int16(samples).astype("<i2", copy=False).tobytes()
        if pcm:
            self.rtp.send_pcm(pcm)
            self.frames_played += 1
            self.last_played_at = time.monotonic()

    async def clear(self) -> None:
        # RTP is sent as it is played: nothing waits at our side; a new talk spurt begins
        if self._resampler is not None:
            self._resampler.reset()
        self.rtp.talk_spurt_ended()

    async def set_caller_name(self, name: str) -> None:
        self.caller_name = name

    async def transfer(self, target: str) -> None:
        from connectors.pbx.sip_transfer import transfer

        self.transfer_target = target
        await transfer(self, target)

    async def hangup(self, headers: dict[str, str] | None = None) -> None:
        """BYE (with ``headers``, e.g. the transfer fallback's result) and the call is over."""
        if self.ended.is_set():
            return
        self._end("bot_hangup", close_media=False)
        request = self.request("BYE")
        for name, value in (headers or {}).items():
            request.headers.set_single(name, value)
        try:
            with contextlib.suppress(TimeoutError):
                await self.endpoint.clients.send(request, self.dialog.peer, timeout=4.0)
        finally:
            self.rtp.close()  # after the BYE: the peer's last packets meet no closed port

    # -- in-dialog requests from the peer ------------------------------------------------------

    def request(self, method: str) -> SipRequest:
        ep = self.endpoint
        req = self.dialog.request(method, ep.public_host, ep.public_port)
        req.headers.set_single(
            "Contact", contact(ep.public_host, ep.public_port, self.dialog.peer.transport)
        )
        req.headers.set_single("User-Agent", ep.settings.user_agent)
        return req

    def reply(self, request: SipRequest, code: int, **kw: object) -> SipResponse:
        resp = response(
            request,
            code,
            to_tag=self.dialog.local_tag,
            user_agent=self.endpoint.settings.user_agent,
            **kw,  # type: ignore[arg-type]
        )
        return resp

    def on_ack(self, request: SipRequest) -> None:
        if self.media is None and request.body:  # offer was ours (INVITE without SDP)
            try:
                self._apply(sip_sdp.negotiate(request.text, self.endpoint.settings.codecs))
            except sip_sdp.SdpError as exc:
                log.warning("SIP call: bad SDP in ACK", extra={"error": str(exc)})
                asyncio.get_running_loop().create_task(self.hangup())
                return
        self.confirmed.set()

    def on_bye(self) -> None:
        self._end("caller_hangup")

    def on_refresh(self, request: SipRequest) -> SipResponse:
        """A re-INVITE or UPDATE: new media (hold/resume) and/or a session refresh."""
        self._refreshed = time.monotonic()
        body = ""
        if request.body:
            try:
                media = sip_sdp.negotiate(request.text, self.endpoint.settings.codecs)
            except sip_sdp.SdpError as exc:
                log.warning("SIP re-INVITE refused", extra={"error": str(exc)})
                return self.reply(request, 400 if isinstance(exc, sip_sdp.SdpMalformed) else 488)
            self._apply(media)
            self.sdp_version += 1
            body = self.sdp_answer()
        elif request.method == "INVITE" and self.media is not None:
            body = self.sdp_offer_again()
        headers = self.session_headers(request)
        headers["Contact"] = contact(
            self.endpoint.public_host, self.endpoint.public_port, self.dialog.peer.transport
        )
        resp = self.reply(request, 200, headers=headers)
        if body:
            resp.text = body
            resp.headers.set_single("Content-Type", "application/sdp")
        return resp

    def on_info(self, request: SipRequest) -> SipResponse:
        kind = (request.content_type or "").split(";")[0].strip().lower()
        if (
            kind in ("application/dtmf-relay", "application/dtmf")
            and self.endpoint.settings.dtmf_info
        ):
            text = request.text[:256]
            match = INFO_DIGIT_RE.search(text) or re.match(r"^\s*([0-9*#A-Da-d])\s*$", text)
            if match:
                self._on_dtmf(match.group(1).upper())
            return self.reply(request, 200)
        return self.reply(request, 415 if request.body else 200)

    # -- media, timers ---------------------------------------------------------------------

    def _apply(self, media: sip_sdp.Media) -> None:
        self.media = media
        self.rtp.configure(
            media.codec,
            media.payload_type,
            media.dtmf_payload_type,
            (media.host, media.port),
            media.sending,
        )

    def sdp_answer(self) -> str:
        assert self.media is not None
        ep = self.endpoint
        return sip_sdp.answer(
            self.media, ep.media_public_host, self.rtp.port, self.sdp_session, self.sdp_version
        )

    def sdp_offer_again(self) -> str:
        return self.sdp_answer()

    def session_headers(self, request: SipRequest) -> dict[str, str]:
        """Session-Expires for our 2xx (RFC 4028): the caller refreshes unless it asked us."""
        raw = request.headers.get_first("session-expires")
        settings = self.endpoint.settings
        if not settings.session_expires:
            return {}
        supported = ",".join(request.headers.get("supported")).lower()
        if raw is None and "timer" not in supported:
            return {}
        interval, refresher = settings.session_expires, "uac"
        if raw:
            value, *params = raw.split(";")
            if value.strip().isdigit():
                interval = max(int(value), settings.min_se)
            for param in params:
                if param.strip().lower() == "refresher=uas":
                    refresher = "uas"
        if "timer" not in supported:
            refresher = "uas"  # the caller cannot refresh: we do
        self.session_interval = interval
        self.we_refresh = refresher == "uas"
        headers = {"Session-Expires": f"{interval};refresher={refresher}"}
        if "timer" in supported:
            headers["Require"] = "timer"
        return headers

    def start_watch(self) -> None:
        self._watch = asyncio.get_running_loop().create_task(self._watchdog())

    async def _watchdog(self) -> None:
        settings = self.endpoint.settings
        while not self.ended.is_set():
            await asyncio.sleep(1.0)
            now = time.monotonic()
            receiving = self.media is not None and self.media.direction in ("sendrecv", "recvonly")
            if receiving and now - self.rtp.last_received > settings.rtp_timeout:
                log.warning("SIP call: no RTP, hanging up", extra={"call_id": self.info.call_id})
                await self.hangup()
                return
            if not self.session_interval:
                continue
            if self.we_refresh and now - self._refreshed > self.session_interval / 2:
                self._refreshed = now
                asyncio.get_running_loop().create_task(self._refresh())
            elif not self.we_refresh and now - self._refreshed > self.session_interval - min(
                32, self.session_interval / 3
            ):
                log.warning("SIP session expired", extra={"call_id": self.info.call_id})
                await self.hangup()
                return

    async def _refresh(self) -> None:
        """UPDATE without a body (RFC 4028 §7.4); a peer without UPDATE gets a re-INVITE with
        our unchanged SDP, ACKed."""
        allow = ",".join(self.invite.headers.get("allow")).upper()
        method = "UPDATE" if not allow or "UPDATE" in allow else "INVITE"
        request = self.request(method)
        request.headers.set_single("Session-Expires", f"{self.session_interval};refresher=uas")
        if method == "INVITE" and self.media is not None:
            request.headers.set_single("Content-Type", "application/sdp")
            request.text = self.sdp_answer()
        try:
            resp = await self.endpoint.clients.send(request, self.dialog.peer, timeout=8.0)
        except TimeoutError:
            log.warning("SIP session refresh unanswered", extra={"call_id": self.info.call_id})
            return
        if method == "INVITE" and 200 <= resp.status_code < 300:
            ack = self.dialog.request(
                "ACK",
                self.endpoint.public_host,
                self.endpoint.public_port,
                cseq=self.dialog.local_cseq,
            )
            self.endpoint.wire.send(ack, self.dialog.peer)
        if resp.status_code >= 300:
            log.warning("SIP session refresh refused", extra={"status": resp.status_code})

    def _end(self, reason: str, *, close_media: bool = True) -> None:
        if self.ended.is_set():
            return
        self.end_reason = reason
        self.ended.set()
        self._push(HangupIn(reason))
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        if close_media:
            self.rtp.close()
        self.endpoint.forget(self)
