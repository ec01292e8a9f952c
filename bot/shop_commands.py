"""``python -m bot catalog import FILE.xlsx`` and ``python -m bot outbox``."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.shop_setup import open_shop
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


async def cmd_outbox(settings: Settings) -> int:
    shop = await open_shop(settings)
    try:
        sent = await shop.outbox.deliver_due()
        entries = [e for e in await shop.db.outbox_entries() if e.sent_at is None]
    finally:
        await shop.close()
    print(f"sent {sent} e-mail(s); {len(entries)} still waiting")
    for e in entries:
        print(
            f"  order #{e.order_id}: {e.attempts} attempt(s), next at "
            f"{e.next_attempt_at:%Y-%m-%d %H:%M:%S}, last error: {e.last_error or '—'}"
        )
    return 0
