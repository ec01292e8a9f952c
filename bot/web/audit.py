"""The audit log (who, when, what, before/after) and the history of every version written.

Every change made in the console is one :meth:`AuditLog.record` row, shown to admins as the
«журнал действий». Every version of a file the console writes (``nlu.yml``, ``responses.yml``,
``managers.txt``) and of the catalog is kept gzipped in ``admin_history`` (the newest
``admin.history_keep`` per kind), so any earlier version can be brought back. Before the
first change of a kind the version in force is saved as «исходная версия».
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from connectors.shop.database import ShopDatabase
from connectors.shop.schema import admin_audit, admin_history, utc, utc_text

SUMMARY_MAX = 2000
KINDS = {
    "nlu": "Фразы и интенты (nlu.yml)",
    "responses": "Ответы бота (responses.yml)",
    "managers": "Персональные менеджеры (managers.txt)",
    "catalog": "Каталог",
}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: str
    user_name: str
    action: str
    target: str
    before: str
    after: str
    remote: str


@dataclass(frozen=True, slots=True)
class Version:
    id: int
    kind: str
    at: str
    user_name: str
    summary: str
    sha256: str


def _short(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class AuditLog:
    def __init__(self, db: ShopDatabase) -> None:
        self.db = db

    async def record(
        self,
        user: str,
        action: str,
        target: str = "",
        *,
        before: str = "",
        after: str = "",
        remote: str = "",
    ) -> None:
        row = {
            "at": utc_text(utc()),
            "user_name": user[:64],
            "action": action[:64],
            "target": target[:200],
            "before": _short(before),
            "after": _short(after),
            "remote": (remote or "")[:64],
        }
        await self.db.write(lambda conn: conn.execute(admin_audit.insert().values(**row)))

    async def entries(self, limit: int = 100, offset: int = 0, query: str = "") -> list[AuditEntry]:
        def _read(conn: sa.Connection) -> list[AuditEntry]:
            stmt = sa.select(admin_audit).order_by(admin_audit.c.id.desc())
            if query:
                like = f"%{query}%"
                t = admin_audit.c
                stmt = stmt.where(
                    sa.or_(t.user_name.like(like), t.action.like(like), t.target.like(like))
                )
            rows = conn.execute(stmt.limit(limit).offset(offset))
            return [AuditEntry(**dict(r._mapping)) for r in rows]

        return await self.db.read(_read)


class History:
    def __init__(self, db: ShopDatabase, keep: int) -> None:
        self.db = db
        self.keep = keep

    async def save(self, kind: str, content: bytes, user: str, summary: str) -> int:
        """Keep ``content`` as the newest version of ``kind``; the oldest beyond ``keep`` go."""
        packed = gzip.compress(content, compresslevel=6, mtime=0)
        row = {
            "kind": kind,
            "at": utc_text(utc()),
            "user_name": user[:64],
            "summary": summary[:500],
            "sha256": sha256(content),
            "content": packed,
        }

        def _save(conn: sa.Connection) -> int:
            result = conn.execute(admin_history.insert().values(**row))
            ids = conn.execute(
                sa.select(admin_history.c.id)
                .where(admin_history.c.kind == kind)
                .order_by(admin_history.c.id.desc())
                .offset(self.keep)
            ).scalars()
            stale = list(ids)
            if stale:
                conn.execute(admin_history.delete().where(admin_history.c.id.in_(stale)))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

        return await self.db.write(_save)

    async def ensure_baseline(self, kind: str, content: bytes) -> None:
        """Before the first change of ``kind``: keep what is in force as «исходная версия»."""
        if not await self.versions(kind, limit=1):
            await self.save(kind, content, "—", "исходная версия")

    async def versions(self, kind: str, limit: int = 100) -> list[Version]:
        def _read(conn: sa.Connection) -> list[Version]:
            t = admin_history.c
            stmt = (
                sa.select(t.id, t.kind, t.at, t.user_name, t.summary, t.sha256)
                .where(t.kind == kind)
                .order_by(t.id.desc())
                .limit(limit)
            )
            return [Version(**dict(r._mapping)) for r in conn.execute(stmt)]

        return await self.db.read(_read)

    async def content(self, version_id: int) -> tuple[Version, bytes] | None:
        def _read(conn: sa.Connection) -> tuple[Version, bytes] | None:
            row = conn.execute(
                sa.select(admin_history).where(admin_history.c.id == version_id)
            ).first()
            if row is None:
                return None
            m = dict(row._mapping)
            packed = m.pop("content")
            return Version(**m), gzip.decompress(packed)

        return await self.db.read(_read)
