"""The pure call-back dialog: greeting then transfer; a failed transfer goes to voicemail when
the rule has it, else an apology and a hang-up; a voicemail rule goes there at once; the
employee-first leg is transferred to the client; the leg takes no input."""

from __future__ import annotations

from dialogs.actions import CallerHungUp, CallStarted, HandOff, Hangup, KeysPressed, Say, Transfer
from dialogs.callback import REASON, VOICEMAIL, CallbackDialog, CallbackScript
from dialogs.context import CallContext

CONTEXT = CallContext("cb-1", "9161234567", "74951234567", connector="sip")


async def test_client_first_greets_and_transfers() -> None:
    dialog = CallbackDialog(CONTEXT, CallbackScript("client", "sales", "Вы звонили в магазин."))
    actions = await dialog.step(CallStarted())
    assert actions == [
        Say("Вы звонили в магазин.", "utter_callback_greeting", False),
        Transfer("sales", REASON),
    ]
    assert await dialog.step(KeysPressed("1")) == []
    assert not dialog.ended
    assert await dialog.step(CallerHungUp()) == [] and dialog.ended


async def test_a_failed_transfer_goes_to_voicemail_when_the_rule_has_it() -> None:
    script = CallbackScript("client", "101", "Здравствуйте!", voicemail=True,
                            voicemail_greeting="Оставьте сообщение.")  # fmt: skip
    dialog = CallbackDialog(CONTEXT, script)
    await dialog.step(CallStarted())
    actions = await dialog.step(HandOff("transfer_failed"))
    assert actions == [
        Say("Оставьте сообщение.", "utter_callback_voicemail", False),
        Transfer(VOICEMAIL, VOICEMAIL),
    ]
    assert dialog.in_voicemail and dialog.ended
    assert await dialog.step(HandOff("recorded")) == [Hangup()]


async def test_without_voicemail_an_apology_and_a_hang_up() -> None:
    dialog = CallbackDialog(CONTEXT, CallbackScript("client", "101", "Здравствуйте!"))
    await dialog.step(CallStarted())
    actions = await dialog.step(HandOff("transfer_failed"))
    assert isinstance(actions[0], Say) and actions[0].key == "utter_callback_sorry"
    assert actions[1:] == [Hangup()] and dialog.ended


async def test_voicemail_rule_and_employee_first() -> None:
    straight = CallbackScript("client", "", "", voicemail_greeting="Говорите.",
                              straight_to_voicemail=True)  # fmt: skip
    actions = await CallbackDialog(CONTEXT, straight).step(CallStarted())
    assert actions[-1] == Transfer(VOICEMAIL, VOICEMAIL)
    employee = CallbackScript("employee", "sip:89161234567@pbx", "Перезвон клиенту.")
    actions = await CallbackDialog(CONTEXT, employee).step(CallStarted())
    assert actions[-1] == Transfer("sip:89161234567@pbx", REASON)
