"""A second bot process for the several-workers tests (run with ``python -m``).

python -m tests.connectors.shop.worker_process drain URL SMTP_PORT [--lease S] [--go FILE]
    drain the outbox until nothing is pending; print {"sent": N}
python -m tests.connectors.shop.worker_process draft URL JOURNAL
    write a draft order for call "call-1" through an OrderStore, print {"order_id": N},
    then wait to be killed (a crash with a call in progress)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from connectors.shop.database import ShopDatabase
from connectors.shop.mail import SmtpSettings
from connectors.shop.order_store import OrderStore
from connectors.shop.outbox import Outbox
from connectors.shop.records import OrderItem, OrderRecord
from connectors.shop.settings import OrderStoreSettings, ShopSettings

DRAFT = OrderRecord(
    caller="+79607775577",
    called="74951234567",
    call_time=datetime(2024, 5, 1, 14, 3, 22, tzinfo=timezone(timedelta(hours=3))),
    status="принят успешно",
    items=[OrderItem("123", "Ведро пластиковое 10 л", 2), OrderItem("007", "Губки", 5)],
)


async def drain(url: str, port: int, lease: float, go: Path | None, batch: int) -> int:
    db = await ShopDatabase.open(ShopSettings(url=url, migrate=False))
    try:
        outbox = Outbox(db, SmtpSettings(port=port, timeout=30.0), batch_size=batch, lease=lease)
        if go is not None:
            go.with_name(f"{go.name}.ready-{os.getpid()}").touch()  # up; the test waits for it
            deadline = time.monotonic() + 30
            while not go.exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        sent = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            sent += await outbox.deliver_due()
            if await outbox.pending() == 0:
                break
            await asyncio.sleep(0.05)
        print(json.dumps({"sent": sent}), flush=True)
        return 0
    finally:
        await db.close()


async def draft(url: str, journal: Path) -> int:
    db = await ShopDatabase.open(ShopSettings(url=url, migrate=False))
    store = OrderStore(db, OrderStoreSettings(journal=journal))
    order_id = await store.save_draft("call-1", DRAFT)
    print(json.dumps({"order_id": order_id, "worker": store.worker_id}), flush=True)
    await asyncio.sleep(3600)  # killed by the test
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    do_drain = commands.add_parser("drain")
    do_drain.add_argument("url")
    do_drain.add_argument("port", type=int)
    do_drain.add_argument("--lease", type=float, default=60.0)
    do_drain.add_argument("--go", type=Path)
    do_drain.add_argument("--batch", type=int, default=5)
    do_draft = commands.add_parser("draft")
    do_draft.add_argument("url")
    do_draft.add_argument("journal", type=Path)
    args = parser.parse_args(argv)
    if args.command == "drain":
        return asyncio.run(drain(args.url, args.port, args.lease, args.go, args.batch))
    return asyncio.run(draft(args.url, args.journal))


if __name__ == "__main__":
    sys.exit(main())
