"""Asterisk: the registry that links a FastAGI session to its AudioSocket leg, and both servers.

Flow of one call (see ``docs/asterisk/README.md``)::

    dialplan AGI(agi://bot:4573/order) ─▶ FastAgiServer: register(CallInfo) under a new UUID
        EXEC AudioSocket <uuid>,bot:9092 ─▶ AudioSocketServer: claim(uuid) ─▶ handler(transport)
            (an unknown uuid with require_agi, or a second leg with the same uuid: refused)
            transport.set_caller_name / hand_over ─▶ the call's CallOutcome; audio leg closes
        200 result=0 ◀─ wait_result(uuid) ─▶ SET VARIABLE CALLERID(name) / BOT_TRANSFER /
                                           BOT_REASON / BOT_RESULT (from that CallOutcome)
    dialplan goes on: GotoIf(${BOT_TRANSFER} …) ─▶ Queue()/Dial()
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from connectors.pbx.audiosocket import (
    REFUSED_DUPLICATE,
    REFUSED_UNKNOWN,
    AudioSocketServer,
    Claim,
)
from connectors.pbx.fastagi import AGI_PORT, FastAgiServer
from connectors.pbx.limits import ConnectionGate
from connectors.pbx.transport import CallHandler, CallInfo, CallOutcome


@dataclass(frozen=True, slots=True)
class LegResult:
    """What FastAGI reads after the audio leg: the call's one outcome and the leg's state."""

    outcome: CallOutcome
    linked: bool = False  # an AudioSocket leg with this UUID reached the bot
    ended: bool = False  # that leg is over


@dataclass
class _Entry:
    info: CallInfo
    outcome: CallOutcome = field(default_factory=CallOutcome)
    linked: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def result(self) -> LegResult:
        return LegResult(self.outcome, self.linked.is_set(), self.ended.is_set())


class AsteriskCalls:
    """Calls announced over FastAGI, keyed by the AudioSocket UUID (in memory, one process).

    The :class:`CallOutcome` made at :meth:`register` is handed to the AudioSocket transport
    at :meth:`claim`: the transfer target, result and caller name live there only.
    """

    def __init__(self) -> None:
        self._calls: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def register(self, info: CallInfo) -> None:
        self._calls[info.call_id] = _Entry(info)

    def claim(self, call_id: str) -> Claim | str:
        """The AudioSocket side: the announced call, once; a second leg is refused."""
        entry = self._calls.get(call_id)
        if entry is None:
            return REFUSED_UNKNOWN
        if entry.linked.is_set():
            return REFUSED_DUPLICATE
        entry.linked.set()
        return Claim(entry.info, entry.outcome)

    def call_ended(self, call_id: str) -> None:
        entry = self._calls.get(call_id)
        if entry is not None:
            entry.ended.set()

    async def wait_linked(self, call_id: str, timeout: float) -> bool:
        """Until the audio leg arrived (True) or ``timeout`` s passed (False)."""
        entry = self._calls.get(call_id)
        if entry is None:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await entry.linked.wait()
        return entry.linked.is_set()

    async def wait_result(self, call_id: str, timeout: float | None = 2.0) -> LegResult:
        """The result once the audio leg has ended (at most ``timeout`` s of waiting).

        Returns at once when no audio leg arrived for this call.
        """
        entry = self._calls.get(call_id)
        if entry is None:
            return LegResult(CallOutcome())
        if entry.linked.is_set() and not entry.ended.is_set():
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
        require_agi: bool = False,
        agi_gate: ConnectionGate | None = None,
        audiosocket_gate: ConnectionGate | None = None,
        agi_header_timeout: float = 5.0,
        agi_session_timeout: float | None = 4 * 3600.0,
        link_timeout: float | None = 10.0,
        first_frame_timeout: float = 5.0,
    ) -> None:
        if audiosocket_address is None and audiosocket_host in {"0.0.0.0", "::", ""}:
            raise ValueError("listening on all interfaces: give audiosocket_address host:port")
        self._fixed_address = audiosocket_address
        self.calls = AsteriskCalls()
        self.audiosocket = AudioSocketServer(
            handler,
            audiosocket_host,
            audiosocket_port,
            registry=self.calls,
            require_announced=require_agi,
            gate=audiosocket_gate,
            max_payload=max_payload,
            first_frame_timeout=first_frame_timeout,
            idle_timeout=idle_timeout,
        )
        self.fastagi = FastAgiServer(
            agi_host,
            agi_port,
            # replaced by the bound address in start() (port 0 picks a free port)
            audiosocket_address=audiosocket_address
            or f"{audiosocket_host}:{audiosocket_port or 9092}",
            registry=self.calls,
            gate=agi_gate,
            header_timeout=agi_header_timeout,
            call_timeout=agi_session_timeout,
            link_timeout=link_timeout,
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
