"""Asterisk: the registry that links a FastAGI session to its AudioSocket leg, and both servers.

Flow of one call (see ``docs/asterisk/README.md``)::

    dialplan AGI(agi://bot:4573/order) ─▶ FastAgiServer: register(CallInfo) under a new UUID
        EXEC AudioSocket <uuid>,bot:9092 ─▶ AudioSocketServer: lookup(uuid) ─▶ handler(transport)
            transport.set_caller_name / transfer ─▶ set_result(uuid, …); audio leg closes
        200 result=0 ◀─ wait_result(uuid) ─▶ SET VARIABLE CALLERID(name) / BOT_TRANSFER / BOT_RESULT
    dialplan goes on: GotoIf(${BOT_TRANSFER} …) ─▶ Queue()/Dial()
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from connectors.pbx.audiosocket import AudioSocketServer
from connectors.pbx.fastagi import AGI_PORT, FastAgiServer
from connectors.pbx.transport import CallHandler, CallInfo


@dataclass(frozen=True, slots=True)
class CallResult:
    transfer_target: str | None = None
    caller_name: str | None = None
    linked: bool = False  # an AudioSocket leg with this UUID reached the bot
    ended: bool = False  # that leg is over


@dataclass
class _Entry:
    info: CallInfo
    transfer_target: str | None = None
    caller_name: str | None = None
    linked: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def result(self) -> CallResult:
        return CallResult(self.transfer_target, self.caller_name, self.linked, self.ended.is_set())


class AsteriskCalls:
    """Calls announced over FastAGI, keyed by the AudioSocket UUID (in memory, one process)."""

    def __init__(self) -> None:
        self._calls: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def register(self, info: CallInfo) -> None:
        self._calls[info.call_id] = _Entry(info)

    def lookup(self, call_id: str) -> CallInfo | None:
        """The AudioSocket linker: the registered CallInfo; marks the call as linked."""
        entry = self._calls.get(call_id)
        if entry is None:
            return None
        entry.linked = True
        return entry.info

    def set_result(
        self, call_id: str, transfer_target: str | None = None, caller_name: str | None = None
    ) -> None:
        """Record what the bot decided; ``None`` leaves a field as it was."""
        entry = self._calls.get(call_id)
        if entry is None:
            return  # a direct AudioSocket() call: nobody on the AGI side to tell
        if transfer_target is not None:
            entry.transfer_target = transfer_target
        if caller_name is not None:
            entry.caller_name = caller_name

    def call_ended(self, call_id: str) -> None:
        entry = self._calls.get(call_id)
        if entry is not None:
            entry.ended.set()

    async def wait_result(self, call_id: str, timeout: float | None = 2.0) -> CallResult:
        """The result once the audio leg has ended (at most ``timeout`` s of waiting).

        Returns at once when no audio leg arrived for this call.
        """
        entry = self._calls.get(call_id)
        if entry is None:
            return CallResult()
        if entry.linked and not entry.ended.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await entry.ended.wait()
        return entry.result()

    def forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)


class AsteriskConnector:
    """The FastAGI and AudioSocket servers sharing one :class:`AsteriskCalls`.

    ``audiosocket_address`` is what Asterisk dials for audio (``host:port`` as seen from
    the Asterisk box); by default the AudioSocket listen address, which must then be a
    concrete address, not ``0.0.0.0``.
    """

    def __init__(
        self,
        handler: CallHandler,
        *,
        audiosocket_host: str = "127.0.0.1",
        audiosocket_port: int = 9092,
        agi_host: str = "127.0.0.1",
        agi_port: int = AGI_PORT,
        audiosocket_address: str | None = None,
        max_payload: int = 4096,
        idle_timeout: float | None = 10.0,
    ) -> None:
        if audiosocket_address is None and audiosocket_host in {"0.0.0.0", "::", ""}:
            raise ValueError("listening on all interfaces: give audiosocket_address host:port")
        self._fixed_address = audiosocket_address
        self.calls = AsteriskCalls()
        self.audiosocket = AudioSocketServer(
            handler,
            audiosocket_host,
            audiosocket_port,
            linker=self.calls.lookup,
            results=self.calls,
            max_payload=max_payload,
            idle_timeout=idle_timeout,
        )
        self.fastagi = FastAgiServer(
            agi_host,
            agi_port,
            # replaced by the bound address in start() (port 0 picks a free port)
            audiosocket_address=audiosocket_address
            or f"{audiosocket_host}:{audiosocket_port or 9092}",
            registry=self.calls,
        )

    async def start(self) -> None:
        await self.audiosocket.start()
        if self._fixed_address is None:
            host = self.audiosocket.host
            host = f"[{host}]" if ":" in host else host
            self.fastagi.audiosocket_address = f"{host}:{self.audiosocket.port}"
        await self.fastagi.start()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop both; FastAGI sessions get 3 s more to set the variables of the last calls."""
        await asyncio.gather(self.fastagi.stop(grace + 3.0), self.audiosocket.stop(grace))
