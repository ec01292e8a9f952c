"""``python -m bot admin …``: console accounts from the server's terminal.

    python -m bot admin create-user NAME --role admin|editor|supervisor|manager [--extension 103]
    python -m bot admin set-password NAME      # also unlocks the account
    python -m bot admin list-users

The password is asked twice on a terminal, or read as the first line of standard input
(``printf '%s\\n' "$PASSWORD" | python -m bot admin create-user anna --role editor``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TextIO

import sqlalchemy as sa

from bot.config import Settings
from bot.routing import EXTENSION_RE
from bot.web.accounts import AccountError, Accounts
from bot.web.audit import AuditLog
from bot.web.settings import ROLES
from connectors.shop.database import ShopDatabase
from connectors.shop.schema import admin_users


def add_admin_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser("admin", help="editors' console: accounts")
    sub = admin.add_subparsers(dest="admin_command", required=True, metavar="ADMIN_COMMAND")
    create = sub.add_parser("create-user", help="create a console user (password asked)")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--extension", help="a manager's own extension (the call journal)")
    password = sub.add_parser("set-password", help="set a user's password and unlock it")
    password.add_argument("name")
    sub.add_parser("list-users", help="console users, roles and states")


def read_password(stdin: TextIO = sys.stdin) -> str:
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Пароль: ")
    if getpass.getpass("Ещё раз: ") != first:
        raise AccountError("Пароли не совпадают.")
    return first


async def set_extension(db: ShopDatabase, user_id: int, extension: str) -> None:
    def _save(conn: sa.Connection) -> None:
        conn.execute(
            admin_users.update().where(admin_users.c.id == user_id).values(extension=extension)
        )

    await db.write(_save)


async def run_admin(settings: Settings, args: argparse.Namespace, stdin: TextIO = sys.stdin) -> int:
    from bot.shop_setup import open_shop

    shop = await open_shop(settings)
    try:
        accounts = Accounts(shop.db, settings.admin)
        audit = AuditLog(shop.db)
        if args.admin_command == "list-users":
            for user in await accounts.users():
                state = "disabled" if user.disabled else "locked" if user.locked_until else "active"
                print(f"{user.name}\t{user.role}\t{state}")
            return 0
        password = read_password(stdin)
        if args.admin_command == "create-user":
            extension = getattr(args, "extension", None)
            if extension and not EXTENSION_RE.match(extension):
                raise AccountError("Внутренний номер: цифры и буквы, без пробелов.")
            user = await accounts.create_user(args.name, args.role, password)
            await audit.record("cli", "пользователь создан", user.name, after=user.role)
            if extension:
                await set_extension(shop.db, user.id, extension)
            print(f"created {user.role} {user.name!r}; log in at /admin/")
        else:
            await accounts.update(args.name, password=password)
            await audit.record("cli", "пароль изменён", args.name)
            print(f"password set for {args.name!r}; the account is unlocked")
        return 0
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        await shop.close()


def cmd_admin(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_admin(settings, args))
