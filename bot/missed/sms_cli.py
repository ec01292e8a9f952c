"""``python -m bot sms …``: try the SMS gateway by hand, and see the SMS outbox.

    python -m bot sms send --to 79001234567 --text "Проверка"   # straight to sms.gateway
    python -m bot sms status                                    # rows per state, last 20

``send`` does not go through the outbox (no rule, no 24 h check, nothing stored): it is for
checking the gateway's settings. Exit code 0 when the gateway accepted the message, 1 when it
did not (the reason is printed), 2 for a bad number.
"""

from __future__ import annotations

import argparse
import asyncio

from bot.config import Settings


def add_sms_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sms = commands.add_parser("sms", help="SMS for missed calls: send a test SMS, outbox status")
    sub = sms.add_subparsers(dest="sms_command", required=True, metavar="SMS_COMMAND")
    send = sub.add_parser("send", help="send one SMS through sms.gateway (not stored)")
    send.add_argument("--to", required=True, help="digits with the country code: 79001234567")
    send.add_argument("--text", required=True)
    send.add_argument("--sender", default=None, help="default: sms.sender")
    sub.add_parser("status", help="the SMS outbox: rows per state and the last 20 decisions")


def cmd_sms(settings: Settings, args: argparse.Namespace) -> int:
    if args.sms_command == "send":
        return asyncio.run(_send(settings, args.to, args.text, args.sender))
    return asyncio.run(_status(settings))


async def _send(settings: Settings, to: str, text: str, sender: str | None) -> int:
    from bot.missed.sms_outbox import make_gateway
    from connectors.sms import SmsError

    gateway = make_gateway(settings.sms)
    digits = "".join(ch for ch in to if ch.isdigit())
    if not 7 <= len(digits) <= 15:
        print("error: --to must have 7 to 15 digits with the country code")
        return 2
    try:
        receipt = await gateway.send(
            digits, text, settings.sms.sender if sender is None else sender
        )
    except SmsError as exc:
        kind = "maybe sent" if exc.uncertain else "temporary" if exc.retry else "refused"
        print(f"not sent ({kind}): {exc}")
        return 1
    finally:
        await gateway.close()
    print(f"accepted by {receipt.gateway}: {receipt.parts} part(s) {receipt.detail}".rstrip())
    return 0


async def _status(settings: Settings) -> int:
    from bot.missed.sms_outbox import SmsOutbox
    from connectors.shop.database import ShopDatabase

    db = await ShopDatabase.open(settings.shop)
    try:
        outbox = SmsOutbox(db, settings.sms)
        counts = await outbox.counts()
        print(
            "SMS outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty")
        )
        for row in await outbox.messages(limit=20):
            when = row.decided_at.isoformat(timespec="seconds")
            tail = f" — {row.last_error}" if row.last_error else ""
            print(
                f"  #{row.id} {when} {row.decision}/{row.reason} {row.state} "
                f"rule «{row.rule}» attempts {row.attempts}{tail}"
            )
    finally:
        await db.close()
    return 0
