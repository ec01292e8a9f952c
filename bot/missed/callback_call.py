"""One call-back leg: the pure call-back dialog (:mod:`dialogs.callback`) run by the one
action runner over an answered outbound SIP call.

:class:`CallbackLeg` is the runner's :class:`~bot.action_runner.Effects` port for the leg:
``say`` synthesizes and plays (paced by :class:`~bot.player.Player`), ``transfer`` sends the
REFER (:mod:`connectors.pbx.sip_transfer`) while the rule's music plays to the client, for at
most the rule's ``voicemail_after_s``; the target :data:`~dialogs.callback.VOICEMAIL`
records a message (:mod:`bot.missed.voicemail`) after a beep. When a REFER fails or the wait
runs out, the dialog is told (``HandOff("transfer_failed")``) and decides: voicemail or an
apology. The leg's outcome (:attr:`LegResult.outcome`): ``connected`` (transferred, or the
client hung up after hearing the bot), ``voicemail`` (a message was left), ``not_connected``
(nobody took the call and there is no voicemail), with the REFER's last status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.action_runner import ActionRunner
from bot.events import EventBus
from bot.missed.voicemail import VoicemailRecorder, VoicemailTake
from bot.player import Phrase, Player
from connectors.pbx.sip_call import SipCall
from connectors.pbx.sip_transfer import refer
from connectors.pbx.transport import AudioIn, HangupIn
from dialogs.actions import Order
from dialogs.callback import VOICEMAIL, CallbackDialog
from dialogs.expect import Expect
from speech.audio import Audio
from speech.tts import Synthesizer

log = logging.getLogger(__name__)
CONNECTED = "connected"
VOICEMAIL_LEFT = "voicemail"
NOT_CONNECTED = "not_connected"
MAX_LEG_S = 900.0  # a call-back leg never lasts longer than this


class _NoOrders:
    """A call-back takes no orders (the runner's Orders port)."""

    async def save_draft(self, call_id: str, order: Order) -> int:
        raise RuntimeError("a call-back leg takes no orders")

    async def submit(self, call_id: str, order: Order) -> int:
        raise RuntimeError("a call-back leg takes no orders")


@dataclass(slots=True)
class LegResult:
    outcome: str = NOT_CONNECTED
    refer_status: str = ""  # transferred | refused | timeout | failed | ended
    target: str = ""
    recording: Any = None  # the voicemail's RecordingInfo
    detail: dict[str, Any] = field(default_factory=dict)


class CallbackLeg:
    def __init__(
        self,
        call: SipCall,
        synthesizer: Synthesizer,
        *,
        wait_s: float | None = None,
        music: Path | None = None,
        voicemail: VoicemailRecorder | None = None,
        targets: tuple[str, ...] = (),
    ) -> None:
        self.call = call
        self.synthesizer = synthesizer
        self.wait_s = wait_s
        self.music = _read_music(music)
        self.voicemail = voicemail
        self.targets = targets  # further targets tried when the first one fails
        self.player = Player(call)
        self.result = LegResult()
        self.bus = EventBus(call.info.call_id)
        self.gone = asyncio.Event()
        self._take: VoicemailTake | None = None
        self._failed = False
        self._heard_bot = False

    # -- the leg -----------------------------------------------------------------------------

    async def run(self, dialog: CallbackDialog) -> LegResult:
        runner = ActionRunner(dialog, self, _NoOrders(), self.bus)
        self.player.on_frame = self._bot_frame
        self.player.start()
        reader = asyncio.get_running_loop().create_task(self._read())
        try:
            async with asyncio.timeout(MAX_LEG_S):
                await runner.start(scenario="callback")
                if self._failed and not self.gone.is_set():
                    self._failed = False
                    await runner.hand_off("transfer_failed")
                if self._take is not None or (dialog.in_voicemail and not self.gone.is_set()):
                    await runner.hand_off("recorded")
        except TimeoutError:
            log.warning("call-back leg too long", extra={"call_id": self.call.info.call_id})
        finally:
            runner.end("callback")
            await self.player.close()
            if not self.call.ended.is_set():
                await self.call.hangup()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        hung_up = self._heard_bot and self.gone.is_set() and not self._failed
        if (
            self.result.outcome == NOT_CONNECTED
            and hung_up
            and self.result.refer_status in ("", "ended")
        ):
            self.result.outcome = CONNECTED  # the client heard the bot and hung up
            self.result.detail["client_hung_up"] = True
        return self.result

    def _bot_frame(self, frame: Audio) -> None:
        self._heard_bot = True
        if self._take is not None:
            self._take.bot(frame)

    async def _read(self) -> None:
        async for event in self.call.events():
            if isinstance(event, AudioIn):
                if self._take is not None:
                    self._take.caller(event.audio)
            elif isinstance(event, HangupIn):
                self.gone.set()
                if self._take is not None:
                    self._take.hung_up()

    # -- Effects -----------------------------------------------------------------------------

    async def say(self, text: str, key: str, interruptible: bool) -> None:
        if self.gone.is_set() or not text:
            return
        try:
            audio = await self.synthesizer.synthesize(text)
        except Exception:
            log.warning("call-back: synthesis failed", extra={"key": key})
            return
        self.player.enqueue(Phrase(audio.resample(self.call.rate), interruptible))

    async def listen(self, expect: Expect) -> None:
        return None

    async def set_caller_name(self, name: str) -> None:
        await self.call.set_caller_name(name)

    async def transfer(self, target: str, reason: str) -> None:
        await self._played_out()
        if self.gone.is_set():
            return
        if target == VOICEMAIL:
            await self._record()
            return
        outcome = "ended"
        for candidate in (target, *[t for t in self.targets if t != target]):
            outcome = await self._refer_with_music(candidate)
            self.result.target = candidate
            if outcome in ("transferred", "ended") or self.gone.is_set():
                break
        self.result.refer_status = outcome
        if outcome == "transferred" or (outcome == "ended" and self.gone.is_set()):
            self.result.outcome = CONNECTED
            if not self.call.ended.is_set():
                await self.call.hangup()
            return
        self._failed = True

    async def hang_up(self) -> None:
        await self._played_out()
        if not self.call.ended.is_set():
            await self.call.hangup()

    # -- the pieces --------------------------------------------------------------------------

    async def _played_out(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.player.remaining_s + 2.0):
                await self.player.drained()

    async def _refer_with_music(self, target: str) -> str:
        music = asyncio.get_running_loop().create_task(self._play_music())
        try:
            timeout = self.wait_s or self.call.endpoint.settings.transfer.timeout
            try:
                async with asyncio.timeout(timeout):
                    return await refer(self.call, target)
            except TimeoutError:
                return "timeout"
        finally:
            music.cancel()
            await asyncio.gather(music, return_exceptions=True)
            await self.player.barge_in()

    async def _play_music(self) -> None:
        if self.music is None:
            return
        while not self.gone.is_set():
            if not self.player.playing:
                self.player.enqueue(Phrase(self.music, True))
            await asyncio.sleep(0.1)

    async def _record(self) -> None:
        if self.voicemail is None:
            return
        take = self.voicemail.start(self.call.info.call_id, self.call.rate)
        self._take = take
        self.player.enqueue(Phrase(self.voicemail.beep, False))
        await self._played_out()
        if self.gone.is_set():
            take.hung_up()
        info = await take.wait()
        self.result.recording = info
        if info is not None and take.voiced:
            self.result.outcome = VOICEMAIL_LEFT
        elif info is not None:
            self.result.detail["silent_message"] = True


def _read_music(path: Path | None) -> Audio | None:
    if path is None or not str(path):
        return None
    try:
        return Audio.read_wav(path).resample(8000)
    except (OSError, ValueError):
        log.warning("call-back music unreadable; dialling without it")
        return None
