"""``GET /metrics`` of a running server after a real call (FastAGI + AudioSocket, a spoken
«да»): the call, the order and the turn-gap histogram are counted; the secret guards it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.server import BotServer
from bot.server_settings import Route
from speech.tts import create_synthesizer
from tests.fakes.asterisk_client import AudioSocketClient, FastAgiClient, agi_env

pytestmark = pytest.mark.e2e
SECRET = "metrics-secret-42"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[BotServer]:
    settings = Settings()
    orders = dataclasses.replace(settings.shop.orders, journal=tmp_path / "journal.jsonl")
    settings.shop = dataclasses.replace(
        settings.shop, url=f"sqlite:///{tmp_path / 'shop.sqlite'}", orders=orders
    )
    settings.nlu.model_dir = tmp_path / "nlu"
    settings.voice.tts.cache_dir = str(Path("var/tts-cache").resolve())
    settings.demo.mail_sink = False
    settings.mail = dataclasses.replace(settings.mail, port=1, timeout=0.5)  # nothing listens
    settings.server.http.port = 0
    settings.server.http.secret = SECRET
    settings.server.asterisk.audiosocket_port = 0
    settings.server.asterisk.agi_port = 0
    settings.server.managers_file = None
    settings.server.sip.enabled = False  # SIP has its own tests; its fixed port would collide
    settings.recordings = dataclasses.replace(settings.recordings, dir=tmp_path / "recordings")
    settings.server.transcripts_dir = None
    settings.server.shutdown_grace = 0.5
    settings.server.metrics_interval_s = 0.2
    settings.server.routes = [Route(called="5555", scenario="order")]
    bot = BotServer(settings)
    bot.public_sounds = tmp_path / "sounds"
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


def samples(text: str) -> dict[str, float]:
    """``name{labels} value`` lines of the text format (comments skipped)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def test_metrics_count_the_call_the_order_and_the_turn_gaps(server: BotServer) -> None:
    voice = create_synthesizer("festival", rate=16000)
    yes = (await voice.synthesize("да")).resample(8000).pcm

    async def caller(client: AudioSocketClient) -> None:
        from tests.e2e.test_e2e_server import Line, quiet, wait_for

        line = Line(client)
        step = ""
        try:
            for step in ["4512#", "3#", "да", "2#", "1#"]:
                heard = len(client.audio())
                await client.wait_audio(heard + 3200, timeout=15)
                if step == "да":
                    await wait_for(lambda: quiet(client), timeout=15)
                    line.speech.extend(
                        yes[i : i + 320].ljust(320, b"\0") for i in range(0, len(yes), 320)
                    )
                else:
                    for digit in step:
                        await client.send_dtmf(digit)
            step = "the end"
            await client.wait_closed(timeout=20)
        except TimeoutError:
            raise AssertionError(f"stuck before {step!r}; the bot's side: {story()}") from None
        finally:
            await line.stop()

    def story() -> list[tuple[str, str]]:
        """What the call's session did, for the failure message (a CI run stuck once)."""
        return [
            (e["type"], str(e.get("key") or e.get("text") or e.get("digit") or e.get("reason")))
            for session in server.sessions
            for e in session.log.events
        ]

    assert server.asterisk is not None
    agi = FastAgiClient(
        "127.0.0.1", server.asterisk.fastagi.port, agi_env(callerid="89998887766", dnid="5555")
    )
    agi.audio = caller
    await agi.run(timeout=60)
    assert agi.variables["BOT_RESULT"] == "hangup"

    url = server.addresses["http"] + "/metrics"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as refused:
            assert refused.status == 401, "the metrics need the secret"
        async with http.get(url, headers={"X-Bot-Secret": SECRET}) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
    values = samples(text)
    assert values['bot_calls_total{connector="audiosocket",reason="bot_hangup"}'] == 1
    assert values['bot_calls_active{connector="audiosocket"}'] == 0
    assert values['bot_orders_total{status="принят успешно"}'] == 1
    assert values['bot_turn_gap_seconds_count{connector="audiosocket"}'] >= 1
    assert values['bot_asr_seconds_count{connector="audiosocket"}'] >= 1
    assert "bot_outbox_pending" in values
    assert "89998887766" not in text and "9998887766" not in text, "no numbers in metrics"
