"""The browser page ``/talk`` in a real headless Chromium against the real :class:`BotServer`.

Chromium (Debian package ``chromium``, listed in scripts/apt-packages.txt) runs headless with a
fake microphone and is driven over the Chrome DevTools Protocol with aiohttp's WebSocket client,
no Selenium or Playwright. The page starts the call itself (``?autostart=1``), captures the
microphone through its AudioWorklet, sends 16 kHz PCM to ``/ws/browser/<secret>``, plays the
bot's voice and logs what the server tells it; the tests read that log and ``window.talkStats``.

- keypad: the microphone is Chromium's beep; the caller name arrives, the bot's voice plays,
  then the keypad «0», «#» hands the call to the operator;
- speech: the microphone is a WAV of Festival asking for an operator; the bot hears it over its
  greeting (Whisper) and hands the call over.

No Chromium (or Festival): skipped, unless ``SPEECH_REQUIRE_ENGINES`` is set (``make test``), then
failed. ``TALK_SCREENSHOT=1`` also saves the keypad call's page as docs/talk-page.png.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.server import BotServer
from speech.audio import Audio
from speech.errors import EngineUnavailable
from speech.tts import create_synthesizer
from tests.e2e.test_e2e_server import SECRET, make_settings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "talk-page.png"
BUDGET_S = 30.0  # Chromium's start and the call; stopping it and the server takes ~1 s more
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=900,900",
    # a fake microphone (a beep) that needs no permission prompt; audio may play unprompted
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-port=0",
)
PAGE_STATE = """(() => document.getElementById("log") && window.talkStats ? {
  log: document.getElementById("log").innerText,
  status: document.getElementById("status").textContent,
  stats: window.talkStats,
} : null)()"""  # null until talk.html and talk.js have loaded
NAME_PREFIX = "имя для оператора: "


def need(available: object, reason: str) -> None:
    """Skip unless ``available``; fail instead when ``SPEECH_REQUIRE_ENGINES`` is set."""
    if not available:
        if os.environ.get("SPEECH_REQUIRE_ENGINES"):
            pytest.fail(f"{reason} (SPEECH_REQUIRE_ENGINES is set)")
        pytest.skip(reason)


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    need(path, "Chromium is not installed: run scripts/bootstrap.sh (apt-get install chromium)")
    assert path is not None
    return path


@pytest.fixture
async def server(chromium: str, tmp_path: Path) -> AsyncIterator[BotServer]:
    """The real server (HTTP only); requested after ``chromium`` so a skip costs nothing."""
    settings = make_settings(tmp_path)
    settings.server.asterisk.enabled = False
    settings.server.sip.enabled = False  # SIP has its own tests; its fixed port would collide
    bot = BotServer(settings)
    bot.public_sounds = tmp_path / "sounds"
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


# -- Chromium ------------------------------------------------------------------------------


@dataclass
class Browser:
    process: asyncio.subprocess.Process
    ws_url: str
    log_path: Path

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        useful = [line for line in text.splitlines() if "dbus" not in line]
        return "\n".join(useful[-lines:])


@contextlib.asynccontextmanager
async def launch_chromium(binary: str, *flags: str) -> AsyncIterator[Browser]:
    """Chromium in a fresh temporary profile and home; on exit it is killed with all of its
    helpers and the temporary folder is removed."""
    root = Path(tempfile.mkdtemp(prefix="talk-chromium-"))
    home = root / "home"  # Chromium's crash database, dconf and such stay out of ~
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    profile = root / "profile"
    log_path = root / "chromium.log"
    process: asyncio.subprocess.Process | None = None
    try:
        home.mkdir()
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                binary,
                *CHROMIUM_FLAGS,
                *flags,
                f"--user-data-dir={profile}",
                "about:blank",
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # the browser and its helpers share one group to kill
            )
        browser = Browser(process, "", log_path)
        browser.ws_url = await devtools_url(browser, profile / "DevToolsActivePort")
        yield browser
    finally:
        if process is not None:
            await kill_group(process)
        for pid in processes_mentioning(str(root)):  # crashpad handlers leave the group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


def processes_mentioning(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (our unique temporary folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


async def devtools_url(browser: Browser, port_file: Path, timeout: float = 10.0) -> str:
    """Chromium writes the port it chose (``--remote-debugging-port=0``) and the path."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if browser.process.returncode is not None:
            raise RuntimeError(
                f"Chromium exited with {browser.process.returncode}:\n{browser.log_tail()}"
            )
        with contextlib.suppress(OSError):
            lines = port_file.read_text().split()
            if len(lines) == 2:
                return f"ws://127.0.0.1:{int(lines[0])}{lines[1]}"
        await asyncio.sleep(0.05)
    raise TimeoutError(f"Chromium wrote no {port_file.name} in {timeout} s:\n{browser.log_tail()}")


async def kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the browser (it stops and reaps its helpers), then SIGKILL its process group:
    whatever is left after 5 s, or at once if this wait is cut short."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5)
    finally:
        signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), 5)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# -- the DevTools protocol -------------------------------------------------------------------


class CdpError(RuntimeError):
    pass


class Cdp:
    """Commands and events over the browser's DevTools WebSocket (flat sessions)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                future = self.pending.pop(data.get("id", -1), None)
                if future is None:
                    self.events.append(data)
                elif future.done():
                    continue
                elif "error" in data:
                    future.set_exception(CdpError(str(data["error"])))
                else:
                    future.set_result(data.get("result", {}))
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the DevTools connection closed"))

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)

    def page_errors(self) -> list[str]:
        errors = []
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                exception = details.get("exception", {})
                errors.append(str(exception.get("description") or details.get("text")))
            elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "assert",
            ):
                errors.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
            elif event.get("method") == "Log.entryAdded":
                entry = params.get("entry", {})
                if entry.get("level") == "error":
                    errors.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
        return errors


@dataclass
class Page:
    cdp: Cdp
    session: str

    @classmethod
    async def open(cls, cdp: Cdp) -> Page:
        target = await cdp.call("Target.createTarget", {"url": "about:blank"})
        attached = await cdp.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = cls(cdp, attached["sessionId"])
        await page.call("Runtime.enable")
        await page.call("Log.enable")  # failed loads (a 404 for talk.js), media errors
        await page.call("Page.enable")
        return page

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.cdp.call(method, params, session=self.session)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def state(self) -> dict[str, Any]:
        state = await self.evaluate(PAGE_STATE)
        if state is None:  # still loading
            return {"log": "", "status": "(loading)", "stats": {}}
        assert isinstance(state, dict)
        return state

    async def wait_until(
        self, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = 15.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = await self.state()
            if check(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the page never showed {what} in {timeout} s; status "
                    f"{state['status']!r}, stats {state['stats']}, errors "
                    f"{self.cdp.page_errors()}, log:\n{state['log']}"
                )
            await asyncio.sleep(0.1)

    async def press(self, key: str) -> None:
        clicked = await self.evaluate(
            "(() => { const b = [...document.querySelectorAll('#keypad button')]"
            f".find((b) => b.textContent.trim() === {json.dumps(key)});"
            " if (b) b.click(); return Boolean(b); })()"
        )
        assert clicked, f"no keypad button {key!r}"

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))


def caller_name(state: dict[str, Any]) -> str | None:
    for line in state["log"].splitlines():
        if NAME_PREFIX in line:
            return line.split(NAME_PREFIX, 1)[1].strip()
    return None


def bot_audio_played(state: dict[str, Any]) -> bool:
    stats = state["stats"]
    # > 1 s of the bot's voice arrived (50 frames of 20 ms) and 0.5 s of it played to the end
    return stats.get("framesReceived", 0) > 50 and stats.get("secondsPlayed", 0) > 0.5


# -- the tests -------------------------------------------------------------------------------


async def test_talk_page_keypad_transfer(
    chromium: str, server: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Fake microphone (a beep): the bot answers, names the caller, talks; «0», «#» transfer."""
    caplog.set_level(logging.INFO, logger="bot.server")

    async def scenario(page: Page) -> dict[str, Any]:
        state = await page.wait_until(
            lambda s: caller_name(s) is not None and bot_audio_played(s),
            "the caller name and the bot's voice",
        )
        assert caller_name(state), "the bot sent an empty caller name"
        assert "соединено: ws://" in state["log"] and "16000 Гц" in state["log"]
        assert state["stats"]["framesSent"] > 10, "the fake microphone reached the socket"
        assert server.calls_total >= 1 and server.sessions, "the server has the browser call"
        await page.press("0")
        await page.press("#")
        state = await page.wait_until(
            lambda s: "соединение закрыто" in s["log"], "the hand-off", timeout=10
        )
        assert "набрано: 0" in state["log"] and "набрано: #" in state["log"]
        return state

    state = await run_call(chromium, server, scenario, screenshot=True)
    assert "перевод звонка: operator" in state["log"], state["log"]
    assert "соединение закрыто: 1000 transfer" in state["log"], state["log"]
    assert end_reasons(caplog) == ["transfer:caller_request"]


async def run_call(
    chromium: str,
    server: BotServer,
    scenario: Callable[[Page], Awaitable[dict[str, Any]]],
    *flags: str,
    screenshot: bool = False,
) -> dict[str, Any]:
    """Open /talk?autostart=1 in Chromium, run ``scenario``, check the call ended cleanly."""
    started = time.monotonic()
    async with launch_chromium(chromium, *flags) as browser:  # killed even on a timeout
        try:
            async with (
                asyncio.timeout(BUDGET_S - elapsed(started)),  # what Chromium's start left
                open_talk_page(browser, server) as page,
            ):
                state = await scenario(page)
                assert state["status"] == "не подключено"
                for bad in ("ошибка WebSocket", "не JSON", "непонятное сообщение", "нет доступа"):
                    assert bad not in state["log"], state["log"]
                assert page.cdp.page_errors() == []
                assert server.calls_total >= 1
                while server.sessions:  # the server finishes the call (and logs how it ended)
                    await asyncio.sleep(0.05)
                if screenshot and os.environ.get("TALK_SCREENSHOT") == "1":
                    await page.screenshot(SCREENSHOT)
        except BaseException:
            print(f"Chromium log (tail):\n{browser.log_tail()}")
            for session in server.sessions:
                print("the bot heard:", [(t.source, t.text, t.intent) for t in session.log.turns])
            raise
    print(
        f"\ntalk page: the call ended {time.monotonic() - started:.1f} s after Chromium started; "
        f"caller name {caller_name(state)!r}; {state['stats']}; page log:\n{state['log']}"
    )
    return state


@contextlib.asynccontextmanager
async def open_talk_page(browser: Browser, server: BotServer) -> AsyncIterator[Page]:
    url = server.addresses["http"] + f"/talk?suffix=/{SECRET}&autostart=1"
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(browser.ws_url, max_msg_size=0) as ws,
    ):
        cdp = Cdp(ws)
        try:
            page = await Page.open(cdp)
            navigated = await page.call("Page.navigate", {"url": url})
            assert "errorText" not in navigated, navigated
            yield page
        finally:
            await cdp.close()


async def test_talk_page_spoken_request(
    chromium: str, server: BotServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The microphone is a WAV of Festival saying «нужен оператор» (a phrase Whisper base gets
    right from this voice; «соедините с оператором» came out garbled in about half the runs):
    through Chromium's audio processing, the page's AudioWorklet and 16 kHz PCM, the bot hears
    it over its greeting and hands the call over."""
    need(shutil.which("text2wave"), "Festival is not installed: run scripts/bootstrap.sh")
    voice = create_synthesizer("festival", rate=16000)
    try:
        phrase = await voice.synthesize("нужен оператор")
    except EngineUnavailable as exc:
        need(False, f"Festival Russian voice unavailable ({exc}): run scripts/bootstrap.sh")
        raise
    wav = tmp_path / "caller.wav"
    (Audio.silence(2.0) + phrase + Audio.silence(6.0)).write_wav(wav)  # Chromium loops it
    caplog.set_level(logging.INFO, logger="bot.server")

    async def scenario(page: Page) -> dict[str, Any]:
        return await page.wait_until(
            lambda s: "соединение закрыто" in s["log"], "the hand-off", timeout=25
        )

    state = await run_call(chromium, server, scenario, f"--use-file-for-fake-audio-capture={wav}")
    assert "бот замолчал: clear" in state["log"], "the caller's voice interrupted the greeting"
    assert "перевод звонка: operator" in state["log"], state["log"]
    assert "набрано" not in state["log"]
    assert end_reasons(caplog) == ["transfer:caller_request"], "the bot understood the request"


def elapsed(since: float) -> float:
    return time.monotonic() - since


def end_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    """How the server's calls ended (its «call ended» log records)."""
    return [getattr(r, "reason", "") for r in caplog.records if r.getMessage() == "call ended"]
