"""The call-back dialog (the missed-call manual): what the bot says and does on a call-back leg.

Pure: no sockets, no database; the front end (:mod:`bot.missed.callback_call`) runs it with
the one action runner over the outbound SIP leg and tells it what happened.

Client first (the bot called the client): «Вы звонили в магазин …» (the rule's greeting),
then a transfer to the rule's target (a queue, an employee, the dispatcher's employees).
When the transfer fails or the client waits longer than the rule allows (the front end's
``HandOff("transfer_failed")`` / ``HandOff("wait_exceeded")``): voicemail if the rule has it
(the voicemail greeting, then a transfer to :data:`VOICEMAIL`, which the front end records),
else an apology and a hang-up. A rule whose target is voicemail goes there at once.

Employee first (the bot called the employee): a short notice for the employee, then a
transfer of the employee to the client's number (the PBX places that call).
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.actions import (
    Action,
    CallerHungUp,
    CallStarted,
    Event,
    HandOff,
    Hangup,
    Say,
    Transfer,
)
from dialogs.config import DialogSettings
from dialogs.context import CallContext
from dialogs.expect import Expect

VOICEMAIL = "voicemail"  # the transfer target the front end records a message for
REASON = "callback"
SORRY = "К сожалению, сейчас не удалось соединить вас с сотрудником. Мы перезвоним позже."
EMPLOYEE_NOTICE = "Перезвон клиенту по пропущенному вызову. Соединяю."


@dataclass(frozen=True, slots=True)
class CallbackScript:
    """What one call-back leg says and where it goes (from the rule and the settings)."""

    first: str  # client | employee
    target: str  # client first: the queue / extension / URI; employee first: the client
    greeting: str  # client first: «Вы звонили в …»; employee first: the notice
    voicemail: bool = False  # the rule sends a client to voicemail when the wait is too long
    voicemail_greeting: str = ""
    straight_to_voicemail: bool = False  # the rule's target is voicemail


class CallbackDialog:
    """The policy of a call-back leg (the runner's :class:`~bot.action_runner.Policy`)."""

    def __init__(
        self, context: CallContext, script: CallbackScript, settings: DialogSettings | None = None
    ) -> None:
        self._context = context
        self.script = script
        self._settings = settings or DialogSettings(scenario="menu")
        self._ended = False
        self.in_voicemail = False

    @property
    def context(self) -> CallContext:
        return self._context

    @property
    def settings(self) -> DialogSettings:
        return self._settings

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def expect(self) -> Expect:
        return "menu"

    async def step(self, event: Event) -> list[Action]:
        script = self.script
        if isinstance(event, CallStarted):
            if script.straight_to_voicemail:
                return self._voicemail()
            return [Say(script.greeting, "utter_callback_greeting", False), self._go()]
        if isinstance(event, HandOff):
            if self.in_voicemail:  # the message is recorded (or the recording failed)
                self._ended = True
                return [Hangup()]
            if script.first == "client" and script.voicemail:
                return self._voicemail()
            self._ended = True
            return [Say(SORRY, "utter_callback_sorry", False), Hangup()]
        if isinstance(event, CallerHungUp):
            self._ended = True
            return []
        return []  # the leg takes no input: keys and words change nothing

    def _go(self) -> Transfer:
        return Transfer(self.script.target, REASON)

    def _voicemail(self) -> list[Action]:
        self.in_voicemail = True
        self._ended = True
        return [
            Say(self.script.voicemail_greeting, "utter_callback_voicemail", False),
            Transfer(VOICEMAIL, VOICEMAIL),
        ]
