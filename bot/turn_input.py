"""The caller's side of one call: audio through end-of-phrase detection, keypad digits,
barge-in, and the end of the line, turned into the session's input items.

- Audio frames go to the end-of-phrase detector. Voice over an interruptible prompt stops it
  (barge-in) as soon as the detector has heard ``min_speech_ms``; the far end's buffer is
  cleared. What the barge-in cut off travels with the phrase (:attr:`Spoken.interrupted`), so
  the session can play it again if the phrase was only a noise. Voice over a
  non-interruptible prompt (a goodbye, a transfer notice) is dropped.
- Keypad digits stop an interruptible prompt too, and are collected until ``#`` or a pause of
  ``voice.dtmf_timeout``; digits keep the caller's turn alive (no no-input timeout meanwhile).
  The pause is counted in audio time (frames received, like the VAD's timings), with a
  wall-clock reserve of twice as long for a line that stopped sending frames.
- The detector's no-input event counts only while the session listens (the prompt has played
  out), as a :class:`NoAnswer`.
- The end of the inbound stream, a protocol error, a lost connection, or no frames at all for
  ``voice.idle_timeout`` is :class:`Gone` with the reason.
- After every audio frame the reader lets the event loop run the other calls. A call whose
  frames piled up while the loop ran late read them without a pause, which held every other
  call's outgoing frames for the whole backlog (asyncio's debug mode at 20 calls: reader
  steps over 0.1 s, 6–7 per run before, 2 after; the wire's 20-call figures moved within
  their run-to-run spread).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from bot.events import BargedIn, EventBus
from bot.player import Phrase, Player
from bot.voice_settings import VoiceSettings
from connectors.pbx.transport import AudioIn, CallTransport, DtmfIn, HangupIn, ProtocolError
from speech.asr import Transcript
from speech.audio import Audio
from speech.vad import (
    EndOfPhraseDetector,
    FloatArray,
    NoInput,
    PhraseEnded,
    PhrasePaused,
    SpeechStarted,
    VoiceActivity,
)

log = logging.getLogger(__name__)


_vad_pools: dict[int, ThreadPoolExecutor] = {}


def vad_pool(threads: int) -> ThreadPoolExecutor:
    """The process's threads for the VAD model (``voice.vad.threads``), shared by the calls."""
    pool = _vad_pools.get(threads)
    if pool is None:
        pool = _vad_pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="vad")
    return pool


def _probabilities(vad: VoiceActivity, rows: FloatArray) -> list[float]:
    return [vad.probability(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Spoken:
    phrase: PhraseEnded
    last_voice: float  # monotonic wall clock of the caller's last voiced audio
    barge_in: bool = False
    interrupted: tuple[Phrase, ...] = ()  # what the barge-in cut off
    transcript: Transcript | None = None  # recognised already (an early end of turn)


@dataclass(frozen=True, slots=True)
class Paused:
    """A short pause inside the caller's phrase: the phrase so far, to recognise early."""

    pause: PhrasePaused
    last_voice: float


@dataclass(frozen=True, slots=True)
class Keys:
    digits: str


@dataclass(frozen=True, slots=True)
class NoAnswer:
    pass


@dataclass(frozen=True, slots=True)
class Gone:
    reason: str  # caller_hangup | idle | protocol_error | connection_lost | error


@dataclass(frozen=True, slots=True)
class HandOffNow:
    reason: str  # shutdown, …


TurnItem = Spoken | Paused | Keys | NoAnswer | Gone | HandOffNow


class TurnInput:
    def __init__(
        self,
        transport: CallTransport,
        detector: EndOfPhraseDetector,
        player: Player,
        voice: VoiceSettings,
        bus: EventBus,
    ) -> None:
        self.transport = transport
        self.detector = detector
        self._vad_job: Future[list[float]] | None = None  # the VAD's work in its thread
        self.player = player
        self.voice = voice
        self.bus = bus
        self.items: asyncio.Queue[TurnItem] = asyncio.Queue()
        self.listening = False
        self._digits = ""
        self._digits_until_ms = 0.0  # audio time at which collected digits are complete
        self._digit_timer: asyncio.TimerHandle | None = None
        self._drop_phrase = False
        self._barged = False
        self._interrupted: tuple[Phrase, ...] = ()
        self.on_audio: Callable[[Audio], None] | None = None  # every inbound frame (recorder)

    # -- the session's controls --------------------------------------------------------------

    def start_turn(
        self, end_silence_ms: int, early_silence_ms: int = 0, speculate_ms: int = 0
    ) -> None:
        """The prompt has played out: the caller's turn begins (no-input timer restarts)."""
        self.detector.start_turn(
            end_silence_ms=end_silence_ms,
            no_input_ms=self.voice.vad.no_input_ms,
            early_silence_ms=early_silence_ms,
            speculate_ms=speculate_ms,
        )
        self.listening = True

    def still_paused(self, pause: PhrasePaused) -> bool:
        """The caller has said nothing more since ``pause`` (the phrase is still open)."""
        return self.detector.last_voice_ms == pause.last_voice_ms

    def cut(self, paused: Paused) -> Spoken | None:
        """End the paused phrase now (it was a complete answer): what ``PhraseEnded`` would
        have brought, without waiting for the rest of the end-of-phrase silence."""
        if not self.still_paused(paused.pause):
            return None
        phrase = self.detector.cut()
        if phrase is None:
            return None
        spoken = Spoken(phrase, paused.last_voice, self._barged, self._interrupted)
        self._barged, self._interrupted = False, ()
        return spoken

    def stop_listening(self) -> None:
        self.listening = False

    def put(self, item: TurnItem) -> None:
        self.items.put_nowait(item)

    def close(self) -> None:
        if self._digit_timer is not None:
            self._digit_timer.cancel()
            self._digit_timer = None
        if self._vad_job is not None:  # the model goes back to the pool only when idle
            wait([self._vad_job], timeout=1.0)

    # -- reading the line --------------------------------------------------------------------

    async def run(self) -> None:
        """Inbound events until the call is gone; always ends with one :class:`Gone`."""
        reason = "caller_hangup"
        events = aiter(self.transport.events())
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: cancelling wait_for(anext(...)) can hang
                    # on Python 3.11 when an item arrives at the same moment
                    async with asyncio.timeout(self.voice.idle_timeout):
                        event = await anext(events)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    reason = "idle"
                    break
                if isinstance(event, AudioIn):
                    await self._on_audio(event)
                    # frames already buffered (the loop ran late) come without a wait: let
                    # the other calls' frames out between two of them instead of after all
                    await asyncio.sleep(0)
                elif isinstance(event, DtmfIn):
                    await self._on_digit(event.digit)
                elif isinstance(event, HangupIn):
                    break
        except ProtocolError:
            reason = "protocol_error"  # the connector logged it
        except (ConnectionError, asyncio.IncompleteReadError):
            reason = "connection_lost"
        except Exception:
            log.exception("reading the call failed", extra={"call_id": self.bus.call_id})
            reason = "error"
        finally:
            self.put(Gone(reason))

    async def _on_audio(self, event: AudioIn) -> None:
        wall = time.monotonic()
        if self.on_audio is not None:
            self.on_audio(event.audio)
        rows = self.detector.take(event.audio)
        threads = self.voice.vad.threads
        if not len(rows):
            probabilities: list[float] = []
        elif threads:
            job = vad_pool(threads).submit(_probabilities, self.detector.vad, rows)
            self._vad_job = job
            probabilities = await asyncio.wrap_future(job)
        else:
            probabilities = _probabilities(self.detector.vad, rows)
        for vad_event in self.detector.advance(probabilities):
            if isinstance(vad_event, SpeechStarted):
                await self._speech_started(wall - (self.detector.now_ms - vad_event.at_ms) / 1000)
            elif isinstance(vad_event, PhraseEnded):
                if self._drop_phrase:
                    self._drop_phrase = False
                    continue
                last_voice = wall - (self.detector.now_ms - vad_event.last_voice_ms) / 1000
                self.put(Spoken(vad_event, last_voice, self._barged, self._interrupted))
                self._barged, self._interrupted = False, ()
            elif isinstance(vad_event, PhrasePaused) and not self._drop_phrase:
                last_voice = wall - (self.detector.now_ms - vad_event.last_voice_ms) / 1000
                self.put(Paused(vad_event, last_voice))
            elif isinstance(vad_event, NoInput) and self.listening and not self._digits:
                self.put(NoAnswer())
        if self._digits and self.detector.now_ms >= self._digits_until_ms:
            self._flush_digits()

    async def _speech_started(self, onset_wall: float) -> None:
        self._barged, self._interrupted, self._drop_phrase = False, (), False
        if not self.player.playing:
            return
        if not (self.voice.barge_in and self.player.interruptible):
            self._drop_phrase = True  # talking over a goodbye or a transfer notice
            return
        cut = await self.player.barge_in()
        if cut is not None:
            self._barged, self._interrupted = True, tuple(cut)
            self.bus.publish(BargedIn(latency_s=time.monotonic() - onset_wall))

    async def _on_digit(self, digit: str) -> None:
        if self.voice.barge_in and self.player.playing and self.player.interruptible:
            await self.player.barge_in()
        if self.listening:
            self.detector.start_turn()  # the caller is keying in: not a silence
        if self._digit_timer is not None:
            self._digit_timer.cancel()
            self._digit_timer = None
        if digit == "#":
            self._flush_digits()
            return
        self._digits += digit
        self._digits_until_ms = self.detector.now_ms + self.voice.dtmf_timeout * 1000
        loop = asyncio.get_running_loop()
        self._digit_timer = loop.call_later(2 * self.voice.dtmf_timeout, self._flush_digits)

    def _flush_digits(self) -> None:
        if self._digit_timer is not None:
            self._digit_timer.cancel()
        self._digit_timer = None
        if self._digits:
            self.put(Keys(self._digits))
            self._digits = ""
