"""Call events: one vocabulary for what happened in a call, and the bus that carries them.

Every front end (voice session, text console, Telphin webhook, and the ones to come) hands the
policy's actions to the one action runner (:mod:`bot.action_runner`), which emits these events;
the voice session adds the turn timings, barge-ins and its listening / thinking / speaking
state. Subscribers read them: the console's ``--json`` lines, the per-call transcript
(:mod:`bot.call_log`), the Prometheus metrics (:mod:`bot.metrics`), simulated callers.

One JSON shape (:meth:`CallEvent.to_json`) serves all of them: ``{"type": …, fields…}``. The
types the console printed before stay as they were (``say``, ``set_caller_name``, ``order``,
``email``, ``transfer``, ``hangup``); the additions are documented in the README («The text
console»). Events carry personal data (numbers, names, what the caller said): they go to
the transcript and the console, never into log text.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent:
    """The base: ``call_id`` and ``t`` (seconds since the call started) on every event."""

    type: ClassVar[str] = ""
    call_id: str = field(default="", compare=False)
    t: float = field(default=0.0, compare=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            if f.name not in ("call_id", "t"):
                data[f.name] = getattr(self, f.name)
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class CallBegan(CallEvent):
    type: ClassVar[str] = "call_started"
    connector: str
    route: str = ""  # what the route matched (called number / connector), "" for the default
    scenario: str = "menu"


@dataclass(frozen=True, slots=True, kw_only=True)
class BotSaid(CallEvent):
    type: ClassVar[str] = "say"
    text: str
    key: str = ""  # the responses.yml name, e.g. "utter_ask_article"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerNameSet(CallEvent):
    type: ClassVar[str] = "set_caller_name"
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerSaid(CallEvent):
    type: ClassVar[str] = "caller_said"
    text: str  # the words (speech, typed text) or the digits (keys)
    intent: str = ""
    confidence: float = 0.0
    source: str = "speech"  # "speech" | "keys" | "text" (typed in the console)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
            "source": self.source,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSaved(CallEvent):
    """A finished order on disk (``draft``: the confirmed items so far, saved at once)."""

    type: ClassVar[str] = "order"
    order_id: int
    status: str
    caller: str
    called: str
    call_time: str  # ISO 8601, seconds
    items: tuple[dict[str, Any], ...] = ()
    email: str = "queued"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "status": self.status,
            "caller": self.caller,
            "called": self.called,
            "call_time": self.call_time,
            "items": [dict(i) for i in self.items],
            "order_id": self.order_id,
            "email": self.email,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftSaved(OrderSaved):
    type: ClassVar[str] = "draft"
    email: str = ""

    def to_json(self) -> dict[str, Any]:
        data = OrderSaved.to_json(self)
        data.pop("email")
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFailed(CallEvent):
    """Saving the order failed; the caller is handed to a person, the order kept aside."""

    type: ClassVar[str] = "order_failed"
    reason: str  # the error's name (no text: it may carry personal data)
    draft: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailReported(CallEvent):
    type: ClassVar[str] = "email"
    order_id: int
    status: str  # "sent" | "pending"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transferred(CallEvent):
    type: ClassVar[str] = "transfer"
    target: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HungUp(CallEvent):
    type: ClassVar[str] = "hangup"
    by: str = "bot"  # "bot" | "caller"

    def to_json(self) -> dict[str, Any]:
        # the bot's hang-up was printed as {"type": "hangup"} before: keep it so
        return {"type": self.type} if self.by == "bot" else {"type": self.type, "by": self.by}


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(CallEvent):
    type: ClassVar[str] = "call_ended"
    reason: str  # caller_hangup | bot_hangup | transfer:<reason> | idle | error | …
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "reason": self.reason, "seconds": round(self.seconds, 3)}


@dataclass(slots=True)
class TurnTiming:
    """The figures of one caller turn, in seconds (see :mod:`bot.session`)."""

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
    early: bool = False  # answered during a pause (early end of turn), not after the window

    def to_json(self) -> dict[str, Any]:
        return {
            k: round(v, 4) if isinstance(v, float) else v
            for k, v in dataclasses.asdict(self).items()
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnTimed(CallEvent):
    type: ClassVar[str] = "turn"
    timing: TurnTiming

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **self.timing.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class BargedIn(CallEvent):
    type: ClassVar[str] = "barge_in"
    latency_s: float  # the caller's voice onset ➜ the bot's audio stopped

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "latency_s": round(self.latency_s, 4)}


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptReplayed(CallEvent):
    """A barge-in that was only a noise (it transcribed as nothing): the cut prompt again."""

    type: ClassVar[str] = "prompt_replayed"
    reason: str = "false_barge_in"


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineFailed(CallEvent):
    type: ClassVar[str] = "engine_failed"
    engine: str  # "asr" | "tts"
    reason: str  # "timeout" | "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class NluFellBack(CallEvent):
    """``nlu.engine: rasa``: Rasa did not answer this turn; the embedded model parsed it."""

    type: ClassVar[str] = "nlu_fallback"
    engine: str = "rasa"
    reason: str = "timeout"  # "timeout" | "error" | "bad_answer"


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(CallEvent):
    """The voice session's state: ``listening`` (the caller's turn), ``thinking``
    (recognising and deciding), ``speaking`` (the bot's audio goes out)."""

    type: ClassVar[str] = "state"
    state: str


Subscriber = Callable[[CallEvent], None]


class EventBus:
    """Synchronous fan-out of one call's events to its subscribers, in order.

    :meth:`publish` stamps each event with the call id and the call time (seconds since the
    bus was made, on the monotonic clock). A subscriber that raises is logged; the call goes
    on and the other subscribers still get the event.
    """

    def __init__(self, call_id: str = "", started: float | None = None) -> None:
        self.call_id = call_id
        self.started = time.monotonic() if started is None else started
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def now(self) -> float:
        """Seconds since the call started."""
        return time.monotonic() - self.started

    def publish(self, event: CallEvent) -> CallEvent:
        event = dataclasses.replace(event, call_id=self.call_id, t=round(self.now(), 3))
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("an event subscriber failed", extra={"call_id": self.call_id})
        return event
