"""A stand-in call handler for connector tests: answers loud audio with a tone.

DTMF 0 transfers to «operator», 9 hangs up, 5 sets the caller name «Анна 2(3)»; with
``barge_in`` it clears the far end's buffer right after its reply (as the session does).
"""

from __future__ import annotations

import asyncio
from typing import Any

from connectors.pbx.transport import AudioIn, CallInfo, CallTransport, DtmfIn
from speech.audio import Audio, tone


class ToneBot:
    def __init__(self, *, reply_ms: int = 100, barge_in: bool = False) -> None:
        self.reply_ms = reply_ms
        self.barge_in = barge_in
        self.replies: list[Audio] = []
        self.infos: list[CallInfo] = []
        self.rates: list[int] = []
        self.events: list[list[Any]] = []
        self.ended = asyncio.Event()

    async def __call__(self, call: CallTransport) -> None:
        self.infos.append(call.info)
        self.rates.append(call.rate)
        events: list[Any] = []
        self.events.append(events)
        replied = False
        async for event in call.events():
            events.append(event)
            if isinstance(event, AudioIn) and event.audio.rms() > 1000 and not replied:
                replied = True
                reply = tone(660, self.reply_ms / 1000, rate=call.rate, amplitude=0.4)
                self.replies.append(reply)
                for frame in reply.frames(20):
                    await call.play(frame)
                if self.barge_in:
                    await call.clear()
            elif isinstance(event, DtmfIn) and event.digit == "0":
                await call.transfer("operator")
            elif isinstance(event, DtmfIn) and event.digit == "9":
                await call.hangup()
            elif isinstance(event, DtmfIn) and event.digit == "5":
                await call.set_caller_name("Анна 2(3)")
        self.ended.set()
