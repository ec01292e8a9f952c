"""A fake Asterisk manager (AMI) on a real TCP socket, speaking AMI's documented wire format.

Nobody can run Asterisk here, so this plays its manager side: the banner
``Asterisk Call Manager/5.0.2``, ``Login`` (``Response: Success`` + ``Message:
Authentication accepted`` then a ``FullyBooted`` event, or ``Response: Error`` +
``Message: Authentication failed`` and the connection closed, as Asterisk does), ``Ping``
(``Ping: Pong``), ``Logoff`` (``Response: Goodbye``), ``Originate`` with ``Async: true``
(``Message: Originate successfully queued``, then an ``OriginateResponse`` event with the
same ``ActionID``), and any other action answered ``Response: Error`` / ``Message: Invalid
/unknown command``. Events are pushed by the test (:meth:`FakeAmi.emit`), and the test can
drop every connection or write raw bytes (an over-long line).

    ami = await FakeAmi.start(username="bot", secret="s3cret")
    ...  # connect to ami.port
    await ami.emit({"Event": "QueueCallerAbandon", "Queue": "sales", ...})
    await ami.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

BANNER = b"Asterisk Call Manager/5.0.2\r\n"


def encode(fields: Mapping[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode()


@dataclass
class OriginatePlan:
    """How the fake answers an Originate of one channel: the OriginateResponse's fields."""

    response: str = "Success"  # Success | Failure
    reason: str = "4"  # 4 answered, 5 busy, 3 no answer, 8 congestion, 0 failed
    delay_s: float = 0.05
    queued: bool = True  # False: the action itself gets Response: Error


@dataclass
class FakeAmi:
    username: str = "bot"
    secret: str = "s3cret"
    answer_pings: bool = True
    server: asyncio.Server | None = None
    port: int = 0
    clients: list[asyncio.StreamWriter] = field(default_factory=list)
    actions: list[dict[str, str]] = field(default_factory=list)
    logins: int = 0
    failed_logins: int = 0
    connections: int = 0
    plans: dict[str, OriginatePlan] = field(default_factory=dict)
    logged_in: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def start(cls, username: str = "bot", secret: str = "s3cret", port: int = 0) -> FakeAmi:
        fake = cls(username=username, secret=secret)
        fake.server = await asyncio.start_server(fake._serve, "127.0.0.1", port)
        fake.port = fake.server.sockets[0].getsockname()[1]
        return fake

    async def stop(self) -> None:
        self.drop()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    def drop(self) -> None:
        """Close every client connection (Asterisk restarted, the network broke)."""
        for writer in self.clients:
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self.clients.clear()
        self.logged_in.clear()

    async def emit(self, event: Mapping[str, str]) -> None:
        """Send one event to every logged-in client."""
        await self.send_raw(encode({**event}))

    async def send_raw(self, data: bytes) -> None:
        for writer in list(self.clients):
            with contextlib.suppress(Exception):
                writer.write(data)
                await writer.drain()

    async def wait_login(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.logins < count:
                await asyncio.sleep(0.01)

    def actions_named(self, name: str) -> list[dict[str, str]]:
        return [a for a in self.actions if a.get("Action", "").lower() == name.lower()]

    # -- one connection ------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        authed = False
        try:
            writer.write(BANNER)
            await writer.drain()
            while True:
                message = await self._message(reader)
                if message is None:
                    return
                self.actions.append(message)
                action = message.get("Action", "").lower()
                action_id = message.get("ActionID", "")
                ids = {"ActionID": action_id} if action_id else {}
                if action == "login":
                    if (message.get("Username"), message.get("Secret")) == (
                        self.username,
                        self.secret,
                    ):
                        authed = True
                        self.logins += 1
                        self.clients.append(writer)
                        writer.write(
                            encode(
                                {"Response": "Success", **ids, "Message": "Authentication accepted"}
                            )
                        )
                        writer.write(
                            encode(
                                {
                                    "Event": "FullyBooted",
                                    "Privilege": "system,all",
                                    "Status": "Fully Booted",
                                }
                            )
                        )
                        self.logged_in.set()
                    else:
                        self.failed_logins += 1
                        writer.write(
                            encode({"Response": "Error", **ids, "Message": "Authentication failed"})
                        )
                        await writer.drain()
                        return
                elif not authed:
                    writer.write(
                        encode({"Response": "Error", **ids, "Message": "Permission denied"})
                    )
                elif action == "ping":
                    if self.answer_pings:
                        writer.write(
                            encode(
                                {
                                    "Response": "Success",
                                    **ids,
                                    "Ping": "Pong",
                                    "Timestamp": "1733040000.000000",
                                }
                            )
                        )
                elif action == "logoff":
                    writer.write(
                        encode(
                            {"Response": "Goodbye", **ids, "Message": "Thanks for all the fish."}
                        )
                    )
                    await writer.drain()
                    return
                elif action == "originate":
                    self._originate(writer, message, ids)
                else:
                    writer.write(
                        encode({"Response": "Error", **ids, "Message": "Invalid/unknown command"})
                    )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if writer in self.clients:
                self.clients.remove(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def _originate(
        self, writer: asyncio.StreamWriter, message: dict[str, str], ids: dict[str, str]
    ) -> None:
        channel = message.get("Channel", "")
        plan = self.plans.get(channel, OriginatePlan())
        if not plan.queued or not channel:
            writer.write(encode({"Response": "Error", **ids, "Message": "Originate failed"}))
            return
        writer.write(
            encode({"Response": "Success", **ids, "Message": "Originate successfully queued"})
        )
        answered = plan.response == "Success"
        event = {
            "Event": "OriginateResponse",
            "Privilege": "call,all",
            **ids,
            "Response": plan.response,
            "Channel": channel,
            "Context": message.get("Context", ""),
            "Exten": message.get("Exten", ""),
            "Application": message.get("Application", ""),
            "Data": message.get("Data", ""),
            "Reason": plan.reason,
            "Uniqueid": "1733040000.42" if answered else "<null>",
            "CallerIDNum": "<unknown>",
            "CallerIDName": "<unknown>",
        }

        async def later() -> None:
            await asyncio.sleep(plan.delay_s)
            with contextlib.suppress(Exception):
                writer.write(encode(event))
                await writer.drain()

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _message(reader: asyncio.StreamReader) -> dict[str, str] | None:
        fields: dict[str, str] = {}
        while True:
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return None
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if fields:
                    return fields
                continue
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            fields[key] = fields[key] + "\n" + value if key in fields else value
