"""dadata clean/name client against a local fake speaking dadata's wire format."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from connectors.shop.dadata import CleanedName, DadataNameCleaner, DadataSettings
from tests.fakes.dadata_server import SECRET, TOKEN, FakeDadata
from tests.fakes.smtp_server import free_port


@pytest.fixture
async def server() -> AsyncIterator[FakeDadata]:
    async with FakeDadata() as fake:
        yield fake


def _settings(server: FakeDadata, timeout: float = 3.0) -> DadataSettings:
    return DadataSettings(token=TOKEN, secret=SECRET, url=server.url, timeout=timeout)


async def test_certain_name(server: FakeDadata) -> None:
    async with DadataNameCleaner(_settings(server)) as cleaner:
        assert await cleaner.clean("Петрова Анна Сергеевна") == CleanedName("Анна", True, "dadata")
        assert await cleaner.clean("мария ивановна") == CleanedName("Мария", True, "dadata")
    request = server.requests[0]
    assert request.body == ["Петрова Анна Сергеевна"]
    assert request.headers["Authorization"] == f"Token {TOKEN}"
    assert request.headers["X-Secret"] == SECRET
    assert request.headers["Content-Type"].startswith("application/json")


async def test_unsure_answers_are_not_certain(server: FakeDadata) -> None:
    async with DadataNameCleaner(_settings(server)) as cleaner:
        assert await cleaner.clean("ООО Ромашка") == CleanedName(None, False, "dadata")
        server.mode = "unsure"
        result = await cleaner.clean("Петрова Анна Сергеевна")
    assert result.certain is False
    assert result.source == "dadata"


async def test_timeout_returns_within_limit(
    server: FakeDadata, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.mode = "hang"
    server.hang_seconds = 10
    async with DadataNameCleaner(_settings(server, timeout=0.5)) as cleaner:
        started = time.monotonic()
        result = await cleaner.clean("Петрова Анна Сергеевна")
        elapsed = time.monotonic() - started
    assert result == CleanedName(None, False, "dadata-error")
    assert elapsed < 0.5 + 1.0
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("connectors")]
    assert messages and all("Анна" not in m and "Петрова" not in m for m in messages)


@pytest.mark.parametrize("mode", ["error500", "garbage"])
async def test_server_errors(server: FakeDadata, mode: str) -> None:
    server.mode = mode
    async with DadataNameCleaner(_settings(server)) as cleaner:
        assert await cleaner.clean("Петрова Анна Сергеевна") == CleanedName(
            None, False, "dadata-error"
        )


async def test_wrong_token_is_an_error(server: FakeDadata) -> None:
    settings = DadataSettings(token="wrong", secret=SECRET, url=server.url)
    async with DadataNameCleaner(settings) as cleaner:
        assert (await cleaner.clean("Иван")).source == "dadata-error"


async def test_nothing_listening_is_an_error() -> None:
    settings = DadataSettings(token=TOKEN, secret=SECRET, url=f"http://127.0.0.1:{free_port()}/")
    async with DadataNameCleaner(settings) as cleaner:
        assert await cleaner.clean("Иван") == CleanedName(None, False, "dadata-error")


async def test_disabled_and_empty_make_no_request(server: FakeDadata) -> None:
    async with DadataNameCleaner(DadataSettings(url=server.url)) as cleaner:
        assert await cleaner.clean("Иван Петров") == CleanedName(None, False, "dadata-disabled")
    async with DadataNameCleaner(_settings(server)) as cleaner:
        assert await cleaner.clean("   ") == CleanedName(None, False, "empty")
    assert server.requests == []


async def test_shared_session_is_left_open(server: FakeDadata) -> None:
    async with aiohttp.ClientSession() as session:
        cleaner = DadataNameCleaner(_settings(server), session=session)
        assert (await cleaner.clean("Олег Иванов")).certain
        await cleaner.close()
        assert not session.closed
