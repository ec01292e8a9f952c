"""Prometheus metrics, fed from the call events (``GET /metrics``, text format).

:class:`CallMetrics` is a subscriber of every call's event bus (voice sessions, Telphin
requests); it keeps no counters of its own beside the Prometheus ones. The outbox gauge is
the one figure that is not a call event: the server sets it from the database every few
seconds. Labels are bounded sets (connector, end reason, order status, handoff reason,
engine), never a number, a name or a call id.

| metric | type | labels |
|---|---|---|
| ``bot_calls_active`` | gauge | ``connector`` |
| ``bot_calls_total`` | counter | ``connector``, ``reason`` (how the call ended) |
| ``bot_turn_gap_seconds`` | histogram | ``connector`` — caller's last voice ➜ bot's first frame |
| ``bot_end_of_phrase_wait_seconds`` | histogram | ``connector`` |
| ``bot_asr_seconds`` / ``bot_tts_seconds`` | histogram | ``connector`` |
| ``bot_orders_total`` | counter | ``status`` (finished orders) |
| ``bot_order_failures_total`` | counter | ``stage`` (``draft`` / ``final``) |
| ``bot_handoffs_total`` | counter | ``reason`` |
| ``bot_barge_ins_total`` | counter | ``connector`` |
| ``bot_engine_failures_total`` | counter | ``engine`` (``asr``/``tts``), ``reason`` |
| ``bot_recognition_timeouts_total`` | counter | — |
| ``bot_nlu_fallbacks_total`` | counter | ``engine`` (``rasa``), ``reason`` — embedded parse |
| ``bot_outbox_pending`` | gauge | — e-mails waiting to be sent |
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.events import (
    BargedIn,
    CallBegan,
    CallEnded,
    CallEvent,
    DraftSaved,
    EngineFailed,
    NluFellBack,
    OrderFailed,
    OrderSaved,
    Transferred,
    TurnTimed,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
GAP_BUCKETS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0)
ENGINE_BUCKETS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)


class CallMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.active = Gauge("bot_calls_active", "Calls in progress", ["connector"], registry=r)
        self.calls = Counter(
            "bot_calls", "Calls by how they ended", ["connector", "reason"], registry=r
        )
        self.gap = Histogram(
            "bot_turn_gap_seconds",
            "Caller's last voiced audio to the bot's first audio frame on the wire",
            ["connector"],
            buckets=GAP_BUCKETS,
            registry=r,
        )
        self.eop = Histogram(
            "bot_end_of_phrase_wait_seconds",
            "Caller's last voiced audio to the end-of-phrase decision",
            ["connector"],
            buckets=GAP_BUCKETS,
            registry=r,
        )
        self.asr = Histogram(
            "bot_asr_seconds", "Recognition time per phrase", ["connector"],
            buckets=ENGINE_BUCKETS, registry=r,
        )  # fmt: skip
        self.tts = Histogram(
            "bot_tts_seconds", "Synthesis time of a turn's first reply", ["connector"],
            buckets=ENGINE_BUCKETS, registry=r,
        )  # fmt: skip
        self.orders = Counter("bot_orders", "Finished orders by status", ["status"], registry=r)
        self.order_failures = Counter(
            "bot_order_failures", "Orders the database did not take", ["stage"], registry=r
        )
        self.handoffs = Counter(
            "bot_handoffs", "Transfers to a person by reason", ["reason"], registry=r
        )
        self.barge_ins = Counter(
            "bot_barge_ins", "Prompts cut off by the caller", ["connector"], registry=r
        )
        self.engine_failures = Counter(
            "bot_engine_failures", "Speech engine failures", ["engine", "reason"], registry=r
        )
        self.recognition_timeouts = Counter(
            "bot_recognition_timeouts", "Recognitions over voice.asr.timeout_s", registry=r
        )
        self.nlu_fallbacks = Counter(
            "bot_nlu_fallbacks", "Turns the embedded model parsed because Rasa did not answer",
            ["engine", "reason"], registry=r,
        )  # fmt: skip
        self.outbox_pending = Gauge(
            "bot_outbox_pending", "Order e-mails waiting to be sent", registry=r
        )
        self._connector: dict[str, str] = {}  # call id ➜ connector, while the call lasts

    def __call__(self, event: CallEvent) -> None:
        """The subscriber: one call event in."""
        connector = self._connector.get(event.call_id, "unknown")
        if isinstance(event, CallBegan):
            self._connector[event.call_id] = event.connector
            self.active.labels(event.connector).inc()
        elif isinstance(event, CallEnded):
            if self._connector.pop(event.call_id, None) is not None:
                self.active.labels(connector).dec()
            self.calls.labels(connector, event.reason).inc()
        elif isinstance(event, TurnTimed):
            self._turn(connector, event)
        elif isinstance(event, DraftSaved):
            pass  # a draft is the same order, not yet finished
        elif isinstance(event, OrderSaved):
            self.orders.labels(event.status).inc()
        elif isinstance(event, OrderFailed):
            self.order_failures.labels("draft" if event.draft else "final").inc()
        elif isinstance(event, Transferred):
            self.handoffs.labels(event.reason).inc()
        elif isinstance(event, BargedIn):
            self.barge_ins.labels(connector).inc()
        elif isinstance(event, EngineFailed):
            self.engine_failures.labels(event.engine, event.reason).inc()
            if event.engine == "asr" and event.reason == "timeout":
                self.recognition_timeouts.inc()
        elif isinstance(event, NluFellBack):
            self.nlu_fallbacks.labels(event.engine, event.reason).inc()

    def _turn(self, connector: str, event: TurnTimed) -> None:
        timing = event.timing
        if timing.source != "speech":
            return
        if timing.gap_s is not None:
            self.gap.labels(connector).observe(timing.gap_s)
        self.eop.labels(connector).observe(timing.eop_wait_s)
        self.asr.labels(connector).observe(timing.asr_s)
        if timing.tts_s:
            self.tts.labels(connector).observe(timing.tts_s)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
