"""The console as an aiohttp sub-application mounted at ``/admin`` on the bot's server.

Templates: Jinja2 through ``aiohttp-jinja2`` (autoescaped, one base template that every page
extends). :func:`mount_admin` is the one hook in :meth:`bot.server.BotServer.build_app`; the
server's edge middleware (IP allow-list) runs before the console's own (sessions, CSRF).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.web.accounts import Accounts
from bot.web.audit import AuditLog, History
from bot.web.files import write_atomic
from bot.web.layout import SESSION_KEY
from bot.web.settings import AdminSettings
from bot.web.training import Trainer

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.routing import Router
    from bot.shop_setup import Shop
    from bot.voice import VoiceServices
    from connectors.pbx.transport import CallTransport
    from connectors.shop.database import ShopDatabase

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")
PHONE_RE = re.compile(r"\d{4,}")


class ConsoleHost(Protocol):
    """What the console needs of the server (:class:`bot.server.BotServer` has it)."""

    settings: Settings
    shop: Shop | None
    services: VoiceServices | None
    router: Router

    async def handle_call(self, transport: CallTransport) -> None: ...


def mask_phones(text: str) -> str:
    """Phone-like digit runs keep their last 4 digits (for the audit log's summaries)."""
    return PHONE_RE.sub(lambda m: "•" * (len(m.group()) - 4) + m.group()[-4:], text)


@dataclass(slots=True)
class Console:
    host: ConsoleHost
    accounts: Accounts
    audit: AuditLog
    history: History
    trainer: Trainer

    @property
    def settings(self) -> AdminSettings:
        return self.host.settings.admin

    @property
    def db(self) -> ShopDatabase:
        assert self.host.shop is not None
        return self.host.shop.db

    @property
    def services(self) -> VoiceServices:
        assert self.host.services is not None
        return self.host.services

    @property
    def nlu_draft(self) -> Path:
        return self.settings.work_dir / "nlu.draft.yml"

    def nlu_text(self) -> tuple[str, bool]:
        """The draft of ``nlu.yml`` if there is one (``True``), else the file in force."""
        if self.nlu_draft.exists():
            return self.nlu_draft.read_text("utf-8"), True
        return self.host.settings.nlu.data.read_text("utf-8"), False

    def save_nlu_draft(self, text: str) -> None:
        active = self.host.settings.nlu.data.read_text("utf-8")
        if text == active:
            self.nlu_draft.unlink(missing_ok=True)
        else:
            write_atomic(self.nlu_draft, text.encode())

    async def record(
        self, request: web.Request, action: str, target: str = "", before: str = "", after: str = ""
    ) -> None:
        session = request[SESSION_KEY]
        await self.audit.record(
            session.user.name,
            action,
            target,
            before=mask_phones(before),
            after=mask_phones(after),
            remote=request.remote or "",
        )


CONSOLE = web.AppKey("console", Console)


def console(request: web.Request) -> Console:
    return request.config_dict[CONSOLE]


def build_admin_app(host: ConsoleHost) -> web.Application:
    import bot.web.pages_admin as pages_admin
    import bot.web.pages_catalog as pages_catalog
    import bot.web.pages_dashboard as pages_dashboard
    import bot.web.pages_home as pages_home
    import bot.web.pages_journal as pages_journal
    import bot.web.pages_managers as pages_managers
    import bot.web.pages_missed as pages_missed
    import bot.web.pages_missed_rules as pages_missed_rules
    import bot.web.pages_nlu as pages_nlu
    import bot.web.pages_recordings as pages_recordings
    import bot.web.pages_replies as pages_replies
    import bot.web.pages_talk as pages_talk
    import bot.web.pages_training as pages_training
    import bot.web.pages_voicemail as pages_voicemail
    from bot.web.security import session_middleware

    settings = host.settings.admin
    assert host.shop is not None
    db = host.shop.db
    accounts = Accounts(db, settings)
    nlu = host.settings.nlu
    trainer = Trainer(settings.work_dir, nlu.data, nlu.model_dir, nlu.threshold)
    state = Console(host, accounts, AuditLog(db), History(db, settings.history_keep), trainer)
    app = web.Application(middlewares=[session_middleware(accounts, settings)])
    app[CONSOLE] = state
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    for module in (
        pages_home,
        pages_catalog,
        pages_nlu,
        pages_training,
        pages_replies,
        pages_managers,
        pages_talk,
        pages_admin,
        pages_journal,
        pages_dashboard,
        pages_recordings,
        pages_missed,
        pages_missed_rules,
        pages_voicemail,
    ):
        module.add_routes(app, state)
    return app


def mount_admin(app: web.Application, host: ConsoleHost) -> None:
    """Serve the console under ``/admin/`` of the server's app (``admin.enabled``)."""
    if not host.settings.admin.enabled:
        return
    host.settings.admin.work_dir.mkdir(parents=True, exist_ok=True)
    app.add_subapp("/admin", build_admin_app(host))

    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/admin/")

    app.router.add_get("/admin", to_console)
