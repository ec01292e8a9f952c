"""Early end of turn: answer a complete answer without waiting for the whole end silence.

When the caller pauses inside a phrase for ``voice.vad.early_silence_ms`` (250–300 ms by what
the dialog expects), the phrase so far is recognised speculatively. If the caller is still
silent when the result comes and it is a complete answer for what the dialog expects
(:func:`dialogs.completeness.is_complete`: a yes/no, an exact catalog article no longer
article continues, a quantity that cannot go on, a menu choice, the operator), the phrase is
ended at once and answered. If the caller speaks on, the result is dropped and the phrase goes
on; if the phrase then ends at the same point, the speculative transcript is reused (the
audio is the same), so speculation never costs a second recognition of one phrase.

The recognition starts ``voice.vad.speculate_lead_ms`` (150 ms) before the early pause is
reached (a ``PhrasePaused(commit=False)``), so that its result is ready when the pause is; the
answer still waits for the early pause itself (``commit=True``), so the lead hides the
recognizer's time without cutting a caller off any sooner.

An unsure recognition (confidence under ``voice.early_min_confidence``) is never answered
early: a misheard «двадцать» («2 цель») must wait for the rest of the phrase.

Speculation is optional work: it is not queued while every speech worker is busy
(``speech.executor.pool_busy``), so under load it never delays a recognition a caller is
waiting for (tried: queueing the early pause's recognition even then gave 20 calls p95 2.07 s
against 1.44–2.23 s without: no clear gain, so not kept). Instead it waits for a worker to
come free (checked every ``RETRY_S``) as long as the caller is still silent in that pause, and
starts then: at the article prompt the whole window is 900 ms against the early pause's 300,
so a worker freed in between still answers the phrase before the window ends.
One speculation runs at a time per call: when the caller pauses again while the one of an
earlier pause (between words) is still running, the new pause is recognised as soon as that one
is done, in the same way (20 calls: it had waited for the whole article window, p95 1.5 ➜
1.1 s with the recognition in worker processes). ``voice.speculate: false`` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from bot.turn_input import Paused, Spoken, TurnInput
from bot.voice import VoiceServices
from dialogs.completeness import is_complete
from dialogs.expect import Expect
from nlu.engine import NluEngine
from speech.asr import Hints, Transcript
from speech.executor import pool_busy
from speech.vad import PhraseEnded

log = logging.getLogger(__name__)

RETRY_S = 0.02  # how often a speculation skipped for a busy pool looks for a free worker


@dataclass(slots=True)
class Speculation:
    paused: Paused
    expect: Expect
    task: asyncio.Task[tuple[Transcript, bool]]


class EarlyTurn:
    def __init__(self, services: VoiceServices, input: TurnInput, nlu: NluEngine) -> None:
        self.services = services
        self.input = input
        self.nlu = nlu
        self.current: Speculation | None = None
        self.started = 0  # speculative recognitions run (for the benchmark)
        self.skipped_busy = 0
        self.used = 0  # phrases answered early
        self.committed: int | None = None  # last_voice_ms of the pause that reached its window
        self.retried = 0  # speculations started late, when a worker came free
        self._wanted: tuple[Paused, Expect] | None = None  # skipped for a busy pool
        self._retry: asyncio.Task[None] | None = None

    @property
    def running(self) -> asyncio.Task[tuple[Transcript, bool]] | None:
        """The speculative recognition still running, to wait on beside the line."""
        spec = self.current
        return spec.task if spec is not None and not spec.task.done() else None

    @property
    def retrying(self) -> asyncio.Task[None] | None:
        """Waiting for a free speech worker to start a skipped speculation: when this task is
        done, :attr:`running` may have a new speculation to wait on."""
        retry = self._retry
        return retry if retry is not None and not retry.done() else None

    def start(self, paused: Paused, expect: Expect) -> None:
        if not self.services.voice.speculate:
            return
        pause = paused.pause
        if pause.commit:
            self.committed = pause.last_voice_ms
        spec = self.current
        if spec is not None and spec.paused.pause.last_voice_ms == pause.last_voice_ms:
            return  # this pause is being (or was) recognised since its lead
        if spec is not None and not spec.task.done():
            # one at a time: the one running is of an earlier pause the caller spoke after
            # (a pause between words), so this one starts as soon as that one is done
            self._defer(paused, expect)
            return
        if pool_busy():
            self.skipped_busy += 1
            self._defer(paused, expect)
            return
        self._begin(paused, expect)

    def _defer(self, paused: Paused, expect: Expect) -> None:
        self._wanted = (paused, expect)
        if self.retrying is None:
            self._retry = asyncio.create_task(self._when_free(), name="speculate-later")

    def _begin(self, paused: Paused, expect: Expect) -> None:
        self._wanted = None
        self.started += 1
        task = asyncio.create_task(self._recognize(paused, expect), name="speculate")
        self.current = Speculation(paused, expect, task)

    async def _when_free(self) -> None:
        """Start the skipped speculation once a worker is free, if the caller is still silent
        in that pause (no new voice, the phrase not ended); else give it up."""
        while self._wanted is not None:
            await asyncio.sleep(RETRY_S)
            wanted = self._wanted
            # the turn is over (keys, a hang-up, the next prompt): a phrase left open by them
            # must not be recognised, nor answered over what comes next
            listening = self.input.listening
            if wanted is None or not listening or not self.input.still_paused(wanted[0].pause):
                self._wanted = None
                return
            spec = self.current
            if (
                spec is not None
                and spec.paused.pause.last_voice_ms == wanted[0].pause.last_voice_ms
            ):
                self._wanted = None
                return
            if (spec is None or spec.task.done()) and not pool_busy():
                self.retried += 1
                self._begin(*wanted)
                return

    async def _recognize(self, paused: Paused, expect: Expect) -> tuple[Transcript, bool]:
        services = self.services
        transcript = await services.recognizer.transcribe(paused.pause.audio, Hints(expect))
        sure = (transcript.confidence or 0.0) >= services.voice.early_min_confidence
        parse = self.nlu.parse(transcript.text.strip(), expect, transcript.alternatives)
        pause = paused.pause
        speech_s = (pause.last_voice_ms - pause.speech_start_ms) / 1000
        complete = is_complete(parse, expect, self.nlu.article_goes_on, speech_s)
        return transcript, sure and complete

    def finished(self) -> Spoken | None:
        """The speculation finished: the phrase ended now, if it was a complete answer and the
        caller has said nothing since; else ``None`` (the phrase goes on)."""
        spec = self.current
        if spec is None or not spec.task.done() or spec.task.cancelled():
            return None
        if spec.paused.pause.last_voice_ms != self.committed:
            return None  # ready, but the early pause is not reached yet
        if spec.task.exception() is not None:
            return None  # the real recognition of the phrase will tell
        transcript, complete = spec.task.result()
        if not complete or not self.input.still_paused(spec.paused.pause):
            return None
        spoken = self.input.cut(spec.paused)
        if spoken is None:
            return None
        self.current = None
        self.used += 1
        return Spoken(
            spoken.phrase, spoken.last_voice, spoken.barge_in, spoken.interrupted, transcript
        )

    async def transcript_for(self, phrase: PhraseEnded) -> Transcript | None:
        """The speculative transcript of this very phrase (same last voiced chunk), if any."""
        spec, self.current = self.current, None
        if spec is None or spec.paused.pause.last_voice_ms != phrase.last_voice_ms:
            return None
        with contextlib.suppress(Exception):
            transcript, _ = await spec.task
            return transcript
        return None

    def drop_retry(self) -> None:
        """The caller's turn ended: a speculation waiting for a free worker is given up."""
        self._wanted = None
        if self._retry is not None and not self._retry.done():
            self._retry.cancel()
        self._retry = None

    def close(self) -> None:
        self.drop_retry()
        spec, self.current = self.current, None
        if spec is not None and not spec.task.done():
            spec.task.cancel()
