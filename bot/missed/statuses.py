"""The statuses of a missed call, as the missed-call manual (``004_*.txt``) names them.

The code (stored in ``missed_calls.status``) is English; the label is what a supervisor
reads in the journal and the exports.
"""

from __future__ import annotations

from typing import Final, Literal

Status = Literal["not_called_back", "failed", "called_back", "client_called", "calling"]

NOT_CALLED_BACK: Final = "not_called_back"
FAILED: Final = "failed"
CALLED_BACK: Final = "called_back"
CLIENT_CALLED: Final = "client_called"
CALLING: Final = "calling"

LABELS: Final[dict[str, str]] = {
    NOT_CALLED_BACK: "Не перезвонили",
    FAILED: "Неуспешный вызов",
    CALLED_BACK: "Успешно перезвонили",
    CLIENT_CALLED: "Клиент позвонил сам",
    CALLING: "Звонят сейчас",
}
STATUSES: Final = tuple(LABELS)
# a call-back may still be placed for these; the others are final or in progress
OPEN: Final = frozenset({NOT_CALLED_BACK, FAILED})


def label(status: str) -> str:
    """The Russian label of ``status`` (the code itself if it is unknown)."""
    return LABELS.get(status, status)
