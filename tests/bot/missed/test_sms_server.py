"""``bot serve`` with SMS on: a missed call the PBX reports over HTTP gets its SMS through a real
Kannel to the fake SMSC, the decision is stored, and stopping the server stops the outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.server import BotServer
from connectors.sms.kannel import KannelSettings
from tests.e2e.test_e2e_server import SECRET, make_settings
from tests.fakes.kannel import PASSWORD, USER, start_for_tests


async def test_bot_serve_sends_the_sms_of_a_missed_call(tmp_path: Path) -> None:
    kannel = start_for_tests()
    rules = tmp_path / "sms_rules.yml"
    rules.write_text(
        "rules:\n  - name: Продажи\n    queues: [sales]\n    text: Мы перезвоним вам сегодня.\n",
        "utf-8",
    )
    settings = make_settings(tmp_path)
    settings.sms.gateway = "kannel"
    settings.sms.rules_file = rules
    settings.sms.sender = "Shop"
    settings.sms.poll_interval = 0.1
    settings.sms.kannel = KannelSettings(url=kannel.sendsms_url, username=USER, password=PASSWORD)
    server = BotServer(settings)
    server.public_sounds = tmp_path / "sounds"
    await server.start()
    try:
        assert server.sms is not None
        form = {"id": "pbx-7", "caller": "+7 916 123-45-67", "queue": "sales", "wait": "40"}
        async with aiohttp.ClientSession() as http:
            url = f"{server.addresses['http']}/missed/{SECRET}"
            async with http.post(url, data=form) as response:
                assert response.status == 200
        got = await asyncio.to_thread(kannel.wait_for_messages, 1)
        assert [(m.receiver, m.sender, m.text) for m in got] == [
            ("79161234567", "Shop", "Мы перезвоним вам сегодня.")
        ]
        # Kannel may hand the SMS to the SMSC before it answers the outbox: wait for the answer
        async with asyncio.timeout(10):
            while (rows := await server.sms.messages())[0].state == "sending":
                await asyncio.sleep(0.05)
        [row] = rows
        assert (row.reason, row.rule, row.state) == ("rule", "Продажи", "sent")
    finally:
        await server.stop()
        kannel.stop()
    assert server._sms_task is not None and server._sms_task.done()
