"""Which scenario a call gets (IVR branch routing) and who takes it on transfer.

Routes come from ``server.routes`` (first match wins). The managers table is a text file of
``phone=extension`` lines (as in the 1C-Rarus softphone seed): a caller with a personal
manager is transferred to that extension instead of the common operator target. The file is
validated when loaded (a bad line names its number and is refused, the old table stays)
and reloaded when it changes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path

from bot.server_settings import Route
from connectors.pbx.transport import CallInfo
from dialogs.config import SCENARIOS, DialogSettings
from nlu.phones import normalize_phone

log = logging.getLogger(__name__)
EXTENSION_RE = re.compile(r"^[A-Za-z0-9_.+*#@:/-]{1,80}$")


class ManagersError(ValueError):
    pass


class Managers:
    """``phone=extension`` lines; ``#`` starts a comment. Phones are keyed by last 10 digits."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.table: dict[str, str] = {}
        self._mtime: float | None = None
        self.reload()

    @staticmethod
    def parse(text: str, source: str = "managers") -> dict[str, str]:
        table: dict[str, str] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            phone_text, sep, extension = (part.strip() for part in line.partition("="))
            phone = normalize_phone(phone_text) if sep else None
            if phone is None:
                raise ManagersError(f"{source}:{number}: expected phone=extension")
            if not EXTENSION_RE.match(extension):
                raise ManagersError(f"{source}:{number}: bad extension {extension!r}")
            table[phone] = extension
        return table

    def reload(self) -> None:
        if self.path is None or not self.path.exists():
            return
        mtime = self.path.stat().st_mtime
        if mtime == self._mtime:
            return
        try:
            self.table = self.parse(self.path.read_text("utf-8"), str(self.path))
        except (ManagersError, UnicodeDecodeError, OSError) as exc:
            log.error("managers table not loaded; the old one stays", extra={"error": str(exc)})
        self._mtime = mtime

    def save(self, table: dict[str, str], header: str = "") -> None:
        """Write ``table`` (phone10 ➜ extension) to the file atomically and use it at once.

        ``header``: comment lines kept at the top. The text is checked with :meth:`parse`
        first; a refused table changes nothing."""
        if self.path is None:
            raise ManagersError("no managers file is configured (server.managers_file)")
        text = header + "".join(f"{phone}={extension}\n" for phone, extension in table.items())
        parsed = self.parse(text, str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, self.path)
        self.table = parsed
        self._mtime = self.path.stat().st_mtime

    def manager_of(self, phone10: str | None) -> str | None:
        self.reload()
        return self.table.get(phone10) if phone10 else None


class Router:
    def __init__(self, routes: list[Route], base: DialogSettings, managers: Managers) -> None:
        for route in routes:
            if route.scenario not in SCENARIOS:
                raise ValueError(f"server.routes: unknown scenario {route.scenario!r}")
        self.routes = routes
        self.base = base
        self.managers = managers

    def route_for(self, info: CallInfo) -> Route | None:
        called = info.called.strip()
        for route in self.routes:
            if route.connector and route.connector != info.connector:
                continue
            if not route.called or _same_number(route.called, called):
                return route
        return None

    def label_for(self, info: CallInfo) -> str:
        """Which route a call took, for events and metrics: ``routes[N]``, or ``""`` (none)."""
        route = self.route_for(info)
        return f"routes[{self.routes.index(route)}]" if route is not None else ""

    def dialog_for(self, info: CallInfo) -> DialogSettings:
        route = self.route_for(info)
        settings = self.base
        if route is not None:
            settings = dataclasses.replace(
                settings, scenario=route.scenario, operator=route.operator or settings.operator
            )
        manager = self.managers.manager_of(normalize_phone(info.caller) if info.caller else None)
        if manager is not None:
            settings = dataclasses.replace(settings, operator=manager)
        return settings


def _same_number(pattern: str, called: str) -> bool:
    if pattern == called:
        return True
    digits_a = re.sub(r"\D", "", pattern)
    digits_b = re.sub(r"\D", "", called)
    return len(digits_a) >= 10 and digits_a[-10:] == digits_b[-10:]
