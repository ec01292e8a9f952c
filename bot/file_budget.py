"""File handles: how many the configured limits may need, checked once at start.

Every connection is a file handle; so are the database pools, model files, log and
transcript files. The sum of the endpoints' ``max_connections`` plus a reserve must fit in
the process's ``RLIMIT_NOFILE``, or a flood of connections ends in ``accept() out of system
resource`` and nothing works any more. At start the soft limit is raised to the hard limit
when it is lower (``ulimit -n`` is often 1024 while the hard limit is far higher); if the
limit is still too small, a warning names the numbers and the keys to change.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from bot.server_settings import ServerSettings

log = logging.getLogger(__name__)
RESERVE = 128  # database pools, models, logs, transcripts, TTS cache, pipes, the mail sink
UNLIMITED_CAP = 65536  # the soft limit we set when the hard limit is "unlimited"


@dataclass(frozen=True, slots=True)
class FileBudget:
    needed: int
    soft: int  # the soft limit after any raise
    hard: int
    raised_from: int | None = None  # the soft limit before we raised it

    @property
    def enough(self) -> bool:
        return self.soft >= self.needed


def needed_handles(server: ServerSettings) -> int:
    """File handles the configured connection limits may use at once, plus the reserve."""
    needed = RESERVE + 2 * server.max_calls  # a call may hold a transcript file and a socket
    if server.http.enabled:
        needed += server.http.max_connections
    if server.asterisk.enabled:
        needed += 2 * server.asterisk.max_connections  # FastAGI and AudioSocket
    return needed


def raise_soft_limit() -> tuple[int, int, int | None]:
    """Soft limit up to the hard one where allowed: (soft, hard, soft before or None)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_CAP if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, hard, None
        return target, hard, soft
    return soft, hard, None


def check_file_budget(server: ServerSettings) -> FileBudget:
    needed = needed_handles(server)
    soft, hard, before = raise_soft_limit()
    budget = FileBudget(needed, soft, hard, before)
    if before is not None:
        log.info("file handle limit raised", extra={"soft_was": before, "soft": soft})
    if not budget.enough:
        log.warning(
            "file handle limit too low for the connection limits: raise `ulimit -n` (hard "
            "limit) or lower server.http.max_connections / server.asterisk.max_connections",
            extra={"limit": soft, "needed": needed, "hard": hard},
        )
    return budget
