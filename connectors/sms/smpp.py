"""An SMPP 3.4 transmitter over asyncio: bind, ``submit_sm``, ``enquire_link``, unbind.

One TCP link to the SMSC is opened on the first message, bound with ``bind_transmitter`` and
kept while messages come (checked with ``enquire_link`` every ``enquire_link_s``; closed with
``unbind`` after ``idle_close_s`` without messages). Messages go one at a time: each part's
``submit_sm`` waits for its ``submit_sm_resp`` (``response_timeout``). A PDU larger than
:data:`~connectors.sms.smpp_pdu.MAX_PDU` or one that does not decode closes the link.

Cyrillic goes as UCS-2 (``data_coding`` 8); plain GSM-safe ASCII as ``data_coding`` 0. A long
text is sent as concatenated parts (UDH, ``esm_class`` 0x40) or, with ``long_messages:
payload``, whole in ``message_payload``. The outcome follows :mod:`connectors.sms`: no link,
a refused bind or a busy SMSC (throttled, queue full, system error) on the first part is
temporary; a refusal of the first part is final; a missing response after a ``submit_sm``,
a broken link mid-way or a failure after some parts were accepted is uncertain.

Why our own codec and not a library: the asyncio SMPP libraries on PyPI (``aiosmpplib``,
``naz``) own the queue and the retries (a broker that sends whenever the link is up), which
would hide from the outbox whether a given message went out; the few PDUs a transmitter
needs fit in :mod:`connectors.sms.smpp_pdu`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass

from connectors.sms import (
    SmsGateway,
    SmsReceipt,
    SmsRejected,
    SmsTemporaryError,
    SmsUncertain,
    is_gsm7,
)
from connectors.sms import smpp_pdu as p

log = logging.getLogger(__name__)
LONG_MODES = ("udh", "payload")


@dataclass(slots=True)
class SmppSettings:
    """An SMPP 3.4 SMSC: we bind as a transmitter and send ``submit_sm``."""

    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = ""
    password: str = ""  # a secret: never logged; SMPP allows at most 8 characters
    system_type: str = ""
    dest_ton: int = 1  # international
    dest_npi: int = 1  # E.164
    source_ton: int | None = None  # None: 5 (alphanumeric) or 1 (international) by the sender
    source_npi: int | None = None  # None: 0 or 1 by the sender
    long_messages: str = "udh"  # udh: concatenated parts (8-bit reference); payload: one PDU
    registered_delivery: bool = False  # ask the SMSC for delivery receipts
    connect_timeout: float = 5.0
    response_timeout: float = 10.0  # for each response (bind, submit_sm, enquire_link)
    enquire_link_s: float = 30.0  # a link kept open is checked this often
    idle_close_s: float = 60.0  # an idle bound link is closed (unbind) after this

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError("sms.smpp.port must be a TCP port")
        if len(self.system_id) > 15 or len(self.password) > 8 or len(self.system_type) > 12:
            raise ValueError("sms.smpp: system_id ≤ 15, password ≤ 8, system_type ≤ 12 characters")
        if self.long_messages not in LONG_MODES:
            raise ValueError(f"sms.smpp.long_messages must be one of {', '.join(LONG_MODES)}")
        for name in ("dest_ton", "dest_npi", "source_ton", "source_npi"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 255:
                raise ValueError(f"sms.smpp.{name} must be between 0 and 255")
        for name in ("connect_timeout", "response_timeout", "enquire_link_s", "idle_close_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"sms.smpp.{name} must be positive")


class _LinkLost(Exception):
    pass


class _Link:
    """One bound connection: a reader task matches responses to requests by sequence."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[p.Pdu]] = {}
        self.sequence = itertools.count(1)
        self.closed = asyncio.Event()
        self.task = asyncio.create_task(self._read_loop())

    async def request(self, pdu_for: p.Pdu, timeout: float) -> p.Pdu:
        if self.closed.is_set():
            raise _LinkLost("the link is closed")
        future: asyncio.Future[p.Pdu] = asyncio.get_running_loop().create_future()
        self.pending[pdu_for.sequence] = future
        try:
            self.writer.write(pdu_for.encode())
            await self.writer.drain()
            async with asyncio.timeout(timeout):
                return await future
        except (ConnectionError, OSError) as exc:
            raise _LinkLost(type(exc).__name__) from None
        finally:
            self.pending.pop(pdu_for.sequence, None)

    def next_sequence(self) -> int:
        return next(self.sequence) & 0x7FFFFFFF

    async def _read_loop(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(p.HEADER.size)
                length = p.header_length(header)
                pdu = p.decode(header + await self.reader.readexactly(length - p.HEADER.size))
                await self._dispatch(pdu)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except p.PduError as exc:
            log.warning("SMPP: a bad PDU, link closed", extra={"error": str(exc)})
        finally:
            self._close()

    async def _dispatch(self, pdu: p.Pdu) -> None:
        if pdu.is_response:
            future = self.pending.get(pdu.sequence)
            if future is not None and not future.done():
                future.set_result(pdu)
            return
        if pdu.command_id == p.ENQUIRE_LINK:
            reply = p.Pdu(p.ENQUIRE_LINK_RESP, pdu.sequence)
        elif pdu.command_id == p.DELIVER_SM:  # a receipt or an MO message: acknowledged only
            reply = p.Pdu(p.DELIVER_SM_RESP, pdu.sequence, 0, b"\0")
        elif pdu.command_id == p.UNBIND:
            self.writer.write(p.Pdu(p.UNBIND_RESP, pdu.sequence).encode())
            raise ConnectionResetError("the SMSC unbound")
        else:
            reply = p.Pdu(p.GENERIC_NACK, pdu.sequence, p.ESME_RINVCMDID)
        self.writer.write(reply.encode())
        await self.writer.drain()

    def _close(self) -> None:
        self.closed.set()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(_LinkLost("the link closed"))
        with contextlib.suppress(Exception):
            self.writer.close()

    async def close(self, unbind_timeout: float) -> None:
        if not self.closed.is_set():
            with contextlib.suppress(Exception):
                await self.request(p.Pdu(p.UNBIND, self.next_sequence()), unbind_timeout)
        self._close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class SmppGateway(SmsGateway):
    name = "smpp"

    def __init__(self, settings: SmppSettings, *, max_parts: int = 10) -> None:
        worst = settings.connect_timeout + settings.response_timeout * (max_parts + 2)
        super().__init__(timeout=worst, max_parts=max_parts)
        self._settings = settings
        self._link: _Link | None = None
        self._lock = asyncio.Lock()
        self._reference = itertools.count(1)
        self._keeper: asyncio.Task[None] | None = None
        self._last_used = 0.0

    def _addresses(self, sender: str) -> tuple[int, int]:
        s = self._settings
        numeric = sender.lstrip("+").isdigit()
        ton = s.source_ton if s.source_ton is not None else (1 if numeric else 5)
        npi = s.source_npi if s.source_npi is not None else (1 if numeric else 0)
        return ton, npi

    async def _connect(self) -> _Link:
        s = self._settings
        try:
            async with asyncio.timeout(s.connect_timeout):
                reader, writer = await asyncio.open_connection(s.host, s.port)
        except (TimeoutError, OSError) as exc:
            raise SmsTemporaryError(f"smpp: cannot connect ({type(exc).__name__})") from None
        link = _Link(reader, writer)
        try:
            bind = p.bind_transmitter(link.next_sequence(), s.system_id, s.password, s.system_type)
            resp = await link.request(bind, s.response_timeout)
        except (TimeoutError, _LinkLost) as exc:
            await link.close(0.5)
            raise SmsTemporaryError(f"smpp: no bind response ({type(exc).__name__})") from None
        if resp.command_id != p.BIND_TRANSMITTER_RESP or resp.status != p.ESME_ROK:
            await link.close(0.5)
            raise SmsTemporaryError(f"smpp: bind refused (status 0x{resp.status:08x})")
        log.info("SMPP bound as a transmitter", extra={"smsc": p.system_id(resp)[:15]})
        self._last_used = asyncio.get_running_loop().time()
        return link

    async def _ready_link(self) -> _Link:
        link = self._link
        loop = asyncio.get_running_loop()
        if link is not None and not link.closed.is_set():
            if loop.time() - self._last_used < self._settings.enquire_link_s:
                return link
            if await self._alive(link):
                return link
        if link is not None:
            await link.close(0.5)
        self._link = await self._connect()
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep())
        return self._link

    async def _alive(self, link: _Link) -> bool:
        try:
            resp = await link.request(
                p.Pdu(p.ENQUIRE_LINK, link.next_sequence()), self._settings.response_timeout
            )
        except (TimeoutError, _LinkLost):
            return False
        self._last_used = asyncio.get_running_loop().time()
        return resp.command_id == p.ENQUIRE_LINK_RESP

    async def _keep(self) -> None:
        """enquire_link while the link is open; unbind after ``idle_close_s`` unused."""
        s = self._settings
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(s.enquire_link_s, s.idle_close_s) / 2)
            async with self._lock:
                link = self._link
                if link is None or link.closed.is_set():
                    self._link = None
                    return
                idle = loop.time() - self._last_used
                if idle >= s.idle_close_s:
                    await link.close(s.response_timeout)
                    self._link = None
                    return
                if idle >= s.enquire_link_s and not await self._alive(link):
                    await link.close(0.5)
                    self._link = None
                    return

    async def _send(self, to: str, text: str, sender: str) -> SmsReceipt:
        s = self._settings
        encoded = p.split_text(
            text, next(self._reference), gsm7=is_gsm7(text), payload=s.long_messages == "payload"
        )
        ton, npi = self._addresses(sender)
        base = p.SubmitSm(
            source=sender.lstrip("+"),
            source_ton=ton,
            source_npi=npi,
            destination=to,
            dest_ton=s.dest_ton,
            dest_npi=s.dest_npi,
            data_coding=encoded.data_coding,
            registered_delivery=int(s.registered_delivery),
        )
        messages: list[p.SubmitSm] = []
        if encoded.payload:
            base.tlvs = {p.TLV_MESSAGE_PAYLOAD: encoded.payload}
            messages.append(base)
        for part in encoded.parts:
            esm = p.ESM_UDHI if encoded.udhi else 0
            messages.append(
                p.SubmitSm(
                    base.source,
                    ton,
                    npi,
                    to,
                    s.dest_ton,
                    s.dest_npi,
                    part,
                    base.data_coding,
                    esm,
                    base.registered_delivery,
                )
            )
        async with self._lock:
            link = await self._ready_link()
            ids: list[str] = []
            for n, message in enumerate(messages):
                ids.append(await self._submit(link, message, first=n == 0))
            self._last_used = asyncio.get_running_loop().time()
        return SmsReceipt(
            self.name, message_id=",".join(i for i in ids if i)[:200], parts=len(messages)
        )

    async def _submit(self, link: _Link, message: p.SubmitSm, *, first: bool) -> str:
        try:
            resp = await link.request(
                message.pdu(link.next_sequence()), self._settings.response_timeout
            )
        except (TimeoutError, _LinkLost) as exc:
            await link.close(0.5)
            self._link = None
            raise SmsUncertain(f"smpp: no submit_sm_resp ({type(exc).__name__})") from None
        if resp.command_id == p.SUBMIT_SM_RESP and resp.status == p.ESME_ROK:
            return p.message_id(resp)
        status = f"status 0x{resp.status:08x}"
        if not first:
            raise SmsUncertain(f"smpp: a later part was refused ({status})")
        if resp.command_id == p.SUBMIT_SM_RESP and resp.status in p.TEMPORARY_STATUSES:
            raise SmsTemporaryError(f"smpp: the SMSC is busy ({status})")
        raise SmsRejected(f"smpp: submit_sm refused ({status})")

    async def close(self) -> None:
        async with self._lock:
            if self._keeper is not None:
                self._keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._keeper
                self._keeper = None
            if self._link is not None:
                await self._link.close(self._settings.response_timeout)
                self._link = None
