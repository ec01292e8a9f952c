"""What the AudioSocket and FastAGI servers share: listening, a :class:`ConnectionGate`
(allow-list, connections at once in all and per source address: a refused connection is
closed before it is read), one task per connection, and a shutdown that stops accepting,
lets connections finish for a grace period, then ends them."""

from __future__ import annotations

import abc
import asyncio
from typing import Any

from connectors.pbx.limits import ConnectionGate, peer_ip


class TcpServer(abc.ABC):
    def __init__(
        self,
        host: str,
        port: int,
        *,
        line_limit: int | None = None,
        gate: ConnectionGate | None = None,
    ) -> None:
        self._host = host
        self.gate = gate
        self._port = port
        self._line_limit = line_limit
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the real one when created with ``port=0``)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        if self._server is not None:
            return
        options = {"limit": self._line_limit} if self._line_limit else {}
        self._server = await asyncio.start_server(self._serve, self._host, self._port, **options)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting; connections get ``grace`` seconds, then :meth:`_end_connections`
        and, one second later, cancellation."""
        if self._server is None:
            return
        server, self._server = self._server, None
        self._port = int(server.sockets[0].getsockname()[1]) if server.sockets else self._port
        server.close()
        pending = set(self._tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=max(grace, 0.0))
        if pending:
            if await self._end_connections():
                _, pending = await asyncio.wait(pending, timeout=1.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await server.wait_closed()

    async def _end_connections(self) -> bool:
        """Close the remaining connections politely; True if that was tried."""
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        remote = peer_ip(writer.get_extra_info("peername"))
        if self.gate is not None and self.gate.admit(remote) is not None:
            writer.transport.abort()  # refused: nothing read, nothing written
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._on_connection(reader, writer)
        except asyncio.CancelledError:
            # stop() cancelled this connection (its grace is over). The task ends normally:
            # Python 3.11's start_server callback logs a cancelled task as an error.
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            if self.gate is not None:
                self.gate.release(remote)

    @abc.abstractmethod
    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None: ...
