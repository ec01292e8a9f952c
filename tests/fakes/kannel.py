"""A real Kannel for tests: Debian's ``bearerbox`` + ``smsbox`` and Kannel's own ``fakesmsc``.

    kannel = KannelServer.start()           # temp folder, free loopback ports, kannel.conf
    kannel.sendsms_url                      # http://127.0.0.1:<port>/cgi-bin/sendsms
    kannel.wait_for_messages(1)             # what fakesmsc received, parsed
    kannel.stop_smsbox(); kannel.start_smsbox()   # the HTTP interface down, then up again
    kannel.stop()

``bearerbox`` and ``smsbox`` come from Debian's ``kannel``, ``fakesmsc`` (an SMSC that
prints every message it gets: ``Got message N: <from> <to> <type> <data>``) from
``kannel-extras`` (``/usr/lib/kannel/test``); both are in ``scripts/apt-packages.txt``.
``fakesmsc`` connects to bearerbox's ``smsc = fake`` port; the smsbox serves ``sendsms`` for
the user ``bot`` (password ``secret-pw``). Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.smtp_server import free_port

BEARERBOX = Path(os.environ.get("KANNEL_BEARERBOX", "/usr/sbin/bearerbox"))
SMSBOX = Path(os.environ.get("KANNEL_SMSBOX", "/usr/sbin/smsbox"))
FAKESMSC = Path(os.environ.get("KANNEL_FAKESMSC", "/usr/lib/kannel/test/fakesmsc"))
USER = "bot"
PASSWORD = "secret-pw"
_GOT = re.compile(r"Got message (\d+): <(.*)>\s*$")


class KannelUnavailable(RuntimeError):
    """Kannel's binaries are not installed here (apt-get install kannel kannel-extras)."""


@dataclass(frozen=True)
class FakeSmscMessage:
    """One message as fakesmsc printed it: ``<from> <to> <kind> <data>``, or for a part of a
    concatenated message ``<from> <to> udh <udh> <kind> <data>`` (data urlencoded)."""

    sender: str
    receiver: str
    kind: str  # text | data | ucs-2 (and, after a udh, the part's kind)
    data: bytes
    udh: bytes = b""

    @property
    def text(self) -> str:
        """The text of a single message (``ucs-2`` decoded as UTF-16BE)."""
        if self.kind == "ucs-2":
            return self.data.decode("utf-16-be", "replace")
        return self.data.decode("latin-1")


def _unquote(value: str) -> bytes:
    return urllib.parse.unquote_to_bytes(value.replace("+", " "))


def parse_fakesmsc_line(line: str) -> FakeSmscMessage | None:
    match = _GOT.search(line)
    if match is None:
        return None
    parts = match.group(2).split(" ")
    if len(parts) < 4:
        return None
    sender, receiver, kind, rest = parts[0], parts[1], parts[2], parts[3:]
    udh = b""
    if kind == "udh" and len(rest) >= 3:
        udh, kind, rest = _unquote(rest[0]), rest[1], rest[2:]
    return FakeSmscMessage(sender, receiver, kind, _unquote(" ".join(rest)), udh)


def join_parts(messages: list[FakeSmscMessage]) -> str:
    """The text of a concatenated UCS-2 message from its parts (ordered by the UDH)."""
    ordered = sorted(messages, key=lambda m: m.udh[-1] if m.udh else 0)
    return b"".join(m.data for m in ordered).decode("utf-16-be", "replace")


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class KannelServer:
    root: Path
    admin_port: int
    box_port: int
    smsc_port: int
    sendsms_port: int
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    @property
    def config(self) -> Path:
        return self.root / "kannel.conf"

    @classmethod
    def start(cls) -> KannelServer:
        for binary in (BEARERBOX, SMSBOX, FAKESMSC):
            if not binary.is_file():
                raise KannelUnavailable(
                    f"{binary} not found (apt-get install kannel kannel-extras)"
                )
        root = Path(tempfile.mkdtemp(prefix="bot-kannel-"))
        server = cls(root, free_port(), free_port(), free_port(), free_port())
        try:
            server._write_config()
            server._spawn("bearerbox", [str(BEARERBOX), "-v", "1", str(server.config)])
            _wait_port(server.smsc_port, 15)
            _wait_port(server.box_port, 15)
            server._start_fakesmsc()
            server.start_smsbox()
            server.wait_smsc_online(15)
        except BaseException:
            server.stop()
            raise
        return server

    def _write_config(self) -> None:
        root = self.root
        self.config.write_text(
            f"""group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = {PASSWORD}
smsbox-port = {self.box_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{root}/bearerbox.log"
log-level = 1
access-log = "{root}/access.log"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.box_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{root}/smsbox.log"
log-level = 1
access-log = "{root}/smsbox-access.log"
mo-recode = true

group = sendsms-user
username = {USER}
password = {PASSWORD}
concatenation = true
max-messages = 10

group = sms-service
keyword = default
text = "ok"
catch-all = true
""",
            encoding="utf-8",
        )

    def _spawn(self, name: str, command: list[str]) -> None:
        out = (self.root / f"{name}.out").open("ab")
        self._procs[name] = subprocess.Popen(
            command, cwd=self.root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()

    def _start_fakesmsc(self) -> None:
        # -m 0: the fake SMSC sends no messages of its own, it only prints what it receives
        self._spawn(
            "fakesmsc",
            [str(FAKESMSC), "-H", "127.0.0.1", "-r", str(self.smsc_port), "-m", "0", "1 2 text x"],
        )

    def start_smsbox(self) -> None:
        self._spawn("smsbox", [str(SMSBOX), "-v", "1", str(self.config)])
        _wait_port(self.sendsms_port, 15)

    def stop_smsbox(self) -> None:
        self._terminate("smsbox")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.sendsms_port), 0.2):
                    pass
            except OSError:
                return
            time.sleep(0.1)

    def status(self) -> str:
        query = urllib.parse.urlencode({"password": PASSWORD})
        url = f"http://127.0.0.1:{self.admin_port}/status.txt?{query}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode("utf-8", "replace"))

    def wait_smsc_online(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, urllib.error.URLError):
                text = self.status()
                if re.search(r"fake\[fake\].*online", text) or re.search(r"\bonline\b", text):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"Kannel's fake SMSC is not online: {text[-500:]}")

    def received(self) -> list[FakeSmscMessage]:
        path = self.root / "fakesmsc.out"
        if not path.exists():
            return []
        lines = path.read_text("utf-8", "replace").splitlines()
        return [m for m in map(parse_fakesmsc_line, lines) if m is not None]

    def wait_for_messages(self, count: int, timeout: float = 15.0) -> list[FakeSmscMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received()
            if len(got) >= count:
                return got
            time.sleep(0.1)
        return self.received()

    def log(self, name: str = "smsbox") -> str:
        path = self.root / f"{name}.log"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    def _terminate(self, name: str) -> None:
        proc = self._procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        for name in ("smsbox", "fakesmsc", "bearerbox"):
            self._terminate(name)
        shutil.rmtree(self.root, ignore_errors=True)


def start_for_tests() -> KannelServer:
    """Start Kannel, or skip the test on a developer's machine without it; under
    ``SPEECH_REQUIRE_ENGINES=1`` (``make test``) or ``CI`` a missing Kannel fails."""
    import pytest

    try:
        return KannelServer.start()
    except KannelUnavailable as exc:
        if os.environ.get("SPEECH_REQUIRE_ENGINES") == "1" or os.environ.get("CI"):
            pytest.fail(f"Kannel is required here: {exc}")
        pytest.skip(str(exc))
