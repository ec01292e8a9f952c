"""Case 2 of the seeds over Telphin Call Interactive: greeting by name and order status.

The PBX asks us (HTTP) when a call reaches the IVR element; we run the dialog policy in its
``greeting`` or ``status_only`` scenario (by route), synthesize what it says with our TTS,
publish the WAV files under ``/tts/<sha>.wav`` and answer with the XML commands: the caller
name (``%NAME% X(Y)`` or ``UNKNOWN USER``), the sounds to play, and a transfer only when the
policy hands the call to a person; otherwise the PBX continues its scheme.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

from aiohttp import web

from bot.action_runner import ActionRunner
from bot.call_context import context_for
from bot.events import EventBus, Subscriber
from bot.rasa.engines import build_policy
from bot.routing import Router
from bot.voice import VoiceServices
from connectors.pbx.telphin import TelphinReply, TelphinRequest
from connectors.pbx.transport import CallInfo
from dialogs.expect import Expect

log = logging.getLogger(__name__)
SCHEME_CONTINUES = {"greeting_done", "status_done"}


class TelphinCase2:
    def __init__(
        self, services: VoiceServices, router: Router, sounds: Path, public_url: str
    ) -> None:
        self.services = services
        self.router = router
        self.sounds = sounds
        self.public_url = public_url.rstrip("/")
        self.subscribers: list[Subscriber] = []  # every request's call events (metrics, …)
        sounds.mkdir(parents=True, exist_ok=True)

    async def decide(self, request: TelphinRequest) -> TelphinReply:
        called = request.called_did or request.called_extension
        info = CallInfo(request.call_id, request.caller, called, "telphin")
        settings = self.router.dialog_for(info)
        if settings.scenario not in ("greeting", "status_only"):
            settings = dataclasses.replace(settings, scenario="greeting")
        policy = build_policy(  # by dialog.engine
            context_for(info), self.services.ports, self.services.responses, settings,
            self.services.settings.rasa, route=self.router.label_for(info),
        )  # fmt: skip
        bus = EventBus(info.call_id)
        for subscriber in self.subscribers:
            bus.subscribe(subscriber)
        effects = TelphinEffects(self)
        runner = ActionRunner(policy, effects, self.services.orders, bus)
        await runner.start(route=self.router.label_for(info))
        runner.end(f"transfer:{effects.reason}" if effects.reason else "scheme_continues")
        return TelphinReply(
            caller_name=effects.caller_name, play_urls=effects.sounds, transfer_to=effects.target
        )

    async def publish(self, text: str) -> str:
        """Synthesize ``text`` (8 kHz WAV, what telephony plays) and return its public URL."""
        synthesizer = self.services.synthesizer
        key = f"{synthesizer.name}|{synthesizer.voice}|{synthesizer.spoken(text)}"
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        path = self.sounds / f"{name}.wav"
        if not path.exists():
            audio = await synthesizer.synthesize(text)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(audio.resample(8000).to_wav_bytes())
            tmp.replace(path)
        return f"{self.public_url}/tts/{path.name}"

    def sound_route(self) -> web.AbstractRouteDef:
        return web.static("/tts", self.sounds, show_index=False)


class TelphinEffects:
    """Call Interactive answers once per request: what the runner does becomes the reply."""

    def __init__(self, app: TelphinCase2) -> None:
        self.app = app
        self.caller_name: str | None = None
        self.sounds: list[str] = []
        self.target: str | None = None
        self.reason = ""

    async def say(self, text: str, key: str, interruptible: bool) -> None:
        self.sounds.append(await self.app.publish(text))

    async def listen(self, expect: Expect) -> None:
        return None  # no audio comes back over Call Interactive

    async def set_caller_name(self, name: str) -> None:
        self.caller_name = name

    async def transfer(self, target: str, reason: str) -> None:
        if reason not in SCHEME_CONTINUES:  # greeting/status done: the PBX scheme goes on
            self.target, self.reason = target, reason

    async def hang_up(self) -> None:
        return None
