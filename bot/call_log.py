"""One call's transcript, built from its call events (a subscriber of the call's bus).

``to_json()`` is what the server writes per call (``server.transcripts_dir``) and what
``python -m bot call`` writes as ``transcript.json``: the events in the console's JSON shape
with their call time ``t``, the turn timings, barge-in latencies, the end reason and the
order ids. It holds personal data (the caller's words, number and name): it is written only
where the configuration says so and never logged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bot.events import (
    BargedIn,
    CallEnded,
    CallEvent,
    OrderSaved,
    StateChanged,
    TurnTimed,
    TurnTiming,
)


@dataclass(slots=True)
class CallLog:
    call_id: str
    connector: str
    started: float = field(default_factory=time.monotonic)
    turns: list[TurnTiming] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # what the bot heard and did
    barge_ins: list[float] = field(default_factory=list)  # onset ➜ playback stopped, seconds
    end_reason: str = ""
    order_ids: list[int] = field(default_factory=list)

    def record(self, event: CallEvent) -> None:
        if isinstance(event, StateChanged):
            return
        if isinstance(event, TurnTimed):
            self.turns.append(event.timing)
            return
        if isinstance(event, BargedIn):
            self.barge_ins.append(event.latency_s)
        elif isinstance(event, OrderSaved) and event.type == "order":
            self.order_ids.append(event.order_id)
        elif isinstance(event, CallEnded):
            self.end_reason = event.reason
        self.events.append({"t": event.t, **event.to_json()})

    def said(self) -> list[str]:
        """The response keys of what the bot said, in order."""
        return [e["key"] for e in self.events if e["type"] == "say"]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "connector": self.connector,
            "events": self.events,
            "turns": [t.to_json() for t in self.turns],
            "barge_ins": [round(b, 4) for b in self.barge_ins],
            "end_reason": self.end_reason,
            "order_ids": self.order_ids,
        }
