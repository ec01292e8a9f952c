"""The fault and load suite (``python -m bot bench faults``) without the soak, as a test.

One run (about two minutes): slow clients, 1,000 malformed inputs per endpoint, ``kill -9``
mid-call, the database locked and read-only, the SMTP server down then up. Run it alone
with ``pytest -m faults``; its figures are written to ``faults.json`` in the test's folder.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.tools.bench_faults import run_fault_suite

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
FUZZ_CASES = 1000
ENDPOINTS = {"fastagi", "audiosocket", "http", "telphin", "twilio", "audio_fork", "browser"}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("faults")
    out = folder / "faults.json"
    result = asyncio.run(
        run_fault_suite(out, folder=folder / "run", fuzz_cases=FUZZ_CASES, fuzz_max_calls=4)
    )
    assert json.loads(out.read_text("utf-8"))["orders"] == result["orders"]
    return result


def test_no_confirmed_order_is_lost_nor_doubled(suite: dict[str, Any]) -> None:
    orders = suite["orders"]
    assert orders["lost"] == []
    assert orders["confirmed"] >= 16
    assert orders["saved"] == orders["mailed"] == orders["confirmed"]
    assert orders["duplicates"] == 0 and orders["duplicate_emails"] == 0
    assert suite["kill_9"] == {"confirmed": 6, "saved": 6, "mailed": 6, "duplicates": 0}


def test_failures_reach_an_operator_with_bot_result_error(suite: dict[str, Any]) -> None:
    locked, read_only = suite["database_locked"], suite["database_read_only"]
    assert locked["results"] == {"error": 3} and locked["silent_hangups"] == 0
    assert locked["lock_held_s"] > 3  # longer than the write retries (1.5 s)
    assert locked["greeting_during_lock_s"] < 2.0  # a new call is greeted all the same
    assert read_only["results"] == {"error": 2} and read_only["exit_codes"] == [0, 0]
    smtp = suite["smtp_down"]
    assert smtp["results"] == {"hangup": 3} and smtp["mailed_while_down"] == 0
    assert smtp["after_up"]["mailed"] == 3
    assert suite["silent_hangups"] == 0


def test_slow_clients_are_cut_and_others_served(suite: dict[str, Any]) -> None:
    slow = suite["slow_clients"]
    assert slow["cut_by_the_server"] == slow["connections"], slow["not_cut"]
    assert slow["healthz_during"] and slow["order_call_during"]


def test_malformed_inputs_on_every_endpoint(suite: dict[str, Any]) -> None:
    fuzz = suite["fuzz"]
    assert set(fuzz["endpoints"]) == ENDPOINTS
    assert all(r["cases"] >= FUZZ_CASES for r in fuzz["endpoints"].values())
    assert fuzz["failures"] == 0, {k: r["failure_examples"] for k, r in fuzz["endpoints"].items()}
    assert fuzz["order_call_after"]
    assert suite["crash_details"]["died"] == []
    assert suite["crash_details"]["exceptions"] == []
    assert suite["log_leaks"] == 0


def test_no_traceback_at_all(suite: dict[str, Any]) -> None:
    assert suite["crashes"] == 0, suite["crash_details"]
