"""The call journal's tables (migration 0004) on SQLite and a real PostgreSQL: up, down with
data in them, up again; the call store and the journal's queries on both backends."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.events import BotSaid, CallBegan, CallEnded, CallerSaid, EventBus, Transferred
from bot.journal import queries
from bot.journal.figures import figures
from bot.journal.queries import Filters, Scope
from bot.journal.settings import JournalSettings
from bot.journal.store import CallStore
from connectors.shop import migrate
from connectors.shop.database import ShopDatabase
from dialogs.context import CallContext
from tests.connectors.shop.conftest import count_rows
from tests.connectors.shop.test_shop_migrations import _differences

JOURNAL_TABLES = {"bot_calls", "bot_call_events", "bot_call_turns"}


def _columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def test_journal_tables_up_down_and_up_again(empty_url: str) -> None:
    assert migrate.upgrade(empty_url) == migrate.head_revision()
    engine = sa.create_engine(empty_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) >= JOURNAL_TABLES
        assert "extension" in _columns(engine, "admin_users")
        assert _differences(engine) == []
        with engine.begin() as conn:  # data in the tables the downgrade touches
            conn.execute(
                sa.text(
                    "INSERT INTO admin_users (name, role, password_hash, created_at, extension)"
                    " VALUES ('maria', 'manager', 'x', '2024', '103')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO bot_calls (id, call_id, started_at) VALUES ('k1', 'c1', '2024')"
                )
            )
            conn.execute(
                sa.text("INSERT INTO bot_call_events (call, seq, t, type) VALUES ('k1', 1, 0, 'x')")
            )
        migrate.downgrade_engine(engine, "0003")
        assert migrate.current_revision(engine) == "0003"
        assert not JOURNAL_TABLES & set(sa.inspect(engine).get_table_names())
        assert "extension" not in _columns(engine, "admin_users")
        assert count_rows(engine, "admin_users") == 1, "the accounts stay"
        assert migrate.upgrade_engine(engine) == migrate.head_revision()
        assert _differences(engine) == []
    finally:
        engine.dispose()


async def test_the_store_and_the_journal_on_both_backends(db: ShopDatabase) -> None:
    store = CallStore(db, JournalSettings(flush_s=0.02))
    store.start()
    started = datetime.now().astimezone()
    for number, target in enumerate(("103", "PJSIP/103", "104")):
        context = CallContext(f"c{number}", f"916123456{number}", "7812", started, "asterisk")
        bus = EventBus(context.call_id)
        bus.subscribe(store.open_call(context))
        bus.publish(CallBegan(connector="asterisk"))
        bus.publish(CallerSaid(text="сто сорок два", intent="give_article", confidence=0.35))
        bus.publish(BotSaid(text="Не понял", key="utter_article_not_found"))
        bus.publish(Transferred(target=target, reason="article_not_recognized"))
        bus.publish(CallEnded(reason="transfer:article_not_recognized", seconds=9.0))
    await store.flush()
    await store.stop()
    zone = queries.zone_of("Europe/Moscow")
    everything = await queries.list_calls(db, Filters(period="today"), Scope(), zone, limit=10)
    assert everything.total == 3
    own = await queries.list_calls(db, Filters(period="all"), Scope("103"), zone, limit=10)
    assert sorted(c.handoff_target for c in own.calls) == ["103", "PJSIP/103"]
    fragment = await queries.list_calls(db, Filters(number="34561"), Scope(), zone, limit=10)
    assert [c.caller for c in fragment.calls] == ["9161234561"]
    data = await figures(db, Filters(period="today"), Scope(), zone)
    assert data.calls == 3 and data.outcomes["transfer"] == 3 and data.hourly
    assert data.missed == [("сто сорок два", 6)]
    assert data.confidence_bins[3] == 3
