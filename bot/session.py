"""One phone call: audio in ➜ VAD ➜ ASR ➜ NLU ➜ policy ➜ TTS ➜ audio out.

Keypad digits arrive beside speech (ended by ``#`` or a pause). Caller speech or keys during
an interruptible prompt stop it (barge-in) as soon as the VAD has heard ``min_speech_ms`` of
voice; speech over a non-interruptible prompt is ignored (keys are kept as input). An
engine or database failure hands the call to a person (the policy saves the order). No
answer within the no-input timeout is a ``Silence`` for the policy (which re-prompts, then
hands off). Every call has a maximum length, and a call whose PBX stops sending frames for
``voice.idle_timeout`` is over. The session keeps a transcript with the timings of every turn.

Timing of a turn (``TurnTiming``): ``eop_wait`` from the caller's last voiced audio to the
end-of-phrase decision, ``asr``, ``nlu_policy``, ``tts`` (synthesis of the first reply) and
``gap`` from the last voiced audio to the first frame of the bot's reply on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.call_context import context_for
from bot.orders import save_order
from bot.player import Phrase, Player
from bot.voice import VoiceServices
from connectors.pbx.transport import AudioIn, CallTransport, DtmfIn, HangupIn, ProtocolError
from dialogs.actions import (
    Action,
    CallerHungUp,
    CallStarted,
    Event,
    HandOff,
    Hangup,
    KeysPressed,
    Listen,
    Say,
    SetCallerName,
    Silence,
    SubmitOrder,
    Transfer,
    UserSaid,
)
from dialogs.config import DialogSettings
from dialogs.expect import Expect
from dialogs.policy import DialogPolicy
from speech.asr import Hints
from speech.vad import NoInput, PhraseEnded, SpeechStarted

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TurnTiming:
    at: float  # seconds since the call started
    source: str  # "speech" | "dtmf" | "silence" | "hangup"
    text: str = ""
    intent: str = ""
    speech_s: float = 0.0
    eop_wait_s: float = 0.0
    asr_s: float = 0.0
    nlu_policy_s: float = 0.0
    tts_s: float = 0.0
    gap_s: float | None = None  # None when the bot did not answer with audio
    barge_in: bool = False
    _last_voice: float = 0.0  # wall clock (monotonic) of the last voiced audio


@dataclass(slots=True)
class CallLog:
    call_id: str
    connector: str
    started: float
    turns: list[TurnTiming] = field(default_factory=list)
    bot: list[dict[str, Any]] = field(default_factory=list)  # what the bot said and did
    barge_ins: list[float] = field(default_factory=list)  # onset ➜ playback stopped, seconds
    end_reason: str = ""
    order_ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        turns = []
        for t in self.turns:
            data = asdict(t)
            data.pop("_last_voice")
            turns.append({k: round(v, 4) if isinstance(v, float) else v for k, v in data.items()})
        return {
            "call_id": self.call_id,
            "connector": self.connector,
            "turns": turns,
            "bot": self.bot,
            "barge_ins": [round(b, 4) for b in self.barge_ins],
            "end_reason": self.end_reason,
            "order_ids": self.order_ids,
        }


@dataclass(slots=True)
class _Item:
    kind: str  # "phrase" | "dtmf" | "silence" | "hangup" | "handoff"
    phrase: PhraseEnded | None = None
    digits: str = ""
    last_voice: float = 0.0  # wall clock of the caller's last voiced audio
    barge_in: bool = False
    reason: str = ""  # "handoff": why


class CallSession:
    def __init__(
        self,
        transport: CallTransport,
        services: VoiceServices,
        *,
        dialog: DialogSettings | None = None,
        pace: bool = True,
    ) -> None:
        self.transport = transport
        self.services = services
        self.voice = services.voice
        info = transport.info
        self.context = context_for(info)
        settings = dialog or services.settings.dialog
        self.policy = DialogPolicy(self.context, services.shop.ports, services.responses, settings)
        self.player = Player(transport, pace=pace)
        self.detector = services.detector()
        self.expect: Expect = "menu"
        self.listening = asyncio.Event()  # the bot has finished talking and waits
        self.log = CallLog(info.call_id, info.connector, time.monotonic())
        self._inbox: asyncio.Queue[_Item] = asyncio.Queue()
        self._dtmf = ""
        self._dtmf_timer: asyncio.TimerHandle | None = None
        self._drop_phrase = False
        self._speech_barged = False
        self._onset_wall = 0.0
        self._ended = False

    # -- the call --------------------------------------------------------------------------

    async def run(self) -> CallLog:
        self.player.start()
        reader = asyncio.create_task(self._read(), name=f"read-{self.context.call_id}")
        try:
            await self._step(CallStarted(), None)
            deadline = self.log.started + self.voice.max_call_seconds
            while not self._ended:
                item = await self._next_item(deadline)
                if item is None:
                    await self._step(HandOff("max_call_length"), None)
                    break
                self.listening.clear()
                await self._handle(item)
        except Exception:
            # an engine or database failure must not lose the caller or the order: the
            # policy hands the call to a person and saves what was confirmed
            log.exception("call session failed", extra={"call_id": self.context.call_id})
            self.log.end_reason = "error"
            with contextlib.suppress(Exception):
                await self._step(HandOff("error"), None)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            if self._dtmf_timer is not None:
                self._dtmf_timer.cancel()
            await self.player.close()
        return self.log

    async def _next_item(self, deadline: float) -> _Item | None:
        """The caller's next input; once the prompt has played out, the caller's turn starts."""
        get = asyncio.create_task(self._inbox.get())
        try:
            if self.player.playing:
                drained = asyncio.create_task(self.player.drained())
                await asyncio.wait(
                    {get, drained},
                    timeout=max(0.0, deadline - time.monotonic()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                drained.cancel()
            if not get.done() and not self.player.playing:
                self._start_listening()
                await asyncio.wait({get}, timeout=max(0.0, deadline - time.monotonic()))
            return get.result() if get.done() else None
        finally:
            if not get.done():
                get.cancel()

    def _start_listening(self) -> None:
        vad = self.voice.vad
        silence = vad.end_silence_ms.get(self.expect, vad.default_end_silence_ms)
        self.detector.start_turn(end_silence_ms=silence, no_input_ms=vad.no_input_ms)
        self.listening.set()

    def hand_off(self, reason: str) -> None:
        """Ask the session to transfer the caller to a person now (e.g. server shutdown)."""
        self._inbox.put_nowait(_Item("handoff", reason=reason))

    async def _handle(self, item: _Item) -> None:
        now = time.monotonic()
        if item.kind == "handoff":
            await self._step(HandOff(item.reason), None)
            return
        if item.kind == "hangup":
            timing = TurnTiming(now - self.log.started, "hangup")
            await self._step(CallerHungUp(), timing)
            self._ended = True
            self.log.end_reason = self.log.end_reason or "caller_hangup"
            return
        if item.kind == "dtmf":
            timing = TurnTiming(now - self.log.started, "dtmf", text=item.digits)
            await self._step(KeysPressed(item.digits), timing)
            return
        if item.kind == "silence":
            await self._step(Silence(), TurnTiming(now - self.log.started, "silence"))
            return
        phrase = item.phrase
        assert phrase is not None
        timing = TurnTiming(
            now - self.log.started,
            "speech",
            speech_s=(phrase.last_voice_ms - phrase.speech_start_ms) / 1000,
            eop_wait_s=(phrase.end_ms - phrase.last_voice_ms) / 1000,
            barge_in=item.barge_in,
            _last_voice=item.last_voice,
        )
        started = time.perf_counter()
        transcript = await self.services.recognizer.transcribe(phrase.audio, Hints(self.expect))
        timing.asr_s = time.perf_counter() - started
        timing.text = transcript.text.strip()
        if not timing.text:
            return  # noise: keep listening
        started = time.perf_counter()
        parse = self.services.nlu.parse(timing.text)
        timing.intent = parse.intent
        await self._step(UserSaid(parse), timing, started)

    # -- actions ---------------------------------------------------------------------------

    async def _step(
        self, event: Event, timing: TurnTiming | None, started: float | None = None
    ) -> None:
        started = started if started is not None else time.perf_counter()
        actions = await self.policy.step(event)
        if timing is not None:
            timing.nlu_policy_s = time.perf_counter() - started
            self.log.turns.append(timing)
        first_say = True
        for action in actions:
            await self._apply(action, timing if first_say else None)
            if isinstance(action, Say):
                first_say = False

    async def _apply(self, action: Action, timing: TurnTiming | None) -> None:
        call_t = round(time.monotonic() - self.log.started, 3)
        if isinstance(action, Say):
            self.log.bot.append({"t": call_t, "say": action.text, "key": action.key})
            started = time.perf_counter()
            audio = await self.services.synthesizer.synthesize(action.text)
            if timing is not None:
                timing.tts_s = time.perf_counter() - started
            on_start = None
            if timing is not None and timing._last_voice:
                turn = timing

                def on_start(wall: float) -> None:
                    turn.gap_s = wall - turn._last_voice

            self.player.enqueue(
                Phrase(audio.resample(self.transport.rate), action.interruptible, on_start)
            )
        elif isinstance(action, Listen):
            self.expect = action.expect
        elif isinstance(action, SetCallerName):
            self.log.bot.append({"t": call_t, "caller_name": action.name})
            await self.transport.set_caller_name(action.name)
        elif isinstance(action, SubmitOrder):
            order_id = await save_order(self.services.shop.db, action.order)
            self.log.order_ids.append(order_id)
            self.log.bot.append({"t": call_t, "order": order_id, "status": action.order.status})
        elif isinstance(action, Transfer | Hangup):
            await self._finish_with(action)

    async def _finish_with(self, action: Transfer | Hangup) -> None:
        # let the goodbye / transfer notice play out, but never wait forever
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.player.drained(), self.player.remaining_s + 2.0)
        self._ended = True
        call_t = round(time.monotonic() - self.log.started, 3)
        if isinstance(action, Transfer):
            self.log.bot.append({"t": call_t, "transfer": action.target, "reason": action.reason})
            self.log.end_reason = f"transfer:{action.reason}"
            with contextlib.suppress(ConnectionError, ProtocolError):
                await self.transport.transfer(action.target)
        else:
            self.log.bot.append({"t": call_t, "hangup": True})
            self.log.end_reason = "bot_hangup"
            with contextlib.suppress(ConnectionError, ProtocolError):
                await self.transport.hangup()

    # -- inbound audio and keys --------------------------------------------------------------

    async def _read(self) -> None:
        """Inbound events until the call is gone; silence on the wire for ``idle_timeout``
        (a peer that stopped sending) counts as a hang-up."""
        events = aiter(self.transport.events())
        try:
            while True:
                try:
                    event = await asyncio.wait_for(anext(events), self.voice.idle_timeout)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    self.log.end_reason = "idle"
                    break
                if isinstance(event, AudioIn):
                    await self._on_audio(event)
                elif isinstance(event, DtmfIn):
                    await self._on_digit(event.digit)
                elif isinstance(event, HangupIn):
                    break
        except ProtocolError:
            self.log.end_reason = "protocol_error"  # the connector logged it
        except (ConnectionError, asyncio.IncompleteReadError):
            self.log.end_reason = "connection_lost"
        except Exception:
            log.exception("reading the call failed", extra={"call_id": self.context.call_id})
            self.log.end_reason = "error"
        finally:
            self._inbox.put_nowait(_Item("hangup"))

    async def _on_audio(self, event: AudioIn) -> None:
        wall = time.monotonic()
        for vad_event in self.detector.feed(event.audio):
            if isinstance(vad_event, SpeechStarted):
                self._onset_wall = wall - (self.detector.now_ms - vad_event.at_ms) / 1000
                self._speech_barged = False
                self._drop_phrase = False
                if self.player.playing:
                    if self.voice.barge_in and self.player.interruptible:
                        if await self.player.barge_in():
                            self._speech_barged = True
                            self.log.barge_ins.append(time.monotonic() - self._onset_wall)
                    else:
                        self._drop_phrase = True
            elif isinstance(vad_event, PhraseEnded):
                if self._drop_phrase:
                    self._drop_phrase = False
                    continue
                last_voice = wall - (self.detector.now_ms - vad_event.last_voice_ms) / 1000
                self._inbox.put_nowait(
                    _Item("phrase", vad_event, last_voice=last_voice, barge_in=self._speech_barged)
                )
            elif isinstance(vad_event, NoInput) and self.listening.is_set():
                self._inbox.put_nowait(_Item("silence"))

    async def _on_digit(self, digit: str) -> None:
        if self.voice.barge_in and self.player.playing and self.player.interruptible:
            await self.player.barge_in()
        if self.listening.is_set():
            self.detector.start_turn()  # the caller is keying in: not a silence
        if self._dtmf_timer is not None:
            self._dtmf_timer.cancel()
            self._dtmf_timer = None
        if digit == "#":
            self._flush_dtmf()
            return
        self._dtmf += digit
        loop = asyncio.get_running_loop()
        self._dtmf_timer = loop.call_later(self.voice.dtmf_timeout, self._flush_dtmf)

    def _flush_dtmf(self) -> None:
        self._dtmf_timer = None
        if self._dtmf:
            self._inbox.put_nowait(_Item("dtmf", digits=self._dtmf))
            self._dtmf = ""
