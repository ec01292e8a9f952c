"""The text console: play a whole call by typing (``python -m bot console``).

Typed lines are the caller's words; ``/dtmf 12#`` presses keys, ``/silence`` lets the
no-input timeout pass, ``/hangup`` ends the call, ``/help`` lists these. When stdin is not
a terminal, each line is one caller turn (end of input hangs up if the call is still on).
``--json`` prints one JSON call event per line (:mod:`bot.events`): ``call_started``,
``caller_said``, ``say``, ``set_caller_name``, ``order``, ``email``, ``transfer``, ``hangup``,
``call_ended``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from bot.call_context import console_context
from bot.config import Settings
from bot.conversation import TextConversation
from bot.events import EmailReported
from bot.orders import DurableOrders
from bot.shop_setup import Shop, load_language, open_shop
from bot.tools.mail_sink import start_mail_sink

log = logging.getLogger(__name__)
HELP = "/dtmf 12#  keys · /silence  no answer · /hangup  end the call · /help"


@dataclass(slots=True)
class ConsoleOptions:
    caller: str = "+79607775577"
    called: str = "78123098635"
    json: bool = False


def render(event: dict[str, Any]) -> str | None:
    """One human-readable line for an event (``None``: nothing worth a line)."""
    kind = event["type"]
    if kind == "call_started":
        return None
    if kind == "caller_said":
        if event["source"] == "keys":
            return None
        return f"  [understood: {event['intent']} ({event['confidence']:.2f})]"
    if kind == "call_ended":
        return f"  [call over: {event['reason']}]"
    if kind == "say":
        return f"бот: {event['text']}"
    if kind == "set_caller_name":
        return f"  [caller name for operators: {event['name']}]"
    if kind == "transfer":
        return f"  [transfer ➜ {event['target']} (reason: {event['reason']})]"
    if kind == "order":
        items = ", ".join(f"{i['article']} × {i['quantity']}" for i in event["items"]) or "—"
        return (
            f"  [order #{event['order_id']} saved, status «{event['status']}»: {items}; "
            "e-mail queued]"
        )
    if kind == "email":
        note = "" if event["status"] == "sent" else " (kept in the outbox: python -m bot outbox)"
        return f"  [e-mail for order #{event['order_id']}: {event['status']}{note}]"
    if kind == "hangup":
        return "  [the caller hung up]" if event.get("by") == "caller" else "  [call ended]"
    return f"  [{json.dumps(event, ensure_ascii=False)}]"


async def open_conversation(
    settings: Settings, shop: Shop, caller: str, called: str, sink: Any = None
) -> TextConversation:
    nlu, responses = await load_language(settings, shop)
    context = console_context(caller, called)
    orders = DurableOrders(shop.orders) if shop.orders is not None else None
    return TextConversation(
        context, nlu, shop.db, shop.ports, responses, settings.dialog, sink, orders, settings.rasa
    )


async def _next_line(stdin: TextIO, interactive: bool) -> str | None:
    """The caller's next turn, or ``None`` at the end of input."""
    if interactive:
        try:
            return await asyncio.to_thread(input, "вы> ")
        except EOFError:
            return None
    line = await asyncio.to_thread(stdin.readline)
    return line.rstrip("\n") if line else None


async def run_console(
    settings: Settings,
    options: ConsoleOptions,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> int:
    def show(event: dict[str, Any]) -> None:
        text = json.dumps(event, ensure_ascii=False) if options.json else render(event)
        if text is not None:
            stdout.write(text + "\n")
            stdout.flush()

    interactive = stdin.isatty() and not options.json
    sink = start_mail_sink(settings)
    shop = await open_shop(settings)
    if shop.orders is not None:
        await shop.orders.start()  # orders a crash left in the journal or as drafts
    try:
        conversation = await open_conversation(settings, shop, options.caller, options.called, show)
        if interactive:
            stdout.write(f"Text console · caller {options.caller} · {HELP}\n")
        await conversation.start()
        await _deliver(shop, conversation)
        while not conversation.ended:
            line = await _next_line(stdin, interactive)
            if line is None or not await _turn(conversation, line.strip(), stdout):
                break
            await _deliver(shop, conversation)
        if not conversation.ended:
            await conversation.hangup()
        await _deliver(shop, conversation)
        conversation.end()
    finally:
        await shop.close()
        if sink is not None:
            sink.stop()
    return 0


async def _turn(conversation: TextConversation, line: str, stdout: TextIO) -> bool:
    if not line:
        return True
    if not line.startswith("/"):
        await conversation.say(line)
        return True
    command, _, argument = line.partition(" ")
    if command == "/dtmf" and argument.strip():
        await conversation.keys(argument.strip())
    elif command == "/silence":
        await conversation.silence()
    elif command in ("/hangup", "/quit", "/exit"):
        await conversation.hangup()
        return False
    else:
        stdout.write(HELP + "\n")
    return True


async def _deliver(shop: Shop, conversation: TextConversation) -> None:
    """Send this call's queued e-mails now; if SMTP is down they stay in the outbox and
    ``python -m bot outbox`` (or the server's outbox worker) retries them with backoff."""
    pending = [i for i in conversation.order_ids if i not in conversation.reported]
    if not pending:
        return
    try:
        await shop.outbox.deliver_due()
    except Exception:  # the outbox keeps the message; report it as pending
        log.warning("e-mail delivery attempt failed", exc_info=True)
    waiting = {e.order_id for e in await shop.db.outbox_entries() if e.sent_at is None}
    for order_id in pending:
        sent = order_id not in waiting
        status = "sent" if sent else "pending"
        conversation.bus.publish(EmailReported(order_id=order_id, status=status))
        conversation.reported.add(order_id)
