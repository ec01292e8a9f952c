"""``python -m bot serve``: every enabled PBX endpoint in one asyncio process.

- Asterisk: FastAGI (caller ID, dialled number, transfer variables) + AudioSocket (audio);
- HTTP (aiohttp): WebSocket media for Twilio, FreeSWITCH mod_audio_fork and the browser page
  (``/talk``), Telphin Call Interactive (``/telphin``), synthesized sounds (``/tts``),
  ``/healthz``;
- the e-mail outbox worker.

SIGTERM or SIGINT: the endpoints stop taking calls, calls in progress may finish for
``server.shutdown_grace`` seconds, then the rest are handed to a person (the dialog saves
their order as «переведен на оператора»); the outbox gets one last delivery attempt. Nothing
is lost: orders are saved the moment they are taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiosmtpd.controller import Controller

from bot import edge
from bot.call_log import CallLog
from bot.config import Settings
from bot.edge import add_protected, edge_middleware, media_endpoints
from bot.events import CallBegan, CallEnded, EventBus, Transferred
from bot.http_guard import GuardedSite
from bot.journal.service import Journal
from bot.loop_lag import LoopLag
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.metrics import CallMetrics
from bot.missed.callback_service import CallbackService
from bot.missed.intake_service import IntakeService
from bot.missed.sms_outbox import SmsOutbox
from bot.routing import Managers, Router
from bot.session import CallSession
from bot.shop_setup import Shop, open_shop
from bot.telphin_app import TelphinCase2
from bot.tools.mail_sink import start_mail_sink
from bot.voice import VoiceServices
from connectors.pbx.asterisk import AsteriskConnector
from connectors.pbx.sip_server import SipEndpoint
from connectors.pbx.telphin import (
    TelphinReply,
    TelphinRequest,
    add_telphin_routes,
    fallback_reply,
    telphin_handler,
)
from connectors.pbx.transport import CallTransport
from connectors.pbx.websocket_base import websocket_handler

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")


class BotServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = settings.server
        self.sessions: set[CallSession] = set()
        self.calls_total = 0
        self.stop_requested = asyncio.Event()
        self.shop: Shop | None = None
        self.services: VoiceServices | None = None
        self.asterisk: AsteriskConnector | None = None
        self.sip: SipEndpoint | None = None
        self.runner: web.AppRunner | None = None
        self.http_site: GuardedSite | None = None
        self.addresses: dict[str, str] = {}
        self.mail_sink: Controller | None = None
        self.telphin: TelphinCase2 | None = None
        self.public_sounds = Path("var/tts-public")
        self._outbox_stop = asyncio.Event()
        self._outbox_task: asyncio.Task[None] | None = None
        self._orders_task: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._outbox_watch: asyncio.Task[None] | None = None
        self.metrics = CallMetrics()
        self.lag = LoopLag(self.server.overload_lag_ms)  # how late the event loop runs
        self.journal: Journal | None = None  # the call store and the recordings
        self.missed: IntakeService | None = None  # missed calls: store, intake, AMI
        self.callbacks: CallbackService | None = None  # automatic call-backs, voicemail
        self.sms: SmsOutbox | None = None  # Case 3: an SMS for each missed call
        self._sms_task: asyncio.Task[None] | None = None

    # -- calls ------------------------------------------------------------------------------

    async def handle_call(self, transport: CallTransport) -> None:
        assert self.services is not None
        reason = self._refusal()
        if reason:
            log.warning("call sent straight to an operator", extra={"reason": reason})
            self._count_refused(transport, reason.replace(" ", "_"))
            await transport.transfer(self.settings.dialog.operator)
            return
        dialog = self.router.dialog_for(transport.info)
        route = self.router.label_for(transport.info)
        session = CallSession(transport, self.services, dialog=dialog, route=route)
        session.subscribe(self.metrics)
        recorded = self.journal.attach(session) if self.journal is not None else None
        if self.missed is not None:  # the bot's own handoffs nobody took
            self.missed.attach(session)
        self.sessions.add(session)
        self.calls_total += 1
        started = time.monotonic()
        try:
            result = await session.run()
            self._save_transcript(result)
            log.info(
                "call ended",
                extra={
                    "call_id": transport.info.call_id,
                    "connector": transport.info.connector,
                    "reason": result.end_reason,
                    "seconds": round(time.monotonic() - started, 1),
                    "orders": result.order_ids,
                },
            )
        except Exception:
            log.exception("call failed", extra={"call_id": transport.info.call_id})
        finally:
            self.sessions.discard(session)
            if recorded is not None:
                await recorded.finish()

    def _refusal(self) -> str:
        """Why a new call goes straight to an operator ("" if the bot takes it)."""
        if self.stop_requested.is_set():
            return "stopping"
        if len(self.sessions) >= self.server.max_calls:
            return "too many calls"
        if self.lag.overloaded:
            return "overloaded"
        return ""

    def _count_refused(self, transport: CallTransport, reason: str) -> None:
        """A call the server did not take: it still counts (a ``call_ended`` of its own)."""
        bus = EventBus(transport.info.call_id)
        bus.subscribe(self.metrics)
        bus.publish(CallBegan(connector=transport.info.connector))
        bus.publish(Transferred(target=self.settings.dialog.operator, reason=reason))
        bus.publish(CallEnded(reason=f"refused:{reason}"))

    async def _watch_outbox(self) -> None:
        """``bot_outbox_pending``: the one metric that is not a call event."""
        assert self.shop is not None
        while True:
            with contextlib.suppress(Exception):
                self.metrics.outbox_pending.set(await self.shop.db.outbox_pending())
            await asyncio.sleep(self.server.metrics_interval_s)

    async def _refresh_articles(self) -> None:
        """A ``catalog import`` while the server runs reaches the NLU's article matching."""
        assert self.shop is not None and self.services is not None
        known: list[str] = []
        while True:
            try:
                articles = sorted(await self.shop.db.articles())
                if articles != known:
                    self.services.nlu.set_articles(articles)
                    known = articles
            except Exception:
                log.exception("reading the catalog failed; the NLU keeps the old articles")
            await asyncio.sleep(self.server.catalog_refresh_s)

    def _save_transcript(self, result: CallLog) -> None:
        if not self.server.transcripts_dir:
            return
        folder = Path(self.server.transcripts_dir)
        folder.mkdir(parents=True, exist_ok=True)
        safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", result.call_id)[:40]  # ids come from the PBX
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{safe_id}.json"
        data = json.dumps(result.to_json(), ensure_ascii=False, indent=1)
        (folder / name).write_text(data + "\n", "utf-8")

    # -- start / stop ---------------------------------------------------------------------

    async def start(self) -> None:
        self.file_budget = edge.prepare(self.settings)  # log secrets, RLIMIT_NOFILE
        self.mail_sink = start_mail_sink(self.settings)
        if self.mail_sink is not None:
            self.addresses["mail sink"] = (
                f"smtp://{self.settings.mail.host}:{self.settings.mail.port} ➜ "
                f"{self.settings.demo.mail_folder}/"
            )
        self.shop = await open_shop(self.settings)
        self.lag.start()
        orders = self.shop.orders
        self.journal = Journal(
            self.settings.journal,
            self.settings.recordings,
            self.shop.db,
            worker=orders.identity if orders is not None else None,
            worker_timeout=self.settings.shop.orders.worker_timeout,
            registry=self.metrics.registry,
        )
        self.journal.start()
        self.missed = await IntakeService.start(self.settings, self.shop.db)
        if self.missed is not None and self.settings.sms.enabled:  # decide, then the outbox
            self.sms = SmsOutbox.for_server(self.settings.sms, self.shop.db)
            self.missed.intake.subscribe(self.sms.on_missed)
            self._sms_task = asyncio.create_task(self.sms.run(self._outbox_stop), name="sms")
        self.services = await VoiceServices.start(self.settings, self.settings.voice, self.shop)
        managers_file = Path(self.server.managers_file) if self.server.managers_file else None
        self.router = Router(self.server.routes, self.settings.dialog, Managers(managers_file))
        outbox = self.shop.outbox
        self._outbox_task = asyncio.create_task(
            outbox.run(self._outbox_stop, self.settings.outbox.poll_interval), name="outbox"
        )
        if self.shop.orders is not None:
            # orders a crash left behind (journal, drafts of dead workers) are finished first
            recovered = await self.shop.orders.start()
            if recovered:
                log.warning("orders of a crashed process recovered", extra={"orders": recovered})
            self._orders_task = asyncio.create_task(
                self.shop.orders.run(self._outbox_stop), name="orders"
            )
        self._refresher = asyncio.create_task(self._refresh_articles(), name="catalog")
        self._outbox_watch = asyncio.create_task(self._watch_outbox(), name="outbox-metric")
        if self.server.asterisk.enabled:
            await self._start_asterisk()
        if self.server.sip.enabled:
            await self._start_sip()
        if self.server.http.enabled:
            await self._start_http()
        self.callbacks = CallbackService.start(  # after SIP: call-backs leave its endpoint
            self.settings.callbacks, self.shop.db, sip=self.sip,
            synthesizer=self.services.synthesizer,
            intake=self.missed.intake if self.missed is not None else None,
            ami=self.missed.ami if self.missed is not None else None,
        )  # fmt: skip

    async def _start_asterisk(self) -> None:
        ast = self.server.asterisk
        self.asterisk = edge.asterisk_connector(self.handle_call, self.settings)
        await self.asterisk.start()
        self.addresses["audiosocket"] = f"{ast.audiosocket_host}:{self.asterisk.audiosocket.port}"
        self.addresses["fastagi"] = f"agi://{ast.agi_host}:{self.asterisk.fastagi.port}/"

    async def _start_sip(self) -> None:
        sip = self.server.sip
        self.sip = SipEndpoint(self.handle_call, sip)
        await self.sip.start()
        kinds = "/".join(k for k, on in (("udp", sip.udp), ("tcp", sip.tcp)) if on)
        self.addresses["sip"] = f"sip:{sip.advertised_host}:{self.sip.public_port} ({kinds})"

    def build_app(self) -> web.Application:
        http = self.server.http
        app = web.Application(client_max_size=http.max_body_bytes)
        app.middlewares.append(edge_middleware(http, self.server.allow_ips))  # type: ignore[arg-type]
        for name, transport in media_endpoints(self.server).items():
            handler = websocket_handler(
                self.handle_call, transport, max_message_bytes=http.max_ws_message_bytes
            )
            add_protected(app, "GET", f"/ws/{name}", handler)
        if self.server.telphin:
            assert self.services is not None
            public = http.public_url or f"http://{http.host}:{http.port}"
            case2 = TelphinCase2(self.services, self.router, self.public_sounds, public)
            case2.subscribers.append(self.metrics)
            self.telphin = case2
            decide: Callable[[TelphinRequest], Awaitable[TelphinReply]] = case2.decide
            if self.journal is not None:  # the requests' calls in the journal too
                decide, recorded = self.journal.telphin(decide)
                case2.subscribers.append(recorded)
            telphin = telphin_handler(decide, fallback=fallback_reply())
            add_telphin_routes(app, "/telphin", telphin)
            add_telphin_routes(app, "/telphin/{secret}", telphin)
            app.router.add_routes([case2.sound_route()])
        if self.server.browser:
            app.router.add_get("/talk", self._talk_page)
            app.router.add_static("/static", STATIC, show_index=False)
        if self.missed is not None:  # POST /missed, /missed/telphin
            self.missed.add_routes(app)
        app.router.add_get("/healthz", self._health)
        add_protected(app, "GET", "/metrics", self._metrics)
        if self.settings.admin.enabled:  # the editors' console: its own sessions, no secret
            from bot.web.app import mount_admin

            mount_admin(app, self)
        return app

    async def _start_http(self) -> None:
        http = self.server.http
        options = edge.runner_options(http)  # keep-alive limit; access log without paths
        self.runner = web.AppRunner(self.build_app(), **options)  # type: ignore[arg-type]
        await self.runner.setup()
        self.http_site = site = edge.http_site(self.runner, self.server)  # limits, deadlines
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else http.port
        self.addresses["http"] = f"http://{http.host}:{port}"
        if self.telphin is not None and not http.public_url:
            self.telphin.public_url = self.addresses["http"]

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def _talk_page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "talk.html")

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "ok": True,
                "calls": len(self.sessions),
                "total": self.calls_total,
                "loop_lag_ms": round(self.lag.lag_ms, 1),
            }
        )

    async def stop(self) -> None:
        """Stop taking calls; let calls finish for the grace period; hand off the rest."""
        self.stop_requested.set()
        grace = self.server.shutdown_grace
        log.info("shutting down", extra={"calls": len(self.sessions), "grace_s": grace})
        stoppers = []
        if self.callbacks is not None:  # call-backs in progress get the grace period
            stoppers.append(asyncio.create_task(self.callbacks.stop(grace)))
        if self.asterisk is not None:
            stoppers.append(asyncio.create_task(self.asterisk.stop(grace + 10)))
        if self.sip is not None:
            stoppers.append(asyncio.create_task(self.sip.stop(grace + 10)))
        deadline = time.monotonic() + grace
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for session in list(self.sessions):
            session.hand_off("shutdown")
        deadline = time.monotonic() + 10
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.runner is not None:
            await self.runner.cleanup()
        await asyncio.gather(*stoppers, return_exceptions=True)
        for task in (self._refresher, self._outbox_watch):
            if task is not None:
                task.cancel()
        await self.lag.stop()
        self._outbox_stop.set()
        tasks = [t for t in (self._outbox_task, self._orders_task, self._sms_task) if t is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.missed is not None:
            await self.missed.stop()
        if self.journal is not None:
            await self.journal.stop()
        if self.shop is not None:
            with contextlib.suppress(Exception):
                await self.shop.outbox.deliver_due()
            await self.shop.close()
        if self.mail_sink is not None:
            self.mail_sink.stop()


async def serve(settings: Settings) -> int:
    server = BotServer(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop_requested.set)
    await server.start()
    for name, address in server.addresses.items():
        log.info("listening", extra={"endpoint": name, "address": address})
        print(f"  {name:12} {address}")
    print(how_to_call(server), flush=True)
    await server.stop_requested.wait()
    print("stopping: calls in progress finish or go to an operator…", flush=True)
    await server.stop()
    print("stopped", flush=True)
    return 0


def how_to_call(server: BotServer) -> str:
    lines = ["", "Place a test call (another terminal):"]
    if "fastagi" in server.addresses:
        host, port = server.addresses["fastagi"].removeprefix("agi://").rstrip("/").split(":")
        lines.append(
            f'  .venv/bin/python -m bot dial --agi {host}:{port} --say "хочу сделать заказ" '
            '--say "артикул один два три" --say "две штуки" --say "да" --say "нет" --say "да"'
        )
    if server.sip is not None:
        sip = f"{server.server.sip.advertised_host}:{server.sip.public_port}"
        lines.append(f'  or with a SIP phone: baresip -e "/dial sip:78123098635@{sip}"')
    if "http" in server.addresses and server.server.browser:
        lines.append(f"  or open {server.addresses['http']}/talk in a browser (microphone)")
    return "\n".join(lines)
