"""The demo's own SMTP server: order e-mails land in ``var/mail/*.eml`` instead of nowhere.

Started by ``serve`` and ``console`` when ``demo.mail_sink`` is on and the mail settings
point at it (loopback host, ``demo.mail_sink_port``: the embedded defaults). A shop that
configures its real SMTP server never talks to it.
"""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from bot.config import Settings


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 1_000_000:06d}.eml"
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode("utf-8")
        (self.folder / name).write_bytes(data)
        return "250 Message accepted for delivery"


def wanted(settings: Settings) -> bool:
    if not settings.demo.mail_sink:
        return False
    try:
        loopback = ipaddress.ip_address(settings.mail.host).is_loopback
    except ValueError:
        loopback = settings.mail.host == "localhost"
    return loopback and settings.mail.port == settings.demo.mail_sink_port


def start_mail_sink(settings: Settings) -> Controller | None:
    """Start the sink if the settings want it; None otherwise (or if the port is taken)."""
    if not wanted(settings):
        return None
    controller = Controller(
        _SaveToFolder(Path(settings.demo.mail_folder)),
        hostname=settings.mail.host,
        port=settings.mail.port,
    )
    try:
        controller.start()
    except (OSError, RuntimeError):
        return None  # another bot process runs the sink already: it will take the mail
    return controller
