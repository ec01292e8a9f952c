"""Missed calls for the console's tests, written through the real store
(:class:`bot.missed.store.MissedCallStore`) at times relative to now in the shop's zone.

    ids = await seed_missed(host.shop.db, ZONE)
    ids["queue_today"]   # the id of today's call missed in the queue «sales», …
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from bot.journal.ogg_opus import OggOpusWriter
from bot.journal.recorder import RecordingInfo
from bot.missed import statuses
from bot.missed.store import MissedCallStore
from bot.missed.voicemail import VoiceMessages
from connectors.shop.database import ShopDatabase

ZONE = ZoneInfo("Europe/Moscow")

# key: (days ago, hour, caller, called, source kind, source, wait s, intake)
CALLS = {
    "queue_today": (0, 0, "9161234567", "4951112233", "queue", "sales", 35.0, "ami"),
    "ext_today": (0, 0, "9035677876", "103", "extension", "103", 12.0, "http"),
    "number_yesterday": (1, 12, "9260001122", "4952223344", "number", "4952223344", 50.0, "telphin"),  # noqa: E501
    "queue_3days": (3, 15, "9099999999", "4951112233", "queue", "sales", 5.0, "ami"),
    "bot_20days": (20, 10, "9161230000", "4951112233", "bot", "operator", 20.0, "bot"),
    "old_40days": (40, 10, "", "4951112233", "queue", "support", 70.0, "http"),
}  # fmt: skip
# what happened next to each (the call-back part sets these in real life)
IN_WEEK = ["ext_today", "queue_today", "number_yesterday", "queue_3days"]  # newest first


def when(days_ago: int, hour: int, zone: tzinfo, now: datetime) -> datetime:
    """``days_ago`` local days back at ``hour``; today's calls a few minutes before now (and
    after midnight, whenever the test runs)."""
    if days_ago == 0:
        midnight = datetime(now.year, now.month, now.day, tzinfo=zone)
        return max(now - timedelta(minutes=5), midnight + timedelta(seconds=1))
    day = (now - timedelta(days=days_ago)).date()
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=zone)


async def seed_missed(db: ShopDatabase, zone: tzinfo = ZONE) -> dict[str, int]:
    store = MissedCallStore(db)
    now = datetime.now(zone)
    ids: dict[str, int] = {}
    for key, (days, hour, caller, called, kind, source, wait, intake) in CALLS.items():
        at = when(days, hour, zone, now)
        if key == "ext_today":
            at = max(now - timedelta(minutes=2), at + timedelta(seconds=1))  # the newest
        call = await store.add(
            missed_at=at,
            caller=caller,
            called=called,
            source_kind=kind,
            source=source,
            wait_s=wait,
            intake=intake,
            external_id=f"pbx-{key}",
        )
        assert call is not None
        ids[key] = call.id
    ext = ids["ext_today"]
    # what the call-back scheduler writes (bot/missed/scheduler.py, dialer.py)
    await store.set_status(ext, statuses.CALLING, {"event": "callback", "attempt": 1})
    await store.set_status(
        ext, statuses.CALLED_BACK,
        {"event": "callback", "outcome": "connected", "first": "client", "target": "103",
         "sip_status": 200, "transfer": "transferred"},
    )  # fmt: skip
    yesterday = ids["number_yesterday"]
    await store.set_status(yesterday, statuses.CALLING, {"event": "callback", "attempt": 1})
    await store.set_status(
        yesterday, statuses.FAILED,
        {"event": "callback", "outcome": "busy", "sip_status": 486,
         "next_at": (now + timedelta(minutes=10)).isoformat()},
    )  # fmt: skip
    assert await store.mark_client_called("9099999999", now) == 1
    await store.set_status(ids["bot_20days"], statuses.CALLING, {"attempt": 1})
    return ids


async def seed_voicemail(
    db: ShopDatabase, folder: Path, ids: dict[str, int], zone: tzinfo = ZONE
) -> dict[str, int]:
    """Three voice messages (real Ogg/Opus files, a tone where the client speaks): today on
    the call-back of ``ext_today`` (2.5 s), yesterday on ``number_yesterday`` and 10 days
    ago without a missed call."""
    messages = VoiceMessages(db, folder)
    now = datetime.now(zone)
    made: dict[str, int] = {}
    plan = {
        "today": (now - timedelta(minutes=1), "9035677876", "103", ids["ext_today"], 2.5),
        "yesterday": (when(1, 13, zone, now), "9260001122", "4952223344",
                      ids["number_yesterday"], 1.5),
        "old": (when(10, 9, zone, now), "9161112233", "4951112233", None, 1.0),
    }  # fmt: skip
    for key, (at, caller, called, missed_id, seconds) in plan.items():
        relative = f"{at:%Y/%m/%d}/{at:%H%M%S}-{key}.opus"
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(int(seconds * 8000)) / 8000
        left = (np.sin(2 * np.pi * 220 * t) * 9000).astype(np.int16)
        writer = OggOpusWriter(path, 8000)
        writer.write(np.stack([left, np.zeros_like(left)], axis=1))
        writer.close()
        info = RecordingInfo(path, relative, path.stat().st_size, seconds, True)
        message = await messages.add(
            info, caller=caller, called=called, missed_id=missed_id, rule="Продажи",
            call_id=f"cb-{key}", recorded_at=at,
        )  # fmt: skip
        made[key] = message.id
    return made
