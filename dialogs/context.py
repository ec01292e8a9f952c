"""Per-call facts handed to the policy (never globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CallContext:
    call_id: str
    caller: str | None  # last 10 digits of the caller's number, None if unknown/invalid
    called: str  # the dialled number or extension, as the PBX gave it
    started_at: datetime = field(default_factory=lambda: datetime.now().astimezone())
    connector: str = "console"
    caller_raw: str = ""
