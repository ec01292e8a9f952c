"""``python -m bot catalog import FILE.xlsx``, ``python -m bot outbox [--force]``,
``python -m bot db upgrade|current`` and ``python -m bot orders replay``.

:func:`add_shop_parsers` registers the ``outbox``, ``db`` and ``orders`` sub-commands on the
CLI's sub-parsers and :func:`dispatch_shop` runs them (``None`` for another command).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.config import Settings
from bot.shop_setup import open_shop
from connectors.shop import migrate
from connectors.shop.catalog_import import import_catalog


async def cmd_catalog_import(settings: Settings, path: Path) -> int:
    """Replace the whole catalog in one transaction; on any error the old one stays."""
    shop = await open_shop(settings)
    try:
        before = len(await shop.db.articles())
        print(f"importing {path} (the catalog now has {before} articles)…")
        count = await import_catalog(shop.db, path)
    finally:
        await shop.close()
    print(f"catalog replaced: {count} articles")
    return 0


async def cmd_outbox(settings: Settings, force: bool = False) -> int:
    """Send what is due (``force``: everything waiting, whatever its backoff); list the rest."""
    shop = await open_shop(settings)
    try:
        sent = await shop.outbox.deliver_due(force=force)
        entries = [e for e in await shop.db.outbox_entries() if e.sent_at is None]
    finally:
        await shop.close()
    print(f"sent {sent} e-mail(s); {len(entries)} still waiting")
    for e in entries:
        print(
            f"  order #{e.order_id}: {e.attempts} attempt(s), next at "
            f"{e.next_attempt_at:%Y-%m-%d %H:%M:%S}, last error: {e.last_error or '—'}"
        )
    if entries and not force:
        print("(python -m bot outbox --force sends them now, whatever the backoff)")
    return 0


def cmd_db(settings: Settings, action: str) -> int:
    """Bring the bot's tables to the newest schema, or show where the database stands."""
    return migrate.main(["--url", settings.shop.url, action])


async def cmd_orders_replay(settings: Settings) -> int:
    """Write the order journal into the database now and finish orphaned drafts."""
    shop = await open_shop(settings)
    try:
        assert shop.orders is not None
        waiting = await shop.orders.journal_pending()
        replayed = await shop.orders.replay_journal()
        recovered = await shop.orders.recover()
        left = await shop.orders.journal_pending()
    finally:
        await shop.close()
    print(
        f"journal: {waiting} waiting, {replayed} written, {left} left; "
        f"{len(recovered)} orphaned draft(s) finished"
    )
    return 0 if left == 0 else 1


def add_shop_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = commands.add_parser("outbox", help="show queued order e-mails and send them")
    outbox.add_argument(
        "--force", action="store_true", help="send every waiting e-mail now, ignoring the backoff"
    )
    db = commands.add_parser("db", help="the bot's tables in the shop database (migrations)")
    db.add_argument("db_command", choices=["upgrade", "current"], help="upgrade | current")
    orders = commands.add_parser("orders", help="orders kept in the local journal")
    orders.add_argument("orders_command", choices=["replay"], help="replay: write them now")


def dispatch_shop(args: argparse.Namespace, settings: Settings) -> int | None:
    if args.command == "outbox":
        return asyncio.run(cmd_outbox(settings, force=getattr(args, "force", False)))
    if args.command == "db":
        return cmd_db(settings, args.db_command)
    if args.command == "orders":
        return asyncio.run(cmd_orders_replay(settings))
    return None
