"""One phone call: audio in ➜ end of phrase ➜ ASR ➜ NLU ➜ the action runner ➜ TTS ➜ audio out.

The caller's side (VAD, keypad digits, barge-in, the end of the line) is
:mod:`bot.turn_input`; outgoing audio is :mod:`bot.player`; the policy's actions are carried
out by :mod:`bot.action_runner`, for which this session is the :class:`Effects` port (say =
synthesize and queue the audio, listen, caller name, transfer, hang up). Everything that
happens is a call event on the session's bus (:mod:`bot.events`): the transcript
(:class:`~bot.call_log.CallLog`), the server's metrics and simulated callers subscribe.

The session's state is published as ``state`` events: ``thinking`` (recognising, deciding,
synthesizing), ``speaking`` (a phrase's first frame went out), ``listening`` (the prompt has
played out: the caller's turn, and the no-input timer runs).

Failures never leave the caller alone: an engine or database failure, or a recognition that
takes longer than ``voice.asr.timeout_s``, hands the call to a person (the policy saves the
order so far). A barge-in that transcribes as nothing (a cough, a noise) plays the cut prompt
again and is not the caller's silence. Every call has a maximum length.

Timing of a turn (``TurnTiming``): ``eop_wait`` from the caller's last voiced audio to the
end-of-phrase decision, ``asr``, ``nlu_policy``, ``tts`` (synthesis of the first reply) and
``gap`` from the last voiced audio to the first frame of the bot's reply on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.action_runner import ActionRunner
from bot.call_context import context_for
from bot.call_log import CallLog
from bot.early_turn import EarlyTurn
from bot.events import (
    CallEvent,
    EngineFailed,
    EventBus,
    PromptReplayed,
    StateChanged,
    Subscriber,
    TurnTimed,
    TurnTiming,
)
from bot.player import Phrase, Player
from bot.rasa.engines import build_policy
from bot.rasa.nlu import understand
from bot.turn_input import Gone, HandOffNow, Keys, NoAnswer, Paused, Spoken, TurnInput, TurnItem
from bot.voice import VoiceServices
from connectors.pbx.transport import CallTransport, ProtocolError
from dialogs.config import DialogSettings
from dialogs.expect import Expect
from speech.asr import Hints
from speech.audio import Audio
from speech.errors import EngineTimeout, SpeechError

log = logging.getLogger(__name__)
GOODBYE_WAIT_S = 2.0  # past the audio still queued, the longest a goodbye may hold the line


class CallSession:
    def __init__(
        self,
        transport: CallTransport,
        services: VoiceServices,
        *,
        dialog: DialogSettings | None = None,
        pace: bool = True,
        route: str = "",
    ) -> None:
        self.transport = transport
        self.services = services
        self.voice = services.voice
        self.route = route
        info = transport.info
        self.context = context_for(info)
        self.bus = EventBus(info.call_id)
        self.log = CallLog(info.call_id, info.connector, self.bus.started)
        self.bus.subscribe(self.log.record)
        settings = dialog or services.settings.dialog
        policy = build_policy(  # by dialog.engine: ours, or a Rasa assistant's
            self.context, services.ports, services.responses, settings,
            services.settings.rasa, route=route,
        )  # fmt: skip
        self.runner = ActionRunner(policy, self, services.orders, self.bus)
        self.player = Player(transport, pace=pace, on_phrase_start=self._on_phrase_start)
        self.input = TurnInput(transport, services.detector(), self.player, self.voice, self.bus)
        # the model in force when the call started, for the whole call (the console may
        # activate a new one meanwhile: it applies from the next call)
        self.nlu = services.nlu
        self.early = EarlyTurn(services, self.input, self.nlu)
        self.expect: Expect = "menu"
        self.state = ""
        self.end_reason = ""
        self._turn: TurnTiming | None = None  # the caller turn waiting for the bot's answer
        self._turn_voice = 0.0  # wall clock of that turn's last voiced audio (0: not speech)
        self._first_say = False  # the next Say is the first answer to self._turn
        self._engine_failed = ""  # "tts" when synthesis failed: hand the call to a person

    def subscribe(self, subscriber: Subscriber) -> None:
        self.bus.subscribe(subscriber)

    def tap_audio(self, caller: Callable[[Audio], None], bot: Callable[[Audio], None]) -> None:
        """Both sides' frames to a recorder: the caller's as received, the bot's as sent."""
        self.input.on_audio = caller
        self.player.on_frame = bot

    def hand_off(self, reason: str) -> None:
        """Ask the session to transfer the caller to a person now (e.g. server shutdown)."""
        self.input.put(HandOffNow(reason))

    # -- the call --------------------------------------------------------------------------

    async def run(self) -> CallLog:
        self.player.start()
        reader = asyncio.create_task(self.input.run(), name=f"read-{self.context.call_id}")
        try:
            self._set_state("thinking")
            await self.runner.start(route=self.route)
            deadline = self.bus.started + self.voice.max_call_seconds
            while not self.runner.ended:
                await self._after_failure()
                if self.runner.ended:
                    break
                item = await self._next_item(deadline)
                if item is None:
                    await self.runner.hand_off("max_call_length")
                    break
                self._set_state("thinking")
                await self._handle(item)
        except Exception as exc:
            # an engine or database failure must not lose the caller or the order: the
            # policy hands the call to a person and saves what was confirmed
            timeout = isinstance(exc, EngineTimeout)
            if not timeout:
                log.exception("call session failed", extra={"call_id": self.context.call_id})
            self.end_reason = "recognition_timeout" if timeout else "error"
            with contextlib.suppress(Exception):
                reason = "recognition_timeout" if timeout else "error"
                await self.runner.hand_off(reason)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            self.input.close()
            self.services.release(self.input.detector)
            self.early.close()
            await self.player.close()
            self._close_turn()
            self.runner.end(self.end_reason or "caller_hangup")
        return self.log

    async def _after_failure(self) -> None:
        if self._engine_failed and not self.runner.ended:
            self.end_reason = f"{self._engine_failed}_failed"
            await self.runner.hand_off("engine_error")

    async def _next_item(self, deadline: float) -> TurnItem | None:
        """The caller's next input; once the prompt has played out, the caller's turn starts.

        Pauses inside the caller's phrase start a speculative recognition (:mod:`bot.early_turn`)
        and a complete answer found that way ends the phrase at once."""
        get = asyncio.create_task(self.input.items.get())
        try:
            while True:
                if not self.player.playing and not self.input.listening:
                    self._start_listening()
                waits: set[asyncio.Future[Any]] = {get}
                drained = (
                    asyncio.ensure_future(self.player.drained()) if self.player.playing else None
                )
                if drained is not None:
                    waits.add(drained)
                speculation = self.early.running
                if speculation is not None:
                    waits.add(speculation)
                retry = self.early.retrying  # a skipped speculation that may start soon
                if retry is not None and self.input.listening:
                    waits.add(retry)
                done, _ = await asyncio.wait(
                    waits,
                    timeout=max(0.0, deadline - time.monotonic()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if drained is not None:
                    drained.cancel()
                if not done:
                    return None  # the call's time is up
                if get in done:
                    item = get.result()
                    if not isinstance(item, Paused):
                        return item
                    if self.input.listening:
                        self.early.start(item, self.expect)
                        early = self.early.finished()  # ready before the early pause was
                        if early is not None:
                            return early
                    get = asyncio.create_task(self.input.items.get())
                elif speculation is not None and speculation in done:
                    early = self.early.finished()
                    if early is not None:
                        return early
        finally:
            if not get.done():
                get.cancel()
            self.input.stop_listening()
            self.early.drop_retry()

    def _start_listening(self) -> None:
        vad, speculate = self.voice.vad, self.voice.speculate
        end, early = vad.silences(self.expect)
        lead = vad.speculate_at(self.expect) if speculate else 0
        self.input.start_turn(end, early if speculate else 0, lead)
        self._set_state("listening")

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.bus.publish(StateChanged(state=state))

    def _on_phrase_start(self, wall: float) -> None:
        self._set_state("speaking")

    # -- one input ---------------------------------------------------------------------------

    async def _handle(self, item: TurnItem) -> None:
        now = self.bus.now()
        if isinstance(item, HandOffNow):
            await self.runner.hand_off(item.reason)
        elif isinstance(item, Gone):
            self._open_turn(TurnTiming(now, "hangup"))
            self.end_reason = self.end_reason or item.reason
            await self.runner.caller_hung_up()
        elif isinstance(item, Keys):
            self._open_turn(TurnTiming(now, "dtmf", text=item.digits))
            await self._timed(self.runner.keys(item.digits))
        elif isinstance(item, NoAnswer):
            self._open_turn(TurnTiming(now, "silence"))
            await self._timed(self.runner.silence())
        elif isinstance(item, Spoken):
            await self._spoken(item, now)

    async def _spoken(self, item: Spoken, now: float) -> None:
        phrase = item.phrase
        timing = TurnTiming(
            now,
            "speech",
            speech_s=(phrase.last_voice_ms - phrase.speech_start_ms) / 1000,
            eop_wait_s=(phrase.end_ms - phrase.last_voice_ms) / 1000,
            barge_in=item.barge_in,
        )
        started = time.perf_counter()
        try:
            transcript = item.transcript or await self.early.transcript_for(phrase)
            if transcript is None:
                transcript = await self.services.recognizer.transcribe(
                    phrase.audio, Hints(self.expect)
                )
        except EngineTimeout:
            self.bus.publish(EngineFailed(engine="asr", reason="timeout"))
            log.warning("recognition timed out", extra={"call_id": self.context.call_id})
            raise
        except Exception:
            self.bus.publish(EngineFailed(engine="asr", reason="error"))
            raise
        timing.asr_s = transcript.elapsed_s if item.transcript else time.perf_counter() - started
        timing.early = item.transcript is not None
        timing.text = transcript.text.strip()
        if not timing.text:
            if item.interrupted:  # a cough or a noise stopped the prompt: play it again
                for cut in item.interrupted:
                    self.player.enqueue(Phrase(cut.audio, cut.interruptible))
                self.bus.publish(PromptReplayed())
            return  # noise: not a turn, not a silence; keep listening
        self._open_turn(timing, last_voice=item.last_voice)
        started = time.perf_counter()
        parse = await understand(
            self.nlu, timing.text, self.runner.expect, self.bus, transcript.alternatives
        )
        if transcript.confidence is not None:  # the dialog asks keys for what was heard unsurely
            parse = dataclasses.replace(parse, heard_confidence=transcript.confidence)
        timing.intent = parse.intent
        parse_s = time.perf_counter() - started
        await self._timed(self.runner.said(parse, source="speech"), parse_s)

    async def _timed(self, step: Awaitable[list[CallEvent]], parse_s: float = 0.0) -> None:
        """Run a runner step; the turn's ``nlu_policy`` is the parse plus the policy step."""
        turn = self._turn
        await step
        if turn is not None:
            turn.nlu_policy_s = parse_s + self.runner.policy_s

    def _open_turn(self, timing: TurnTiming, *, last_voice: float = 0.0) -> None:
        self._close_turn()
        self._turn, self._turn_voice, self._first_say = timing, last_voice, True

    def _close_turn(self, turn: TurnTiming | None = None) -> None:
        """Publish the open turn's timings (``turn``: only if that one is still open)."""
        if self._turn is None or (turn is not None and turn is not self._turn):
            return
        self.bus.publish(TurnTimed(timing=self._turn))
        self._turn = None

    # -- Effects: what the runner asks of the voice ------------------------------------------

    async def say(self, text: str, key: str, interruptible: bool) -> None:
        turn = self._turn if self._first_say else None
        self._first_say = False
        started = time.perf_counter()
        try:
            audio = await self.services.synthesizer.synthesize(text)
        except SpeechError as exc:
            reason = "timeout" if isinstance(exc, EngineTimeout) else "error"
            self.bus.publish(EngineFailed(engine="tts", reason=reason))
            log.warning("synthesis failed", extra={"call_id": self.context.call_id})
            self._engine_failed = "tts"
            return
        on_start = None
        if turn is not None:
            turn.tts_s = time.perf_counter() - started
            voice = self._turn_voice

            def on_start(wall: float) -> None:
                if voice:
                    turn.gap_s = wall - voice
                self._close_turn(turn)

        self.player.enqueue(Phrase(audio.resample(self.transport.rate), interruptible, on_start))

    async def listen(self, expect: Expect) -> None:
        self.expect = expect

    async def set_caller_name(self, name: str) -> None:
        with contextlib.suppress(ConnectionError, ProtocolError):
            await self.transport.set_caller_name(name)

    async def transfer(self, target: str, reason: str) -> None:
        await self._let_it_play_out()
        self.end_reason = self.end_reason or f"transfer:{reason}"
        with contextlib.suppress(ConnectionError, ProtocolError):
            await self.transport.hand_over(target, reason)  # an error reason: BOT_RESULT=error

    async def hang_up(self) -> None:
        await self._let_it_play_out()
        self.end_reason = self.end_reason or "bot_hangup"
        with contextlib.suppress(ConnectionError, ProtocolError):
            await self.transport.hangup()

    async def _let_it_play_out(self) -> None:
        """The goodbye / transfer notice plays out, but never holds the line for ever."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.player.remaining_s + GOODBYE_WAIT_S):
                await self.player.drained()
