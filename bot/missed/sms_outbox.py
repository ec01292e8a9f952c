"""Case 3: the SMS decision for each missed call, and the outbox that sends it.

**The decision** (:meth:`SmsOutbox.decide`, subscribed to the intake as
:meth:`SmsOutbox.on_missed`) is taken once per missed call and stored with its reason in
``sms_messages`` (:mod:`bot.missed.sms_queue`):

1. no caller number (hidden or shorter than 10 digits) ➜ skipped, ``no_number``;
2. no rule of ``sms.rules_file`` for the called number / queue / extension ➜ ``no_rule``;
3. the caller's last SMS (sent, or queued and not given up) went out less than
   ``sms.once_per_hours`` before **this call's time** ➜ ``recent_sms``. The boundary is
   inclusive on the sending side: ``call - last >= once_per_hours`` sends, so with 24 h a
   call 23 h 59 min after the last SMS is skipped and one exactly 24 h after it gets one;
4. otherwise the rule's text is queued for ``<country_code><10 digits>`` (``rule``).

The per-caller check and the insert are one transaction (a per-caller advisory lock on
PostgreSQL; SQLite's write transactions are serial), so two workers deciding for the same
caller at once still queue one SMS; a second decision for the same missed call returns the
first (``missed_call_id`` is unique).

**Delivery** (:meth:`SmsOutbox.deliver_due`, looped by :meth:`SmsOutbox.run`) claims due rows
(``sending`` is committed before the gateway is asked), sends, and records the outcome:
accepted ➜ ``sent``; temporary (gateway down, busy) ➜ ``pending`` again after
``min(max_delay, base_delay * 2 ** (attempts - 1))``, until ``max_attempts`` or
``max_age_hours`` ➜ ``failed``; refused ➜ ``failed``; maybe sent ➜ ``uncertain``, never again.
So an SMS is sent at most once; a crash while sending leaves it ``uncertain``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa

from bot.missed import sms_queue as q
from bot.missed.sms_queue import SmsRecord
from bot.missed.sms_rules import RulesFile, SmsRules
from bot.missed.sms_settings import SmsSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.outbox import describe_error
from connectors.shop.phone import phone10
from connectors.shop.schema import parse_time, utc, utc_text
from connectors.sms import LogGateway, SmsError, SmsGateway

log = logging.getLogger(__name__)
LOCK_RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8)  # a decision locked out, before the next try

NO_NUMBER, NO_RULE, RECENT_SMS, RULE = "no_number", "no_rule", "recent_sms", "rule"
REASONS = (NO_NUMBER, NO_RULE, RECENT_SMS, RULE)


class MissedCallLike(Protocol):
    """What the decision reads of a missed call (``bot.missed.store.MissedCall``)."""

    @property
    def id(self) -> int: ...
    @property
    def missed_at(self) -> datetime | str: ...
    @property
    def caller(self) -> str: ...
    @property
    def called(self) -> str: ...
    @property
    def source_kind(self) -> str: ...
    @property
    def source(self) -> str: ...


def make_gateway(settings: SmsSettings) -> SmsGateway:
    """The gateway named by ``sms.gateway``."""
    max_parts = max(1, -(-settings.max_text_chars // 67))
    if settings.gateway == "kannel":
        from connectors.sms.kannel import KannelGateway

        return KannelGateway(settings.kannel, max_parts=max_parts)
    if settings.gateway == "smpp":
        from connectors.sms.smpp import SmppGateway

        return SmppGateway(settings.smpp, max_parts=max_parts)
    return LogGateway()


class SmsOutbox:
    def __init__(
        self,
        db: ShopDatabase,
        settings: SmsSettings,
        gateway: SmsGateway | None = None,
        *,
        rules: RulesFile | None = None,
        batch_size: int = 20,
    ) -> None:
        self._db = db
        self._settings = settings
        self._gateway = gateway or make_gateway(settings)
        self._rules = rules or RulesFile(settings.rules_file, settings.max_text_chars)
        self._batch_size = batch_size
        self._token = uuid.uuid4().hex
        self._lock = asyncio.Lock()

    @classmethod
    def for_server(cls, settings: SmsSettings, db: ShopDatabase) -> SmsOutbox:
        """The outbox ``bot serve`` runs: the gateway's secrets are masked in every log."""
        from bot.logs import add_secrets

        add_secrets(settings.kannel.password, settings.smpp.password)
        return cls(db, settings)

    @property
    def gateway(self) -> SmsGateway:
        return self._gateway

    def rules(self) -> SmsRules:
        return self._rules.current()

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1, 2, …)."""
        s = self._settings
        exponent = min(max(attempts - 1, 0), 40)
        return timedelta(seconds=min(s.max_delay, s.base_delay * 2**exponent))

    # --- the decision ----------------------------------------------------------------

    async def on_missed(self, call: MissedCallLike) -> None:
        """The intake's listener: decide for ``call`` (errors are the intake's to log)."""
        await self.decide(
            missed_call_id=call.id,
            caller=call.caller,
            called=call.called,
            source_kind=call.source_kind,
            source=call.source,
            missed_at=call.missed_at,
        )

    async def decide(
        self,
        *,
        missed_call_id: int | None,
        caller: str,
        called: str,
        source_kind: str,
        source: str,
        missed_at: datetime | str,
        now: datetime | None = None,
    ) -> SmsRecord:
        """Decide (once) whether this missed call gets an SMS; store and return the row."""
        call_at = parse_time(missed_at) if isinstance(missed_at, str) else missed_at
        if call_at.tzinfo is None:
            raise ValueError("missed_at must be time zone aware")
        key = phone10(caller or "") or ""
        rules = await asyncio.to_thread(self.rules)  # a changed file is read off the loop
        rule = rules.choose(called or "", source_kind or "", source or "")
        window = timedelta(hours=self._settings.once_per_hours)
        decided = utc(now)
        s = self._settings

        def _decide(conn: sa.Connection) -> SmsRecord:
            if missed_call_id is not None:
                existing = q.by_missed_call(conn, missed_call_id)
                if existing is not None:
                    return existing
            values = {
                "missed_call_id": missed_call_id,
                "caller": key,
                "called": (called or "")[:64],
                "source": (source or "")[:80],
                "rule": rule.name if rule else "",
                "text": "",
                "decision": "skip",
                "state": q.SKIPPED,
                "decided_at": utc_text(decided),
                "gateway": s.gateway,
            }
            if not key:
                values["reason"] = NO_NUMBER
            elif rule is None:
                values["reason"] = NO_RULE
            else:
                q.lock_caller(conn, key)
                last = q.last_counted(conn, key)
                if last is not None and call_at - last < window:
                    values["reason"] = RECENT_SMS
                else:
                    values.update(
                        reason=RULE,
                        decision="send",
                        state=q.PENDING,
                        text=rule.text,
                        to_number=s.country_code + key,
                        next_attempt_at=utc_text(decided),
                    )
            sms_id = q.insert(conn, values)
            record = q.get(conn, sms_id)
            assert record is not None
            return record

        try:
            record = await self._write_decision(_decide)
        except sa.exc.IntegrityError:  # the same missed call decided by another worker
            if missed_call_id is None:
                raise
            found = await self._db.read(lambda conn: q.by_missed_call(conn, missed_call_id))
            if found is None:
                raise
            record = found
        log.info(
            "SMS decision",
            extra={
                "sms_id": record.id,
                "missed_call_id": missed_call_id,
                "decision": record.decision,
                "reason": record.reason,
                "rule": record.rule,
            },
        )
        return record

    async def _write_decision(self, work: Callable[[sa.Connection], SmsRecord]) -> SmsRecord:
        """One decision's transaction, tried again while another decision for the caller holds
        the lock (one attempt waits ``write_busy_timeout``, 0.25 s): decided now, not by the
        next catch-up a minute later."""
        for delay in LOCK_RETRY_DELAYS_S:
            try:
                return await self._db.write(work)
            except sa.exc.OperationalError as exc:
                log.info("SMS decision waits for a lock", extra={"why": type(exc.orig).__name__})
                await asyncio.sleep(delay)
        return await self._db.write(work)

    # --- delivery --------------------------------------------------------------------

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Send every SMS due at ``now`` (default: now); return how many were accepted."""
        async with self._lock:
            moment = utc(now)
            s = self._settings
            too_old = moment - timedelta(hours=s.max_age_hours)
            lost, old = await self._db.write(lambda conn: q.expire(conn, moment, too_old))
            if lost or old:
                log.warning("SMS outbox: rows given up", extra={"uncertain": lost, "too_old": old})
            sent = 0
            while True:
                claimed = await self._db.write(
                    lambda conn: q.claim(
                        conn,
                        now=moment,
                        lease_until=moment + timedelta(seconds=s.lease_s),
                        limit=self._batch_size,
                        token=self._token,
                    )
                )
                if not claimed:
                    return sent
                for message in claimed:
                    if await self._deliver_one(message, moment):
                        sent += 1

    async def _deliver_one(self, message: q.Claimed, now: datetime) -> bool:
        s = self._settings
        try:
            receipt = await self._gateway.send(message.to_number, message.text, s.sender)
        except SmsError as exc:
            error = describe_error(exc)
            values: dict[str, object] = {"last_error": error}
            if exc.uncertain:
                values["state"] = q.UNCERTAIN
            elif exc.retry and message.attempts < s.max_attempts:
                values.update(
                    state=q.PENDING, next_attempt_at=utc_text(now + self.backoff(message.attempts))
                )
            else:
                values.update(state=q.FAILED, next_attempt_at=None)
            await self._db.write(lambda conn: q.finish(conn, message, **values))
            log.warning(
                "SMS not sent",
                extra={
                    "sms_id": message.id,
                    "attempts": message.attempts,
                    "state": values["state"],
                    "error": error,
                },
            )
            return False
        except Exception as exc:  # a bug in a gateway: maybe sent, never again
            error = describe_error(exc)
            await self._db.write(
                lambda conn: q.finish(conn, message, state=q.UNCERTAIN, last_error=error)
            )
            log.exception("SMS gateway failed unexpectedly", extra={"sms_id": message.id})
            return False
        await self._db.write(
            lambda conn: q.finish(
                conn,
                message,
                state=q.SENT,
                sent_at=utc_text(utc()),
                next_attempt_at=None,
                gateway=receipt.gateway,
                gateway_id=receipt.message_id[:200] or None,
                parts=receipt.parts,
                last_error=None,
            )
        )
        return True

    async def catch_up(self, now: datetime | None = None) -> int:
        """Decide for the missed calls of the last ``sms.catch_up_minutes`` that have no
        decision yet (the listener failed: the database was down for a moment)."""
        since = utc(now) - timedelta(minutes=self._settings.catch_up_minutes)
        rows = await self._db.read(lambda conn: q.undecided(conn, since))
        for row in rows:
            await self.decide(
                missed_call_id=int(row.id),
                caller=row.caller,
                called=row.called,
                source_kind=row.source_kind,
                source=row.source,
                missed_at=row.missed_at,
                now=now,
            )
        if rows:
            log.warning("SMS decisions caught up", extra={"missed_calls": len(rows)})
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver due messages every ``sms.poll_interval`` seconds until ``stop`` is set;
        catch up missed decisions at the start and about once a minute."""
        loop = asyncio.get_running_loop()
        next_catch_up = loop.time()
        while not stop.is_set():
            try:
                if loop.time() >= next_catch_up:
                    next_catch_up = loop.time() + 60.0
                    await self.catch_up()
                await self.deliver_due()
            except Exception as exc:  # a database hiccup must not end the loop
                log.error("SMS outbox pass failed", extra={"error": describe_error(exc)})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.poll_interval):
                    await stop.wait()
        await self._gateway.close()

    # --- for the pages and tests -----------------------------------------------------

    async def get(self, sms_id: int) -> SmsRecord | None:
        return await self._db.read(lambda conn: q.get(conn, sms_id))

    async def for_missed_call(self, missed_call_id: int) -> SmsRecord | None:
        return await self._db.read(lambda conn: q.by_missed_call(conn, missed_call_id))

    async def for_missed_calls(self, ids: list[int]) -> dict[int, SmsRecord]:
        return await self._db.read(lambda conn: q.for_missed_calls(conn, ids))

    async def messages(
        self, limit: int = 50, offset: int = 0, states: tuple[str, ...] = ()
    ) -> list[SmsRecord]:
        return await self._db.read(
            lambda conn: q.listing(conn, limit=limit, offset=offset, states=states)
        )

    async def counts(self) -> dict[str, int]:
        return await self._db.read(q.counts)
