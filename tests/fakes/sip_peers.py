"""Real SIP phones from Debian for the SIP connector's tests, in a temporary folder on free
loopback ports: ``baresip`` (WAV microphone via ``aufile``, both directions recorded via
``sndfile``, driven over ``ctrl_tcp``), and the SNR of a recording. ``kamailio`` and
``sipp`` are in :mod:`tests.fakes.sip_servers`.

They are installed by ``scripts/bootstrap.sh`` (``scripts/apt-packages.txt``); a missing
one fails the test with the package to install, it is never skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any


def need(binary: str, package: str) -> str:
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None
    )
    if path is None:
        raise AssertionError(
            f"{binary} is missing: apt-get install {package} (scripts/bootstrap.sh does it)"
        )
    return path


def free_port(kind: int = socket.SOCK_DGRAM, both: bool = True) -> int:
    """A port free for UDP and (``both``) TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            if not both:
                return port
            other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
            with socket.socket(socket.AF_INET, other) as second:
                try:
                    second.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise OSError("no free port")


def free_sip_port() -> int:
    """A SIP port for baresip: free for UDP and TCP, and ``port + 1`` free for TCP, where
    baresip binds its SIP/TLS transport (a CI run once failed on exactly that bind)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tls:
            try:
                tls.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise OSError("no free port pair")


def netstring(obj: dict[str, Any]) -> bytes:
    data = json.dumps(obj).encode()
    return str(len(data)).encode() + b":" + data + b","


class Baresip:
    """One baresip process: a phone with a WAV microphone, recorded both ways."""

    def __init__(
        self,
        folder: Path,
        *,
        mic: Path,
        account: str = "<sip:caller@127.0.0.1>;regint=0",
        codec: str = "PCMA",
        answer: bool = False,
    ) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.mic = mic
        self._pick_ports()
        options = f";audio_codecs={codec}" + (";answermode=auto" if answer else "")
        self.account = account + options
        self.events: list[dict[str, Any]] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._event = asyncio.Event()

    def _pick_ports(self) -> None:
        self.sip_port = free_sip_port()
        self.ctrl_port = free_port(socket.SOCK_STREAM, both=False)
        self.rtp_low = free_port(both=False) & ~1

    @property
    def uri(self) -> str:
        return f"sip:{self.account.split('sip:', 1)[1].split('@')[0]}@127.0.0.1:{self.sip_port}"

    def _config(self) -> str:
        return "\n".join(
            [
                "poll_method epoll",
                "net_interface 127.0.0.1",
                f"sip_listen 127.0.0.1:{self.sip_port}",
                f"audio_source aufile,{self.mic}",
                "audio_alert aufile,/dev/null",
                "ausrc_srate 8000",
                "auplay_srate 8000",
                "audio_channels 1",
                "module_path /usr/lib/baresip/modules",
                *(f"module {m}.so" for m in ("g711", "aufile", "sndfile", "account", "menu")),
                "module ctrl_tcp.so",
                f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                f"snd_path {self.folder}",
                f"rtp_ports {self.rtp_low}-{self.rtp_low + 40}",
                "rtp_timeout 0",
                "",
            ]
        )

    async def start(self) -> None:
        """Start baresip; when a port it wanted was taken meanwhile by another process (the
        ports are picked free, then bound by baresip a moment later), pick new ones and
        start again, at most three times."""
        for attempt in range(3):
            try:
                await self._start_once()
                return
            except AssertionError:
                if attempt == 2 or "Address already in use" not in self.log():
                    raise
                self._pick_ports()

    async def _start_once(self) -> None:
        binary = need("baresip", "baresip-core")
        (self.folder / "config").write_text(self._config())
        (self.folder / "accounts").write_text(self.account + "\n")
        (self.folder / "contacts").write_text("")
        log = open(self.folder / "baresip.log", "wb")  # noqa: SIM115 - the process keeps it
        self.proc = await asyncio.create_subprocess_exec(
            binary,
            "-f",
            str(self.folder),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.returncode is not None:
                    raise AssertionError(f"baresip did not start: {self.log()[-2000:]}") from None
                await asyncio.sleep(0.05)
        self._reader = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            while True:
                length = int((await reader.readuntil(b":"))[:-1])
                data = await reader.readexactly(length + 1)
                message = json.loads(data[:-1])
                if message.get("event"):
                    self.events.append(message)
                    self._event.set()

    async def command(self, command: str, params: str = "") -> None:
        assert self._writer is not None
        self._writer.write(netstring({"command": command, "params": params, "token": "t"}))
        await self._writer.drain()

    async def dial(self, uri: str) -> None:
        await self.command("dial", uri)

    async def keys(self, digits: str, gap: float = 0.25) -> None:
        for digit in digits:
            await self.command("sndcode", digit)
            await asyncio.sleep(gap)

    async def microphone(self, wav: Path) -> None:
        """Switch the microphone to another WAV mid-call."""
        await self.command("ausrc", f"aufile,{wav}")

    async def wait_event(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if event.get("type") == kind:
                        return event
                self._event.clear()
                await self._event.wait()

    def has_event(self, kind: str) -> bool:
        return any(e.get("type") == kind for e in self.events)

    def recordings(self) -> tuple[Path, Path]:
        """(what this phone sent: ``-enc.wav``, what it heard: ``-dec.wav``), newest."""
        enc = sorted(self.folder.glob("dump-*-enc.wav"))
        dec = sorted(self.folder.glob("dump-*-dec.wav"))
        assert enc and dec, f"no sndfile recordings in {self.folder}"
        return enc[-1], dec[-1]

    def log(self) -> str:
        path = self.folder / "baresip.log"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@contextlib.asynccontextmanager
async def baresip(folder: Path, **kw: Any) -> AsyncIterator[Baresip]:
    phone = Baresip(folder, **kw)
    await phone.start()
    try:
        yield phone
    finally:
        await phone.stop()


def snr_db(reference: Any, received: Any, rate: int = 8000) -> float:
    """SNR of ``received`` against ``reference`` (int16 arrays) after aligning them by
    cross-correlation and matching the gain; only where the reference is voiced. A signal
    that came back inverted (a sign error in a codec) gives the SNR negated."""
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64)
    got = np.asarray(received, dtype=np.float64)
    size = 1 << int(np.ceil(np.log2(len(ref) + len(got))))
    corr = np.fft.irfft(np.fft.rfft(got, size) * np.conj(np.fft.rfft(ref, size)), size)
    lag = int(np.argmax(np.abs(corr)))  # an inverted signal aligns too, and shows as such
    if lag > size // 2:
        lag -= size
    if lag >= 0:
        got = got[lag:]
    else:
        ref = ref[-lag:]
    n = min(len(ref), len(got))
    ref, got = ref[:n], got[:n]
    window = rate // 50
    frames = n // window
    energy = (ref[: frames * window].reshape(frames, window) ** 2).mean(axis=1)
    voiced = np.repeat(energy > (energy.max() * 1e-3), window)
    ref, got = ref[: frames * window][voiced], got[: frames * window][voiced]
    gain = float(np.dot(ref, got) / max(np.dot(got, got), 1e-9))
    noise = ref - gain * got
    snr = float(10 * np.log10(np.sum(ref**2) / max(np.sum(noise**2), 1e-9)))
    return snr if gain > 0 else -snr  # inverted polarity (aiortp's PCMA bug) fails the check
