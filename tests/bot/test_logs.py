"""The log formatter and filters: no control characters, numbers or secrets; no floods; the
file-handle budget warning."""

from __future__ import annotations

import logging
import re
import sys

import pytest
from aiohttp.http_exceptions import BadStatusLine

from bot.file_budget import check_file_budget, needed_handles
from bot.logs import RepeatFilter, SafeFormatter, _AiohttpFilter, add_secrets, clean
from bot.server_settings import ServerSettings

LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+: ")


def record(msg: str, *args: object, exc: BaseException | None = None, **fields: object) -> str:
    rec = logging.LogRecord("t", logging.WARNING, __file__, 1, msg, args, None)
    if exc is not None:
        try:
            raise exc
        except BaseException:
            rec.exc_info = sys.exc_info()
    for key, value in fields.items():
        setattr(rec, key, value)
    return SafeFormatter().format(rec)


def test_control_characters_cannot_forge_a_line() -> None:
    text = record("path %s", "/x\n2026-01-01 00:00:00,000 ERROR bot: forged\r\x1b[2J\u2028")
    assert "\n" not in text
    assert "\\n" in text and "\\r" in text and "\\x1b" in text and "\\u2028" in text


def test_numbers_as_pbxs_and_people_write_them_are_masked() -> None:
    for number in ("79607775577", "+7 (960) 777-55-77", "8 960 777 55 77", "%2B79607775577"):
        assert "777" not in record("caller %s", number), number
    assert record("call ended", seconds=12.5, port=4573, bytes=65536).endswith(
        "seconds=12.5 port=4573 bytes=65536"
    )
    assert "port 8080, 0.25 s" in clean("port 8080, 0.25 s")


def test_masked_fields_and_text_fields() -> None:
    line = record("call", caller="+79607775577", caller_name="Иван", note="from 79607775577")
    assert "caller=*** caller_name=*** note=from ***" in line
    assert "Иван" not in line


def test_secrets_are_masked_also_percent_encoded() -> None:
    add_secrets("s3cr3t/with space", None, "")
    line = record("GET /ws/twilio/%s and %s", "s3cr3t/with space", "s3cr3t%2Fwith%20space")
    assert "s3cr3t" not in line


def test_traceback_lines_are_marked_and_cleaned() -> None:
    text = record("boom", exc=ValueError("bad 79607775577\nsecond line"))
    lines = text.splitlines()
    assert LINE.match(lines[0])
    assert all(line.startswith("  | ") for line in lines[1:])
    assert "79607775577" not in text


def test_repeat_filter_keeps_a_flood_short_and_counts_it() -> None:
    flood = RepeatFilter(burst=3, interval=60)
    kept = []
    for _ in range(50):
        rec = logging.LogRecord("t", logging.WARNING, __file__, 1, "refused %s", ("x",), None)
        if flood.filter(rec):
            kept.append(rec)
    assert len(kept) == 3
    info = logging.LogRecord("t", logging.INFO, __file__, 1, "refused %s", ("x",), None)
    assert flood.filter(info)  # info lines are never dropped
    flood.interval = 0  # the next window
    rec = logging.LogRecord("t", logging.WARNING, __file__, 1, "refused %s", ("x",), None)
    assert flood.filter(rec) and rec.suppressed == 47  # type: ignore[attr-defined]


def test_aiohttp_bad_request_traceback_becomes_one_line() -> None:
    rec = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error %s", ("x",), None)
    try:
        raise BadStatusLine("GET /telphin/secret-123?CallerIDNum=79607775577\n")
    except BadStatusLine:
        rec.exc_info = sys.exc_info()
    assert _AiohttpFilter().filter(rec)
    text = SafeFormatter().format(rec)
    assert text.endswith("http: malformed request rejected (400 BadStatusLine)")
    assert "secret" not in text and "\n" not in text


def test_file_budget_warns_when_the_limits_do_not_fit(caplog: pytest.LogCaptureFixture) -> None:
    server = ServerSettings()
    assert needed_handles(server) == 128 + 40 + 500 + 200
    server.http.max_connections = 10**8
    caplog.set_level(logging.WARNING, logger="bot.file_budget")
    budget = check_file_budget(server)
    assert not budget.enough and budget.needed > 10**8
    [warning] = caplog.records
    assert "ulimit -n" in warning.getMessage()
    assert warning.needed == budget.needed  # type: ignore[attr-defined]


def test_the_handler_follows_stderr_when_it_is_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from bot.logs import setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    quieted = {name: logging.getLogger(name).level for name in ("pymorphy3", "faster_whisper")}
    try:
        first = io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        setup_logging()
        first.close()  # as pytest closes a test's captured stderr
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("bot.test").info("the shop opens")
        written = second.getvalue()
        assert "the shop opens" in written and "Logging error" not in written
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, old in quieted.items():
            logging.getLogger(name).setLevel(old)
