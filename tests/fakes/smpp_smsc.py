"""SMPP SMSCs for the SMPP client's tests, over real TCP on 127.0.0.1.

- :class:`DriveSmpp` runs Kannel's own SMSC simulator ``drive_smpp`` (Debian
  ``kannel-extras``, ``/usr/lib/kannel/test``): real third-party SMPP 3.4 code that answers
  ``bind_transmitter``, ``submit_sm``, ``enquire_link`` and ``unbind`` and logs each
  ``submit_sm``. It serves ONE client connection and exits when that closes. It also insists
  on reaching a bearerbox at 127.0.0.1:13001 (fixed in its code) and panics if nothing
  listens there, so we hold a plain listener on that port while it runs.
- :class:`FakeSmsc` is ours: an asyncio SMSC whose answers a test scripts (a status for
  each ``submit_sm``, silence, a refused bind), which keeps every ``submit_sm`` decoded by its
  own small parser (written from the SMPP 3.4 specification, §4.4.1, not from the client's
  codec), for what ``drive_smpp`` cannot show: UCS-2 bytes, UDH, TLVs, failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.smtp_server import free_port

DRIVE_SMPP = Path(os.environ.get("KANNEL_DRIVE_SMPP", "/usr/lib/kannel/test/drive_smpp"))
DRIVE_SMPP_BEARERBOX_PORT = 13001


class DriveSmppUnavailable(RuntimeError):
    pass


@dataclass
class DriveSmpp:
    port: int
    root: Path
    proc: subprocess.Popen[bytes]
    holder: socket.socket | None

    @classmethod
    def start(cls) -> DriveSmpp:
        if not DRIVE_SMPP.is_file():
            raise DriveSmppUnavailable(f"{DRIVE_SMPP} not found (apt-get install kannel-extras)")
        holder: socket.socket | None = socket.socket()
        assert holder is not None
        try:
            holder.bind(("127.0.0.1", DRIVE_SMPP_BEARERBOX_PORT))
            holder.listen()
        except OSError:  # something listens there already: drive_smpp connects to that
            holder.close()
            holder = None
        root = Path(tempfile.mkdtemp(prefix="bot-drive-smpp-"))
        port = free_port()
        command = [str(DRIVE_SMPP), "-v", "0", "-p", str(port), "-m", "0", "-l", "drive.log"]
        proc = subprocess.Popen(
            command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        server = cls(port, root, proc, holder)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "Starting drive_smpp" in server.log() and _listening(port):
                return server
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        server.stop()
        raise RuntimeError(f"drive_smpp did not start: {server.log()[-500:]}")

    def log(self) -> str:
        path = self.root / "drive.log"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    def submitted(self) -> list[str]:
        """The ``short_message`` of every submit_sm, as drive_smpp logged it."""
        marker = "submit_sm: short_message = <"
        return [
            line.split(marker, 1)[1].rsplit(">", 1)[0]
            for line in self.log().splitlines()
            if marker in line
        ]

    def handled(self, pdu_type: str) -> int:
        return self.log().count(f"Handling SMPP PDU of type {pdu_type}\n")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.holder is not None:
            self.holder.close()
        with contextlib.suppress(OSError):
            for path in self.root.iterdir():
                path.unlink()
            self.root.rmdir()


def _listening(port: int) -> bool:
    """Whether a socket listens on ``port`` (read from /proc: connecting to drive_smpp would
    be its one client, and it exits when that closes)."""
    wanted = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 3 and (fields[1] + " ").endswith(wanted) and fields[3] == "0A":
                    return True
    return False


# --- our scripted SMSC --------------------------------------------------------------------


@dataclass
class Submitted:
    source_ton: int
    source_npi: int
    source: str
    dest_ton: int
    dest_npi: int
    destination: str
    esm_class: int
    registered_delivery: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]


def _cstr(body: bytes, at: int) -> tuple[str, int]:
    end = body.index(b"\0", at)
    return body[at:end].decode("latin-1"), end + 1


def parse_submit_sm(body: bytes) -> Submitted:
    """SMPP 3.4 §4.4.1: service_type, source (ton, npi, addr), destination (ton, npi, addr),
    esm_class, protocol_id, priority_flag, schedule_delivery_time, validity_period,
    registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id, sm_length,
    short_message, then TLVs (tag, length, value)."""
    _, at = _cstr(body, 0)
    s_ton, s_npi = body[at], body[at + 1]
    source, at = _cstr(body, at + 2)
    d_ton, d_npi = body[at], body[at + 1]
    destination, at = _cstr(body, at + 2)
    esm_class = body[at]
    at += 3
    _, at = _cstr(body, at)
    _, at = _cstr(body, at)
    registered, coding, length = body[at], body[at + 2], body[at + 4]
    at += 5
    message = body[at : at + length]
    at += length
    tlvs: dict[int, bytes] = {}
    while at + 4 <= len(body):
        tag, size = struct.unpack_from(">HH", body, at)
        tlvs[tag] = body[at + 4 : at + 4 + size]
        at += 4 + size
    return Submitted(
        s_ton, s_npi, source, d_ton, d_npi, destination, esm_class, registered, coding,
        message, tlvs,
    )  # fmt: skip


@dataclass
class FakeSmsc:
    """``statuses``: the command_status of each submit_sm in turn (then 0); ``None`` in the
    list = no response at all; ``bind_status`` for every bind."""

    statuses: list[int | None] = field(default_factory=list)
    bind_status: int = 0
    submitted: list[Submitted] = field(default_factory=list)
    binds: list[tuple[str, str]] = field(default_factory=list)
    enquire_links: int = 0
    unbinds: int = 0
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _next_id: int = 1

    async def start(self) -> FakeSmsc:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readexactly(16)
                length, command, _, seq = struct.unpack(">IIII", head)
                body = await reader.readexactly(length - 16)
                reply = self._answer(command, seq, body)
                if reply is not None:
                    writer.write(reply)
                    await writer.drain()
                if command == 0x00000006:  # unbind
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(self, command: int, seq: int, body: bytes) -> bytes | None:
        def pdu(command_id: int, status: int, payload: bytes = b"") -> bytes:
            return struct.pack(">IIII", 16 + len(payload), command_id, status, seq) + payload

        if command == 0x00000002:  # bind_transmitter
            system_id, at = _cstr(body, 0)
            password, _ = _cstr(body, at)
            self.binds.append((system_id, password))
            return pdu(0x80000002, self.bind_status, b"FakeSMSC\0")
        if command == 0x00000004:  # submit_sm
            self.submitted.append(parse_submit_sm(body))
            status = self.statuses.pop(0) if self.statuses else 0
            if status is None:
                return None
            message_id = f"m{self._next_id}".encode() if status == 0 else b""
            self._next_id += 1
            return pdu(0x80000004, status, message_id + b"\0")
        if command == 0x00000015:
            self.enquire_links += 1
            return pdu(0x80000015, 0)
        if command == 0x00000006:
            self.unbinds += 1
            return pdu(0x80000006, 0)
        return pdu(0x80000000, 0x00000003)  # generic_nack: invalid command id
