"""Kamailio (registrar and record-routing proxy with digest auth) and SIPp (scenario files in
``tests/fakes/sipp``) for the SIP connector's tests, on free loopback ports, started by the
tests; a missing one fails the test with the package to install (never skipped)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.fakes.sip_peers import free_port, need

SIPP_DIR = Path(__file__).with_name("sipp")
KAMAILIO_MODULES = next(
    (str(p) + "/" for p in sorted(Path("/usr/lib").glob("*/kamailio/modules"))),
    "/usr/lib/x86_64-linux-gnu/kamailio/modules/",
)  # Debian's multiarch folder


KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=2
tcp_children=2
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
alias="127.0.0.1:{port}"
auto_aliases=no
mpath="{modules}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "nathelper.so"
modparam("registrar", "min_expires", 5)
modparam("registrar", "default_expires", {expires})
modparam("registrar", "max_expires", {expires})
modparam("auth", "algorithm", "{algorithm}")
modparam("rr", "enable_full_lr", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    xlog("L_NOTICE", "REQ $rm from=$si:$sp name=$hdr(X-Caller-Name)\\n");
    if (is_method("OPTIONS") && uri==myself && $rU==$null) {{
        sl_send_reply("200", "Keepalive"); exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            xlog("L_NOTICE", "INDIALOG $rm via proxy\\n"); t_relay(); exit;
        }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here"); exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    if (is_method("REGISTER")) {{
        if (!pv_auth_check("$fd", "{password}", "0", "1")) {{
            auth_challenge("$fd", "1"); exit;
        }}
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    if (is_method("INVITE|SUBSCRIBE|REFER")) {{ record_route(); }}
    if ($rU == "{operator}") {{
        $du = "sip:127.0.0.1:{operator_port}";
        t_relay(); exit;
    }}
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    t_relay();
}}
"""


class Kamailio:
    """Registrar + record-routing proxy; ``operator`` calls go to a fixed port."""

    def __init__(
        self,
        folder: Path,
        *,
        password: str = "secret",
        algorithm: str = "MD5",
        expires: int = 60,
        operator: str = "operator",
        operator_port: int = 9,
    ) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.algorithm = algorithm
        self.expires = expires
        self.operator = operator
        self.operator_port = operator_port
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / "kamailio.log"

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    async def start(self) -> None:
        binary = need("kamailio", "kamailio")
        cfg = self.folder / "kamailio.cfg"
        cfg.write_text(
            KAMAILIO_CFG.format(
                port=self.port,
                modules=KAMAILIO_MODULES,
                password=self.password,
                algorithm=self.algorithm,
                expires=self.expires,
                operator=self.operator,
                operator_port=self.operator_port,
            )
        )
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process keeps it
        self.proc = await asyncio.create_subprocess_exec(
            binary,
            "-f",
            str(cfg),
            "-DD",
            "-E",
            "-Y",
            str(self.folder),
            "-w",
            str(self.folder),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while "INFO: <core>" not in self.log() and "listening on" not in self.log():
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"kamailio did not start: {self.log()[-3000:]}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None


@contextlib.asynccontextmanager
async def kamailio(folder: Path, **kw: Any) -> AsyncIterator[Kamailio]:
    proxy = Kamailio(folder, **kw)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


async def sipp(
    scenario: str,
    target: str,
    folder: Path,
    *,
    calls: int = 1,
    rate: int = 10,
    timeout: float = 30.0,
    extra: list[str] | None = None,
    values: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run one SIPp scenario (``tests/fakes/sipp/<scenario>.xml``, ``@NAME@`` filled from
    ``values``) against ``target``; returns (exit code: 0 all calls passed, 1 some failed,
    …) and its output, screen and error files."""
    binary = need("sipp", "sip-tester")
    folder.mkdir(parents=True, exist_ok=True)
    text = (SIPP_DIR / f"{scenario}.xml").read_text()
    for name, value in (values or {}).items():
        text = text.replace(f"@{name}@", value)
    scenario_file = folder / f"{scenario}.xml"
    scenario_file.write_text(text)
    port = free_port(both=False)
    args = [
        binary,
        target,
        "-sf",
        str(scenario_file),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(calls),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-bg",
        "-nostdin",
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        "-trace_err",
        "-trace_screen",
        "-mp",
        str(free_port(both=False) & ~1),
        *(extra or []),
    ]
    args.remove("-bg")
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=folder,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(timeout + 10):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    screens = "".join(p.read_text("utf-8", "replace") for p in folder.glob("*screen*"))
    errors = "".join(p.read_text("utf-8", "replace") for p in folder.glob("*errors*"))
    return proc.returncode or 0, out.decode("utf-8", "replace") + screens + errors
