"""Console accounts: argon2id password hashes, roles, lockout after failures, sessions.

Passwords are hashed with argon2id (``argon2-cffi``'s defaults: 64 MiB, 3 passes), always
in a worker thread. After ``admin.lockout_failures`` wrong passwords in a row an account is
locked for ``admin.lockout_minutes``; a name that does not exist costs the same hash check, so
the answer does not tell which names exist. Sessions are rows keyed by the SHA-256 of the
cookie's random token (a stolen database holds no usable cookie) with their CSRF token, an
absolute expiry and an idle limit. Log lines carry user ids, never names or passwords.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot.web.settings import ROLES, AdminSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import admin_sessions, admin_users, parse_time, utc, utc_text

log = logging.getLogger(__name__)
NAME_RE = re.compile(r"^[\w.@-]{2,64}$")
MIN_PASSWORD = 10
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often


class AccountError(ValueError):
    """A refused account change; the message is Russian, for the page or the terminal."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool = False
    locked_until: datetime | None = None
    failed_logins: int = 0
    created_at: str = ""
    extension: str | None = None  # a manager's own extension (the call journal)

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User | None
    locked_minutes: int = 0  # > 0: refused because the account is locked


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf: str
    token_hash: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Пароль должен быть не короче {MIN_PASSWORD} символов.")
    if password.strip() != password or "\n" in password:
        raise AccountError("Пароль не должен начинаться или кончаться пробелом.")


def _user(row: sa.Row[tuple[object, ...]]) -> User:
    m = row._mapping
    locked = m["locked_until"]
    return User(
        id=int(m["id"]),
        name=str(m["name"]),
        role=str(m["role"]),
        disabled=bool(m["disabled"]),
        locked_until=parse_time(str(locked)) if locked else None,
        failed_logins=int(m["failed_logins"]),
        created_at=str(m["created_at"]),
        extension=m.get("extension"),
    )


class Accounts:
    def __init__(self, db: ShopDatabase, settings: AdminSettings) -> None:
        self.db = db
        self.settings = settings
        self.hasher = PasswordHasher()
        self._dummy = self.hasher.hash(secrets.token_hex(16))  # for names that do not exist

    # -- users ----------------------------------------------------------------------------

    async def create_user(self, name: str, role: str, password: str) -> User:
        name = name.strip()
        if not NAME_RE.match(name):
            raise AccountError("Имя: 2–64 буквы, цифры или знаки . _ @ - без пробелов.")
        if role not in ROLES:
            raise AccountError(f"Роль: одна из {', '.join(ROLES)}.")
        check_password(password)
        hashed = await asyncio.to_thread(self.hasher.hash, password)

        def _create(conn: sa.Connection) -> int:
            taken = conn.execute(sa.select(admin_users.c.id).where(admin_users.c.name == name))
            if taken.first() is not None:
                raise AccountError(f"Пользователь «{name}» уже есть.")
            result = conn.execute(
                admin_users.insert().values(
                    name=name, role=role, password_hash=hashed, created_at=utc_text(utc())
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

        user_id = await self.db.write(_create)
        log.info("console user created", extra={"user_id": user_id, "role": role})
        user = await self.get(name)
        assert user is not None
        return user

    async def get(self, name: str) -> User | None:
        def _get(conn: sa.Connection) -> User | None:
            row = conn.execute(sa.select(admin_users).where(admin_users.c.name == name)).first()
            return _user(row) if row is not None else None

        return await self.db.read(_get)

    async def users(self) -> list[User]:
        def _all(conn: sa.Connection) -> list[User]:
            rows = conn.execute(sa.select(admin_users).order_by(admin_users.c.name))
            return [_user(r) for r in rows]

        return await self.db.read(_all)

    async def count(self) -> int:
        def _count(conn: sa.Connection) -> int:
            count = conn.execute(sa.select(sa.func.count()).select_from(admin_users)).scalar()
            return int(count or 0)

        return await self.db.read(_count)

    async def update(self, name: str, **values: object) -> User:
        """Change ``role``, ``disabled`` or ``password``; a new password also unlocks and ends
        the user's sessions, and so does disabling."""
        changes: dict[str, object] = {}
        if "role" in values:
            if values["role"] not in ROLES:
                raise AccountError(f"Роль: одна из {', '.join(ROLES)}.")
            changes["role"] = values["role"]
        if "disabled" in values:
            changes["disabled"] = bool(values["disabled"])
        if "password" in values:
            password = str(values["password"])
            check_password(password)
            changes["password_hash"] = await asyncio.to_thread(self.hasher.hash, password)
            changes.update(failed_logins=0, locked_until=None)
        if values.get("unlock"):
            changes.update(failed_logins=0, locked_until=None)
        end_sessions = "password" in values or bool(values.get("disabled"))

        def _update(conn: sa.Connection) -> None:
            row = conn.execute(sa.select(admin_users.c.id).where(admin_users.c.name == name))
            found = row.first()
            if found is None:
                raise AccountError(f"Пользователя «{name}» нет.")
            if changes:
                conn.execute(
                    admin_users.update().where(admin_users.c.id == found[0]).values(**changes)
                )
            if end_sessions:
                conn.execute(admin_sessions.delete().where(admin_sessions.c.user_id == found[0]))

        await self.db.write(_update)
        user = await self.get(name)
        assert user is not None
        return user

    # -- login ----------------------------------------------------------------------------

    async def authenticate(self, name: str, password: str) -> LoginResult:
        now = utc()
        user = await self.get(name.strip()) if NAME_RE.match(name.strip()) else None
        if user is not None and user.locked(now):
            assert user.locked_until is not None
            minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
            log.warning("login refused: account locked", extra={"user_id": user.id})
            return LoginResult(None, locked_minutes=minutes)
        stored = await self._hash_of(user) if user is not None else self._dummy
        ok = await asyncio.to_thread(self._verify, stored, password)
        if user is None:
            log.warning("login failed: unknown name")
            return LoginResult(None)
        if not ok or user.disabled:
            locked = await self._failed(user, now)
            log.warning("login failed", extra={"user_id": user.id, "locked": locked})
            return LoginResult(
                None, locked_minutes=int(self.settings.lockout_minutes) if locked else 0
            )
        await self._succeeded(user, stored, password)
        log.info("login", extra={"user_id": user.id})
        return LoginResult(user)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _hash_of(self, user: User) -> str:
        def _read(conn: sa.Connection) -> str:
            stmt = sa.select(admin_users.c.password_hash).where(admin_users.c.id == user.id)
            return str(conn.execute(stmt).scalar_one())

        return await self.db.read(_read)

    async def _failed(self, user: User, now: datetime) -> bool:
        limit = self.settings.lockout_failures
        until = utc_text(now + timedelta(minutes=self.settings.lockout_minutes))

        def _count(conn: sa.Connection) -> bool:
            table = admin_users
            conn.execute(
                table.update()
                .where(table.c.id == user.id)
                .values(failed_logins=table.c.failed_logins + 1)
            )
            failures = conn.execute(
                sa.select(table.c.failed_logins).where(table.c.id == user.id)
            ).scalar_one()
            if int(failures) >= limit:
                conn.execute(
                    table.update()
                    .where(table.c.id == user.id)
                    .values(failed_logins=0, locked_until=until)
                )
                return True
            return False

        return await self.db.write(_count)

    async def _succeeded(self, user: User, stored: str, password: str) -> None:
        values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
        if self.hasher.check_needs_rehash(stored):
            values["password_hash"] = await asyncio.to_thread(self.hasher.hash, password)

        def _reset(conn: sa.Connection) -> None:
            conn.execute(admin_users.update().where(admin_users.c.id == user.id).values(**values))

        await self.db.write(_reset)

    # -- sessions -------------------------------------------------------------------------

    async def open_session(self, user: User) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utc()
        expires = now + timedelta(hours=self.settings.session_hours)
        hashed = token_hash(token)

        def _open(conn: sa.Connection) -> None:
            conn.execute(admin_sessions.delete().where(admin_sessions.c.expires_at < utc_text(now)))
            conn.execute(
                admin_sessions.insert().values(
                    token_hash=hashed,
                    user_id=user.id,
                    csrf=csrf,
                    created_at=utc_text(now),
                    last_seen=utc_text(now),
                    expires_at=utc_text(expires),
                )
            )

        await self.db.write(_open)
        return token, Session(user, csrf, hashed)

    async def session(self, token: str) -> Session | None:
        """The live session of a cookie's token, or ``None`` (unknown, expired, idle, disabled)."""
        if not token or len(token) > 200:
            return None
        hashed = token_hash(token)
        now = utc()

        def _find(conn: sa.Connection) -> tuple[Session, datetime] | None:
            stmt = (
                sa.select(
                    admin_sessions.c.csrf,
                    admin_sessions.c.last_seen,
                    admin_sessions.c.expires_at,
                    admin_users,
                )
                .join(admin_users, admin_users.c.id == admin_sessions.c.user_id)
                .where(admin_sessions.c.token_hash == hashed)
            )
            row = conn.execute(stmt).first()
            if row is None:
                return None
            m = row._mapping
            if parse_time(str(m["expires_at"])) <= now or bool(m["disabled"]):
                return None
            return Session(_user(row), str(m["csrf"]), hashed), parse_time(str(m["last_seen"]))

        found = await self.db.read(_find)
        if found is None:
            return None
        session, last_seen = found
        if now - last_seen > timedelta(minutes=self.settings.idle_minutes):
            await self.close_session(token)
            return None
        if now - last_seen > TOUCH_EVERY:

            def _touch(conn: sa.Connection) -> None:
                conn.execute(
                    admin_sessions.update()
                    .where(admin_sessions.c.token_hash == hashed)
                    .values(last_seen=utc_text(now))
                )

            await self.db.write(_touch)
        return session

    async def close_session(self, token: str) -> None:
        hashed = token_hash(token)

        def _close(conn: sa.Connection) -> None:
            conn.execute(admin_sessions.delete().where(admin_sessions.c.token_hash == hashed))

        await self.db.write(_close)
