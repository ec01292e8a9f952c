"""The ``admin:`` section: the editors' console under ``/admin/``.

Every key is in the README, section «The editors' console».
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("admin", "editor", "supervisor", "manager")  # manager: the journal, own calls only


@dataclass(slots=True)
class ManagerRules:
    """How a personal-manager rule ``9035677876=103`` is checked (the 1C-Rarus seed's server)."""

    min_phone_digits: int = 10  # «Последние цифры телефонного номера»: the phone has at least these
    extension_min: int = 2  # «Длина внутренних номеров»: the extension's length in this range
    extension_max: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.extension_min <= self.extension_max <= 32:
            raise ValueError("admin.managers: need 1 <= extension_min <= extension_max <= 32")
        if not 4 <= self.min_phone_digits <= 15:
            raise ValueError("admin.managers.min_phone_digits must be between 4 and 15")


@dataclass(slots=True)
class AdminSettings:
    enabled: bool = True
    work_dir: Path = Path("var/admin")  # drafts, the candidate model, staged uploads
    session_hours: float = 12.0  # a session ends this long after the login at the latest
    idle_minutes: float = 60.0  # … or after this long without a request
    secure_cookie: bool | None = None  # None: Secure when the request came over HTTPS
    lockout_failures: int = 5  # wrong passwords in a row that lock an account …
    lockout_minutes: float = 15.0  # … for this long
    api_token: str | None = None  # Bearer token of /admin/api/*; unset: the API is off
    history_keep: int = 50  # versions kept per kind (nlu, responses, managers, catalog)
    max_upload_bytes: int = 20 * 1024 * 1024  # the catalog upload (xlsx_guard checks the rest)
    test_callers: list[str] = field(
        default_factory=lambda: ["+79607775577", "89161234567", "79260000000", "+79990000001"]
    )
    managers: ManagerRules = field(default_factory=ManagerRules)

    def __post_init__(self) -> None:
        if self.session_hours <= 0 or self.idle_minutes <= 0:
            raise ValueError("admin.session_hours and admin.idle_minutes must be positive")
        if self.lockout_failures < 1 or self.lockout_minutes <= 0:
            raise ValueError("admin: lockout_failures >= 1 and lockout_minutes > 0")
        if self.api_token is not None and len(self.api_token) < 16:
            raise ValueError("admin.api_token must have at least 16 characters")
        if self.history_keep < 2:
            raise ValueError("admin.history_keep must be at least 2")
