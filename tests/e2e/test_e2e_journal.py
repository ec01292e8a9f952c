"""The journal of a real ``bot serve`` (a child process): a whole spoken order over FastAGI +
AudioSocket appears in the journal with its transcript, a playable stereo recording and the
same rows in the export; then a call cut by SIGKILL mid-way still has its events and a
partial, playable recording.

The caller speaks with Festival (8 kHz, as Asterisk sends); the bot hears it with Whisper.
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import openpyxl
import pytest
import sqlalchemy as sa
import yaml

from bot.tools.serve_process import REPO, ServeProcess, base_config, merge
from bot.tools.wire_caller import RATE, WireCall
from connectors.shop.schema import bot_call_events, bot_calls
from speech.tts import create_synthesizer
from tests.bot.journal.test_journal_ogg import decode
from tests.fakes.smtp_server import free_port

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"
ORDER = ["хочу сделать заказ", "артикул один два три", "две штуки", "да", "нет", "да"]


async def voices(texts: list[str]) -> dict[str, bytes]:
    synthesizer = create_synthesizer("festival", rate=RATE)
    return {t: (await synthesizer.synthesize(t)).pcm for t in dict.fromkeys(texts)}


def config(folder: Path) -> dict[str, Any]:
    extra = {
        "journal": {"flush_s": 0.2},
        "recordings": {"dir": str(folder / "recordings"), "flush_s": 1.0},
    }
    return merge(base_config(folder, mail_port=free_port()), extra)


def create_user(folder: Path, settings: dict[str, Any]) -> None:
    path = folder / "admin.yml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), "utf-8")
    command = [sys.executable, "-m", "bot", "--config", str(path), "admin", "create-user"]
    done = subprocess.run(
        [*command, "sveta", "--role", "supervisor"],
        input=PASSWORD + "\n", cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


async def console_login(http: aiohttp.ClientSession, base: str) -> None:
    page = await (await http.get(f"{base}/admin/login")).text()
    token = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert token is not None
    form = {"_csrf": token.group(1), "name": "sveta", "password": PASSWORD, "next": "/admin/"}
    async with http.post(f"{base}/admin/login", data=form) as response:
        assert response.status == 200 and str(response.url).endswith("/admin/")


def journal_rows(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    engine = sa.create_engine(f"sqlite:///{folder / 'shop.sqlite'}")
    try:
        with engine.connect() as conn:
            calls = [dict(r._mapping) for r in conn.execute(sa.select(bot_calls))]
            events = conn.execute(sa.select(bot_call_events).order_by(bot_call_events.c.seq))
            return calls, [dict(e._mapping) for e in events]
    finally:
        engine.dispose()


async def test_calls_in_the_journal_and_a_crash_mid_call(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    settings = config(folder)
    create_user(folder, settings)
    voice = await voices([*ORDER, "хочу сделать заказ"])
    with ServeProcess(folder, settings) as bot:
        await bot.started()
        host, port = bot.agi()
        whole = WireCall(host, port, caller="+79607775577")

        async def order(call: WireCall) -> None:
            for text in ORDER:
                assert await call.bot_done(), "the bot spoke"
                await asyncio.sleep(0.25)
                await call.say(text, voice[text])
            await call.bot_done(timeout=15)

        await whole.run(order)
        assert whole.variables.get("BOT_RESULT") == "hangup", whole.variables
        await asyncio.sleep(1.0)  # the writer's last batch, the recording's size
        base = bot.http()
        jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            await console_login(http, base)
            badge = None
            async with asyncio.timeout(10):  # the call's end is in the journal's next batch
                while badge is None or badge.group(1) == "active":
                    page = await (await http.get(f"{base}/admin/journal?period=today")).text()
                    badge = re.search(r'<span class="badge r-([a-z_]+)">([^<]+)</span>', page)
                    await asyncio.sleep(0.2)
            assert badge.groups() == ("order", "заказ принят"), badge.groups()
            keys = re.findall(r"/admin/journal/calls/([0-9a-f]{32})\"", page)
            assert len(keys) == 1 and "+7 960 777-55-77" in page
            call_page = await (await http.get(f"{base}/admin/journal/calls/{keys[0]}")).text()
            assert "Назовите" in call_page or "артикул" in call_page
            assert "две штуки" in call_page or "2" in call_page
            recording = await http.get(f"{base}/admin/journal/calls/{keys[0]}/recording")
            assert recording.status == 200
            (tmp_path / "whole.opus").write_bytes(await recording.read())
            export = await http.get(f"{base}/admin/journal/export.xlsx?period=today")
            sheet = openpyxl.load_workbook(io.BytesIO(await export.read())).active
            rows = list(sheet.iter_rows(values_only=True))
            assert [r[-1] for r in rows[1:]] == keys and rows[1][1] == "9607775577"
        data, duration = decode(tmp_path / "whole.opus")
        assert duration is not None and duration > 10
        assert np.abs(data[0]).max() > 0.05 and np.abs(data[1]).max() > 0.05, "both sides"

        # the second call: killed while the bot waits for the article
        cut = WireCall(host, port, caller="+79161234567")
        killed = asyncio.Event()

        async def crash(call: WireCall) -> None:
            assert await call.bot_done()
            await asyncio.sleep(0.25)
            await call.say("хочу сделать заказ", voice["хочу сделать заказ"])
            assert await call.bot_done()
            await asyncio.sleep(2.5)  # a page of the recording and the events are out
            bot.kill()
            killed.set()

        async with asyncio.timeout(120):
            await cut.run(crash)
        assert killed.is_set() and not bot.alive()
    calls, events = journal_rows(folder)
    [row] = [c for c in calls if c["call_id"] == cut.call_id]
    assert row["result"] == "active" and row["ended_at"] is None, "it never ended"
    mine = [e for e in events if e["call"] == row["id"]]
    kinds = [e["type"] for e in mine]
    assert kinds[0] == "call_started" and "say" in kinds
    heard = [e["text"] for e in mine if e["type"] == "caller_said"]
    assert heard and "заказ" in heard[0].lower()
    assert any(e["key"] == "utter_ask_article" for e in mine), "the last prompt is there"
    partial = folder / "recordings" / row["recording"]
    data, _ = decode(partial)
    seconds = data.shape[1] / 48000
    assert seconds > 4, f"the partial recording plays ({seconds:.1f} s)"
    assert np.abs(data[0]).max() > 0.05 and np.abs(data[1]).max() > 0.05, "both sides"
