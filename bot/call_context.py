"""The dialog's view of a call (``CallContext``) from what the PBX or console said about it."""

from __future__ import annotations

import uuid
from datetime import datetime

from connectors.pbx.transport import CallInfo
from dialogs.context import CallContext
from nlu.phones import normalize_phone


def context_for(info: CallInfo) -> CallContext:
    """The caller's number is normalised to its last 10 digits (None if it is no phone)."""
    return CallContext(
        call_id=info.call_id,
        caller=normalize_phone(info.caller) if info.caller else None,
        called=info.called,
        started_at=datetime.now().astimezone(),
        connector=info.connector,
        caller_raw=info.caller,
    )


def console_context(caller: str, called: str) -> CallContext:
    return context_for(CallInfo(uuid.uuid4().hex, caller, called, "console"))
