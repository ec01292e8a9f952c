"""Who owns a draft order: the identity of a bot process and how to tell it is gone.

Every process that writes drafts has a :class:`WorkerIdentity` (a random id plus the host,
the kernel's boot id, the pid and the pid's start time) kept in ``bot_workers`` with a
heartbeat. Another process decides that a worker is **dead** when

1. its row says it stopped (``stopped_at``, written by a clean shutdown), or there is no row;
2. it ran on this host (same host name and pid namespace): the host booted since (another
   boot id), or its pid is not running, or the pid now belongs to a process started at
   another time (pid reuse, a container restarted with the same pid). This is exact and
   immediate, so a restarted single server recovers its predecessor's drafts at start;
3. it ran on another host and its heartbeat is older than ``worker_timeout`` (the only
   possible test across hosts; keep the hosts' clocks in sync, e.g. with NTP).

A worker that merely cannot reach the database (and so misses heartbeats) may be taken for
dead by a worker on another host: its drafts are then finished and e-mailed, and its own
later writes (a higher revision) reopen and finish the order again, which sends a second
e-mail with the final content. Nothing is lost; at worst the shop gets two e-mails.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), or None if not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None if not _pid_running(pid) else "unknown"
    # the command name (field 2) is in parentheses and may contain spaces
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else "unknown"


def host_name() -> str:
    """The host name plus the pid namespace: pids can be checked only inside the same one."""
    name = socket.gethostname()
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{name} {namespace}".strip()[:255]


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    id: str
    host: str
    boot_id: str
    pid: int
    pid_start: str

    @classmethod
    def current(cls) -> WorkerIdentity:
        pid = os.getpid()
        return cls(
            id=uuid.uuid4().hex,
            host=host_name(),
            boot_id=boot_id(),
            pid=pid,
            pid_start=process_start(pid) or "unknown",
        )


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """What ``bot_workers`` says about a worker (times are aware datetimes)."""

    id: str
    host: str
    boot_id: str
    pid: int
    pid_start: str
    heartbeat_at: datetime
    stopped_at: datetime | None


def is_dead(row: WorkerRow | None, me: WorkerIdentity, now: datetime, timeout: float) -> bool:
    """True when the worker of ``row`` can no longer write its drafts (see the module doc)."""
    if row is None or row.stopped_at is not None:
        return True
    if row.id == me.id:
        return False
    if row.host == me.host:
        if row.boot_id != me.boot_id:
            return True
        if row.pid == me.pid:
            return True  # our pid, but not us: that process is gone
        started = process_start(row.pid)
        if started is None:
            return True
        if started != "unknown" and row.pid_start != "unknown" and started != row.pid_start:
            return True
    return now - row.heartbeat_at > timedelta(seconds=timeout)
