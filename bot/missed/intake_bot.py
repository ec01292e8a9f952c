"""The bot's own handoffs nobody took, as missed calls (intake ``bot``, source kind ``bot``).

:meth:`BotHandoffs.attach` subscribes to one voice call's events (as the journal does). The
call events say that the policy decided a transfer (``transfer``: target and reason); whether
the handoff then reached the target only the connector knows: it records a failure in
``transport.outcome.transfer_failed`` (:class:`~connectors.pbx.transport.CallOutcome`). The
SIP connector does (:mod:`connectors.pbx.sip_transfer`): ``refused`` (the PBX answered the
REFER with an error), ``timeout`` (no answer or no final NOTIFY in time), ``failed`` (a NOTIFY
with a failure, such as 486 or 487), ``caller_hangup`` (the caller hung up while the
transfer notice played). At ``call_ended`` such a call becomes a missed call:

- ``external_id`` and ``call_id``: the bot's call id; ``source``: the transfer target;
- ``wait_s``: from the transfer decision to the end of the call;
- ``details``: the outcome and the dialog's transfer reason.

Connectors that hand the call back to the PBX's dialplan (AudioSocket/FastAGI, Telphin Call
Interactive) cannot tell: there the PBX's own intake (AMI, HTTP, Telphin events) sees the
queue the caller went to.

With ``missed.bot_orders_answer`` a call in which the bot took an order counts as the caller
getting through: their open missed calls become «Клиент позвонил сам».
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.events import CallEnded, CallEvent, DraftSaved, OrderSaved, Subscriber, Transferred
from bot.missed.background import BackgroundTasks
from bot.missed.intake import RETRIES, MissedCallIntake, MissedReport
from connectors.pbx.transport import CallTransport
from dialogs.context import CallContext

if TYPE_CHECKING:
    from bot.session import CallSession

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _CallWatcher:
    handoffs: BotHandoffs
    context: CallContext
    transport: CallTransport
    target: str = ""
    reason: str = ""
    transferred_t: float | None = None
    order_id: int | None = None
    done: bool = False

    def __call__(self, event: CallEvent) -> None:
        if self.done:
            return
        if isinstance(event, Transferred):
            self.target, self.reason, self.transferred_t = event.target, event.reason, event.t
        elif isinstance(event, OrderSaved) and not isinstance(event, DraftSaved):
            self.order_id = event.order_id
        elif isinstance(event, CallEnded):
            self.done = True
            self.handoffs.call_ended(self, event)


class BotHandoffs:
    def __init__(self, intake: MissedCallIntake, *, orders_answer: bool = True) -> None:
        self.intake = intake
        self.orders_answer = orders_answer
        self._tasks = BackgroundTasks()

    def attach(self, session: CallSession) -> None:
        """Follow one voice call (before ``session.run()``)."""
        self.watch(session.context, session.transport, session.subscribe)

    def watch(
        self,
        context: CallContext,
        transport: CallTransport,
        subscribe: Callable[[Subscriber], None],
    ) -> None:
        """Follow one call given its context, transport and its bus's ``subscribe``."""
        subscribe(_CallWatcher(self, context, transport))

    def call_ended(self, watcher: _CallWatcher, event: CallEnded) -> None:
        context = watcher.context
        outcome = watcher.transport.outcome
        now = datetime.now(UTC)
        if watcher.transferred_t is not None and outcome.transfer_failed:
            report = MissedReport(
                intake="bot",
                external_id=context.call_id,
                caller=context.caller or context.caller_raw,
                called=context.called,
                source_kind="bot",
                source=watcher.target,
                wait_s=max(0.0, event.t - watcher.transferred_t),
                missed_at=now,
                call_id=context.call_id,
                details={
                    "outcome": outcome.transfer_failed,
                    "reason": watcher.reason,
                    "connector": context.connector,
                },
            )
            self._spawn(self.intake.missed(report, retries=RETRIES))
        elif watcher.order_id is not None and self.orders_answer and context.caller:
            detail = {"by": "bot", "order_id": watcher.order_id, "call_id": context.call_id}
            self._spawn(self.intake.answered(context.caller, now, detail, retries=RETRIES))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(self._guard(work), name="missed-bot")

    @staticmethod
    async def _guard(work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        except Exception:
            log.exception(
                "a bot handoff was not recorded as a missed call", extra={"intake": "bot"}
            )

    async def drain(self, timeout: float = 10.0) -> None:
        await self._tasks.drain(timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        await self._tasks.stop(timeout)
