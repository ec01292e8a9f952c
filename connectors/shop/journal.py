"""The local order journal: orders the database could not take, kept until it can.

One JSON object per line (:meth:`OrderWrite.to_json`), appended and ``fsync``'d before the
caller is told the order was not saved, so a crash right after loses nothing. The file holds
personal data (phone numbers): it is created ``0600``.

Several processes may share one journal file. Appends take an exclusive ``flock`` and make
sure they write to the file that is at the path *now*. A replay takes the lock, renames the
file to ``<name>.<time>-<random>.replay`` and releases it, so appends go on into a new file
while the renamed one is written to the database. A replay file is deleted only after every
entry in it was applied (or found already applied); one that fails half-way stays and is
picked up by the next replay (the writes are idempotent, so entries applied twice are
harmless). Lines that cannot be parsed (a torn last line after a power cut) are moved to
``<name>.rejected`` for a person to look at, never silently dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from connectors.shop.order_writes import OrderWrite

log = logging.getLogger(__name__)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Replay:
    """The entries of one locked replay file; :meth:`keep` leaves only some of them."""

    def __init__(self, fd: int, writes: list[OrderWrite]) -> None:
        self._fd = fd
        self.writes = writes

    def keep(self, left: list[OrderWrite]) -> None:
        """Rewrite the file with the entries ``left`` (those not in the database yet)."""
        data = b"".join(
            json.dumps(w.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            + b"\n"
            for w in left
        )
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, data)
        os.fsync(self._fd)


class OrderJournal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # --- appending ------------------------------------------------------------------

    def _open_locked(self) -> int:
        """An fd of the file now at ``path``, opened for appending and exclusively locked."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)  # renamed by a replay while we waited: open the new file

    def append(self, write: OrderWrite) -> None:
        """Write one entry and fsync it (raises ``OSError`` if the disk refuses)."""
        line = json.dumps(write.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
        data = line.encode("utf-8")
        fd = self._open_locked()
        try:
            created = os.fstat(fd).st_size == 0
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock
        if created:
            _fsync_dir(self.path.parent)

    # --- replaying ------------------------------------------------------------------

    def _replay_files(self) -> list[Path]:
        return sorted(self.path.parent.glob(f"{self.path.name}.*.replay"))

    def take(self) -> list[Path]:
        """Move the current journal aside for replay; return every file waiting for replay."""
        if self.path.exists():
            fd = self._open_locked()
            try:
                if os.fstat(fd).st_size > 0:
                    stamp = time.strftime("%Y%m%dT%H%M%S")
                    target = self.path.with_name(
                        f"{self.path.name}.{stamp}-{secrets.token_hex(3)}.replay"
                    )
                    os.rename(self.path, target)
                    _fsync_dir(self.path.parent)
            finally:
                os.close(fd)
        return self._replay_files()

    @contextlib.contextmanager
    def replaying(self, path: Path) -> Iterator[Replay | None]:
        """Lock one replay file and read its entries; None when another process has it."""
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            if not path.exists():  # finished and deleted by another process meanwhile
                yield None
                return
            with os.fdopen(os.dup(fd), "rb") as handle:
                raw_lines = handle.read().splitlines()
            writes, good, rejected = self._parse(raw_lines)
            if rejected:
                self._reject(rejected)
                # keep only the good lines, so the bad ones are moved aside exactly once
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, b"".join(line + b"\n" for line in good))
                os.fsync(fd)
            yield Replay(fd, writes)
        finally:
            os.close(fd)

    @staticmethod
    def _parse(raw_lines: list[bytes]) -> tuple[list[OrderWrite], list[bytes], list[bytes]]:
        writes: list[OrderWrite] = []
        good: list[bytes] = []
        rejected: list[bytes] = []
        for raw in raw_lines:
            if not raw.strip():
                continue
            try:
                writes.append(OrderWrite.from_json(json.loads(raw.decode("utf-8"))))
                good.append(raw)
            except (ValueError, UnicodeDecodeError):
                rejected.append(raw)
        return writes, good, rejected

    def _reject(self, lines: list[bytes]) -> None:
        target = self.path.with_name(self.path.name + ".rejected")
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"".join(line + b"\n" for line in lines))
            os.fsync(fd)
        finally:
            os.close(fd)
        log.error(
            "unreadable order journal lines moved aside",
            extra={"lines": len(lines), "file": target.name},
        )

    def done(self, path: Path) -> None:
        """Every entry of this replay file is in the database: delete it."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _fsync_dir(path.parent)

    def pending(self) -> int:
        """How many entries wait for the database (current journal and replay files)."""
        count = 0
        for path in [self.path, *self._replay_files()]:
            with contextlib.suppress(FileNotFoundError), path.open("rb") as handle:
                count += sum(1 for line in handle if line.strip())
        return count
