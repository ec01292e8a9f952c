"""``bot serve`` end to end: the real server, sessions and engines, driven over real sockets by
clients written from each protocol's spec (tests/fakes): Asterisk FastAGI + AudioSocket,
Twilio Media Streams, FreeSWITCH mod_audio_fork, the browser format and Telphin.

Orders are keyed in by DTMF (keys interrupt prompts, so a call takes seconds) with one
spoken «да» on the AudioSocket call; every call must end with the order in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.server import BotServer
from bot.server_settings import Route
from connectors.pbx.transport import CallInfo
from speech.audio import Audio
from speech.tts import create_synthesizer
from tests.fakes.asterisk_client import AudioSocketClient, FastAgiClient, agi_env
from tests.fakes.telphin_client import FakeTelphinPbx, call_params
from tests.fakes.ws_clients import AudioForkClient, BrowserClient, TwilioClient

pytestmark = pytest.mark.e2e
SECRET = "test-secret-123"
# menu: order, article, quantity, yes, no more, the order read back: right
ORDER_KEYS = ["1#", "123#", "2#", "1#", "2#", "1#"]


def make_settings(folder: Path) -> Settings:
    settings = Settings()
    settings.shop = dataclasses.replace(settings.shop, url=f"sqlite:///{folder / 'shop.sqlite'}")
    settings.nlu.model_dir = folder / "nlu"
    settings.voice.tts.cache_dir = str(Path("var/tts-cache").resolve())
    settings.demo.mail_sink = False
    settings.mail = dataclasses.replace(settings.mail, port=1, timeout=0.5)  # nothing listens
    server = settings.server
    server.http.port = 0
    server.http.secret = SECRET
    server.asterisk.audiosocket_port = 0
    server.asterisk.agi_port = 0
    server.sip.enabled = False  # SIP has its own tests; its fixed port would collide here
    server.managers_file = None
    server.transcripts_dir = str(folder / "transcripts")
    settings.recordings = dataclasses.replace(settings.recordings, dir=folder / "recordings")
    server.shutdown_grace = 0.5
    server.overload_lag_ms = 0  # a loaded test machine must not turn calls away
    server.routes = [Route(called="5555", scenario="order")]
    return settings


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[BotServer]:
    bot = BotServer(make_settings(tmp_path))
    bot.public_sounds = tmp_path / "sounds"
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


def agi_port(bot: BotServer) -> int:
    assert bot.asterisk is not None
    return bot.asterisk.fastagi.port


def ws_url(bot: BotServer, kind: str) -> str:
    return bot.addresses["http"].replace("http://", "ws://") + f"/ws/{kind}/{SECRET}"


async def orders(bot: BotServer) -> list[tuple[str, list[tuple[str, int]]]]:
    assert bot.shop is not None
    result = []
    for entry in await bot.shop.db.outbox_entries():
        assert entry.order_id is not None
        record = await bot.shop.db.load_order(entry.order_id)
        assert record is not None
        result.append((record.status, [(i.article, i.quantity) for i in record.items]))
    return result


async def wait_for(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


class Line:
    """Keeps an AudioSocket call alive with silence, like an Asterisk channel does."""

    def __init__(self, client: AudioSocketClient) -> None:
        self.client = client
        self.speech: list[bytes] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while not self.client.server_closed.is_set():
                chunk = self.speech.pop(0) if self.speech else bytes(320)
                await self.client.send_audio(chunk, paced=True)
                await asyncio.sleep(0.02)

    def say(self, audio: Audio) -> None:
        pcm = audio.resample(8000).pcm
        self.speech.extend(pcm[i : i + 320].ljust(320, b"\0") for i in range(0, len(pcm), 320))

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def audiosocket_order(client: AudioSocketClient) -> None:
    line = Line(client)
    try:
        for keys in ORDER_KEYS:
            heard = len(client.audio())
            await client.wait_audio(heard + 3200, timeout=15)  # the prompt has begun
            for digit in keys:
                await client.send_dtmf(digit)
        await client.wait_closed(timeout=20)
    finally:
        await line.stop()


async def test_asterisk_call_takes_an_order(server: BotServer) -> None:
    agi = FastAgiClient(
        "127.0.0.1", agi_port(server), agi_env(callerid="+79607775577", dnid="78123098635")
    )
    agi.audio = audiosocket_order
    await agi.run(timeout=60)
    assert agi.variables["CALLERID(name)"] == "Иван 2(3)"
    assert agi.variables["BOT_RESULT"] == "hangup"
    assert await orders(server) == [("принят успешно", [("123", 2)])]
    # keys interrupted the long menu prompt: far less than its ~17 s of audio was sent
    assert agi.audio_client is not None
    assert len(agi.audio_client.audio()) < 8000 * 2 * 15


async def test_asterisk_spoken_answer_and_route(server: BotServer) -> None:
    """Dialled 5555 routes to the «order» scenario; the yes is spoken, not keyed."""
    voice = create_synthesizer("festival", rate=16000)
    yes = await voice.synthesize("да")

    async def scenario(client: AudioSocketClient) -> None:
        line = Line(client)
        try:
            for step in ["4512#", "3#", "да", "2#", "1#"]:
                heard = len(client.audio())
                await client.wait_audio(heard + 3200, timeout=15)
                if step == "да":
                    await wait_for(lambda: quiet(client), timeout=15)
                    line.say(yes)
                else:
                    for digit in step:
                        await client.send_dtmf(digit)
            await client.wait_closed(timeout=20)
        finally:
            await line.stop()

    agi = FastAgiClient("127.0.0.1", agi_port(server), agi_env(callerid="89998887766", dnid="5555"))
    agi.audio = scenario
    await agi.run(timeout=60)
    assert agi.variables["CALLERID(name)"] == "Олег 2(2)"
    assert await orders(server) == [("принят успешно", [("4512", 3)])]


def quiet(client: AudioSocketClient) -> bool:
    """The bot has stopped talking for 300 ms (its prompt played out)."""
    frames = [f for f in client.frames if f.kind == 0x10]
    return bool(frames) and time.monotonic() - frames[-1].at > 0.3


async def test_twenty_simultaneous_asterisk_calls(server: BotServer) -> None:
    clients = []
    for i in range(20):
        agi = FastAgiClient(
            "127.0.0.1", agi_port(server), agi_env(callerid=f"+7900100{i:04d}", uniqueid=f"1.{i}")
        )
        agi.audio = audiosocket_order
        clients.append(agi)
    await asyncio.gather(*(c.run(timeout=90) for c in clients))
    assert all(c.variables.get("BOT_RESULT") == "hangup" for c in clients)
    assert all(c.variables.get("CALLERID(name)") == "UNKNOWN USER" for c in clients)
    assert await orders(server) == [("принят успешно", [("123", 2)])] * 20


async def test_shutdown_hands_calls_to_an_operator(server: BotServer) -> None:
    async def scenario(client: AudioSocketClient) -> None:
        line = Line(client)
        try:
            await client.wait_audio(3200, timeout=15)
            await client.send_dtmf("1")
            await client.send_dtmf("#")
            await client.wait_audio(len(client.audio()) + 3200, timeout=15)
            asyncio.get_running_loop().create_task(server.stop())
            await client.wait_closed(timeout=20)
        finally:
            await line.stop()

    agi = FastAgiClient("127.0.0.1", agi_port(server), agi_env(callerid="+79607775577"))
    agi.audio = scenario
    await agi.run(timeout=60)
    assert agi.variables["BOT_RESULT"] == "transfer"
    assert agi.variables["BOT_TRANSFER"] == "operator"


def announced(bot: BotServer) -> uuid.UUID:
    """A uuid as FastAGI announces it (AudioSocket refuses others: require_agi)."""
    assert bot.asterisk is not None
    call_uuid = uuid.uuid4()
    bot.asterisk.calls.register(CallInfo(str(call_uuid), "", "", "audiosocket"))
    return call_uuid


async def test_broken_frame_ends_one_call_not_the_server(server: BotServer) -> None:
    assert server.asterisk is not None
    port = server.asterisk.audiosocket.port
    async with AudioSocketClient("127.0.0.1", port, announced(server)) as bad:
        await bad.wait_audio(320, timeout=15)
        await bad.send_raw(bytes((0x42, 0, 1, 0)))  # an unknown kind
        await bad.wait_closed(timeout=5)
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.addresses["http"] + "/healthz") as response,
    ):
        assert (await response.json())["ok"] is True
    async with AudioSocketClient("127.0.0.1", port, announced(server)) as good:
        assert len(await good.wait_audio(3200, timeout=15)) >= 3200
    async with AudioSocketClient("127.0.0.1", port) as stranger:  # never announced
        await stranger.wait_closed(timeout=5)
        assert stranger.frames == []


async def test_twilio_order_with_barge_in_clear(server: BotServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        TwilioClient.connect(http, ws_url(server, "twilio")) as twilio,
    ):
        await twilio.begin(caller="+79607775577", called="78123098635")
        for keys in ORDER_KEYS:
            count = len(twilio.media_payloads())
            await twilio.wait_until(lambda n=count: len(twilio.media_payloads()) > n + 10, 15)
            for digit in keys:
                await twilio.send_dtmf(digit)
        await twilio.wait_closed(timeout=20)
        assert twilio.messages("event", "clear"), "keys during a prompt clear Twilio's buffer"
        marks = [m["mark"]["name"] for m in twilio.messages("event", "mark")]
        assert marks and marks[-1] == "hangup"
    assert await orders(server) == [("принят успешно", [("123", 2)])]


async def test_twilio_transfer(server: BotServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        TwilioClient.connect(http, ws_url(server, "twilio")) as twilio,
    ):
        await twilio.begin(caller="+79607775577", called="78123098635")
        await twilio.wait_until(lambda: len(twilio.media_payloads()) > 10, 15)
        await twilio.send_dtmf("0")
        await twilio.send_dtmf("#")
        await twilio.wait_closed(timeout=20)
        marks = [m["mark"]["name"] for m in twilio.messages("event", "mark")]
        assert marks[-1] == "transfer:operator"


async def test_audio_fork_order(server: BotServer) -> None:
    url = ws_url(server, "audio_fork")
    async with (
        aiohttp.ClientSession() as http,
        AudioForkClient.connect(http, url, protocols=("audio.drachtio.org",)) as fork,
    ):
        await fork.send_metadata(
            {"callid": "fs-1", "from": "+79607775577", "to": "78123098635", "sampleRate": 8000}
        )
        for keys in ORDER_KEYS:
            count = len(fork.play_audio())
            await fork.wait_until(lambda n=count: len(fork.play_audio()) > n, 15)
            for digit in keys:
                await fork.send_dtmf(digit)
        await fork.wait_closed(timeout=20)
        assert fork.messages("type", "killAudio"), "keys during a prompt stop the playback"
        assert fork.messages("type", "disconnect")
    assert await orders(server) == [("принят успешно", [("123", 2)])]


async def test_browser_order(server: BotServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        BrowserClient.connect(http, ws_url(server, "browser")) as page,
    ):
        await page.send_start(rate=16000, caller="+79607775577", called="78123098635")
        for keys in ORDER_KEYS:
            count = len(page.binaries)
            await page.wait_until(lambda n=count: len(page.binaries) > n + 10, 15)
            for digit in keys:
                await page.send_dtmf(digit)
        await page.wait_closed(timeout=20)
        assert page.messages("type", "caller_name")[0]["name"] == "Иван 2(3)"
        assert page.messages("type", "clear")
        assert page.messages("type", "hangup")
        assert all(len(b) == 640 for b in page.binaries[:-1]), "20 ms of 16 kHz PCM per frame"
    assert await orders(server) == [("принят успешно", [("123", 2)])]


async def test_telphin_case2_greeting(server: BotServer) -> None:
    url = server.addresses["http"] + f"/telphin/{SECRET}"
    async with FakeTelphinPbx(url) as pbx:
        answer = await pbx.call(call_params(caller="79607775577", call_id="t-1"))
    assert answer.status == 200
    assert answer.caller_name == "Иван 2(3)"
    sounds = answer.commands["PlaySound"]
    assert sounds and sounds[0].startswith(server.addresses["http"] + "/tts/")
    async with aiohttp.ClientSession() as http, http.get(sounds[0]) as response:
        body = await response.read()
    assert response.status == 200 and body[:4] == b"RIFF"
    assert Audio.from_wav_bytes(body).duration > 0.5


async def test_edge_security(server: BotServer) -> None:
    base = server.addresses["http"]
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/telphin", params=call_params()) as response:
            assert response.status == 401
        async with http.get(base + "/telphin/wrong-secret!", params=call_params()) as response:
            assert response.status == 401
        headers = {"X-Bot-Secret": SECRET}
        async with http.get(base + "/telphin", params=call_params(), headers=headers) as response:
            assert response.status == 200
        async with http.post(base + f"/telphin/{SECRET}", data=b"x" * 200_000) as response:
            assert response.status in (400, 413)
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(base.replace("http", "ws") + "/ws/twilio")
        async with http.get(base + "/healthz") as response:
            assert response.status == 200


async def test_ip_allow_list(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.server.http.allow_ips = ["10.0.0.0/8"]
    settings.server.asterisk.enabled = False
    bot = BotServer(settings)
    bot.public_sounds = tmp_path / "sounds"
    await bot.start()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(bot.addresses["http"] + "/healthz") as response,
        ):
            assert response.status == 403
    finally:
        await bot.stop()


async def test_a_seven_digit_caller_id_is_an_unknown_caller(server: BotServer) -> None:
    agi = FastAgiClient("127.0.0.1", agi_port(server), agi_env(callerid="1234567"))
    agi.audio = audiosocket_order
    await agi.run(timeout=60)
    assert agi.variables["CALLERID(name)"] == "UNKNOWN USER"
    assert agi.variables["BOT_RESULT"] == "hangup"


async def test_an_overloaded_server_sends_new_calls_to_an_operator(server: BotServer) -> None:
    server.lag.limit_ms = 200.0
    for _ in range(30):  # the event loop ran a second late for the last 2 s
        server.lag.record(1000.0)
    assert server.lag.overloaded

    async def scenario(client: AudioSocketClient) -> None:
        await client.wait_closed(timeout=20)

    agi = FastAgiClient("127.0.0.1", agi_port(server), agi_env(callerid="+79607775577"))
    agi.audio = scenario
    await agi.run(timeout=30)
    assert agi.variables["BOT_RESULT"] == "transfer"
    assert agi.variables["BOT_TRANSFER"] == "operator"
    assert not server.sessions and server.calls_total == 0
