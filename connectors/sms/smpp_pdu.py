"""The SMPP 3.4 PDUs an SMS sender needs, encoded and decoded (SMPP v3.4 Issue 1.2, §3–§5).

Every PDU is a 16-byte header (``command_length``, ``command_id``, ``command_status``,
``sequence_number``, big-endian) and a body of C-octet strings (NUL-terminated), integers and
optional TLVs. Covered: ``bind_transmitter`` (+resp), ``submit_sm`` (+resp), ``enquire_link``
(+resp), ``unbind`` (+resp), ``generic_nack``; ``deliver_sm`` is only acknowledged.
:func:`split_text` makes the ``short_message`` of one message or of the parts of a long one
(UCS-2 with a concatenation UDH, or the whole text in ``message_payload``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HEADER = struct.Struct(">IIII")
MAX_PDU = 65536  # larger command_length values are refused (the spec allows any)

GENERIC_NACK = 0x80000000
BIND_TRANSMITTER = 0x00000002
BIND_TRANSMITTER_RESP = 0x80000002
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015

ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDID = 0x03
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RMSGQFUL = 0x14
ESME_RSUBMITFAIL = 0x45
ESME_RTHROTTLED = 0x58
ESME_RX_T_APPN = 0x64
# the SMSC is busy or failed for a moment: the message was not taken, try again later
TEMPORARY_STATUSES = frozenset(
    {ESME_RSYSERR, ESME_RMSGQFUL, ESME_RSUBMITFAIL, ESME_RTHROTTLED, ESME_RX_T_APPN}
)

TLV_MESSAGE_PAYLOAD = 0x0424
INTERFACE_VERSION = 0x34
ESM_UDHI = 0x40
DC_DEFAULT = 0x00
DC_UCS2 = 0x08
UCS2_SINGLE_BYTES = 140
UCS2_PART_BYTES = 134  # 140 - the 6-byte concatenation UDH
GSM7_SINGLE = 160
GSM7_PART = 153


class PduError(ValueError):
    """A PDU that cannot be decoded (the link is closed: the stream is out of step)."""


@dataclass(slots=True)
class Pdu:
    command_id: int
    sequence: int
    status: int = 0
    body: bytes = b""

    def encode(self) -> bytes:
        return (
            HEADER.pack(HEADER.size + len(self.body), self.command_id, self.status, self.sequence)
            + self.body
        )

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & 0x80000000)


def header_length(header: bytes) -> int:
    """The ``command_length`` of a PDU from its first 16 bytes, checked against the limits."""
    length, _, _, _ = HEADER.unpack(header)
    if length < HEADER.size or length > MAX_PDU:
        raise PduError(f"command_length {length} out of range")
    return int(length)


def decode(data: bytes) -> Pdu:
    if len(data) < HEADER.size:
        raise PduError("a PDU shorter than its header")
    length, command_id, status, sequence = HEADER.unpack_from(data)
    if length != len(data):
        raise PduError("command_length does not match the PDU")
    return Pdu(command_id, sequence, status, data[HEADER.size :])


def cstring(value: str | bytes, limit: int) -> bytes:
    """A C-octet string of at most ``limit`` bytes including the NUL."""
    raw = value.encode("ascii") if isinstance(value, str) else value
    if b"\0" in raw or len(raw) + 1 > limit:
        raise ValueError(f"a C-octet string longer than {limit - 1} bytes")
    return raw + b"\0"


def read_cstring(body: bytes, offset: int, limit: int) -> tuple[str, int]:
    end = body.find(b"\0", offset, offset + limit)
    if end < 0:
        raise PduError("an unterminated C-octet string")
    return body[offset:end].decode("latin-1"), end + 1


def bind_transmitter(sequence: int, system_id: str, password: str, system_type: str) -> Pdu:
    body = (
        cstring(system_id, 16)
        + cstring(password, 9)
        + cstring(system_type, 13)
        + bytes([INTERFACE_VERSION, 0, 0])  # interface_version, addr_ton, addr_npi
        + cstring("", 41)  # address_range
    )
    return Pdu(BIND_TRANSMITTER, sequence, 0, body)


@dataclass(slots=True)
class SubmitSm:
    source: str
    source_ton: int
    source_npi: int
    destination: str
    dest_ton: int
    dest_npi: int
    short_message: bytes = b""
    data_coding: int = DC_UCS2
    esm_class: int = 0
    registered_delivery: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def pdu(self, sequence: int) -> Pdu:
        if len(self.short_message) > 254:
            raise ValueError("short_message is at most 254 bytes (use message_payload)")
        body = bytearray()
        body += cstring("", 6)  # service_type: the SMSC's default
        body += bytes([self.source_ton, self.source_npi]) + cstring(self.source, 21)
        body += bytes([self.dest_ton, self.dest_npi]) + cstring(self.destination, 21)
        body += bytes([self.esm_class, 0, 0])  # esm_class, protocol_id, priority_flag
        body += cstring("", 17) + cstring("", 17)  # schedule_delivery_time, validity_period
        body += bytes([self.registered_delivery, 0, self.data_coding, 0])
        body += bytes([len(self.short_message)]) + self.short_message
        for tag, value in self.tlvs.items():
            body += struct.pack(">HH", tag, len(value)) + value
        return Pdu(SUBMIT_SM, sequence, 0, bytes(body))

    @classmethod
    def decode(cls, body: bytes) -> SubmitSm:
        """Read a ``submit_sm`` body (for the test SMSC and for checks)."""
        try:
            _, at = read_cstring(body, 0, 6)
            source_ton, source_npi = body[at], body[at + 1]
            source, at = read_cstring(body, at + 2, 21)
            dest_ton, dest_npi = body[at], body[at + 1]
            destination, at = read_cstring(body, at + 2, 21)
            esm_class = body[at]
            _, at = read_cstring(body, at + 3, 17)
            _, at = read_cstring(body, at, 17)
            registered, data_coding, sm_length = body[at], body[at + 2], body[at + 4]
            at += 5
            short_message = body[at : at + sm_length]
            if len(short_message) != sm_length:
                raise PduError("short_message shorter than sm_length")
            at += sm_length
            tlvs: dict[int, bytes] = {}
            while at + 4 <= len(body):
                tag, size = struct.unpack_from(">HH", body, at)
                tlvs[tag] = body[at + 4 : at + 4 + size]
                at += 4 + size
        except IndexError:
            raise PduError("a truncated submit_sm") from None
        return cls(
            source,
            source_ton,
            source_npi,
            destination,
            dest_ton,
            dest_npi,
            short_message,
            data_coding,
            esm_class,
            registered,
            tlvs,
        )

    @property
    def text(self) -> str:
        """The text of this PDU (without its UDH), decoded by ``data_coding``."""
        data = self.tlvs.get(TLV_MESSAGE_PAYLOAD, self.short_message)
        if self.esm_class & ESM_UDHI and data:
            data = data[1 + data[0] :]
        return data.decode("utf-16-be" if self.data_coding == DC_UCS2 else "latin-1")


def message_id(resp: Pdu) -> str:
    """The ``message_id`` of a ``submit_sm_resp`` ("" when the SMSC sent none)."""
    if not resp.body:
        return ""
    value, _ = read_cstring(resp.body, 0, 65)
    return value


def system_id(resp: Pdu) -> str:
    if not resp.body:
        return ""
    value, _ = read_cstring(resp.body, 0, 16)
    return value


@dataclass(frozen=True, slots=True)
class Encoded:
    data_coding: int
    parts: list[bytes]  # each a short_message (with its UDH when there are several)
    udhi: bool
    payload: bytes = b""  # message_payload mode: the whole text, parts == []


def split_text(text: str, reference: int, *, gsm7: bool, payload: bool = False) -> Encoded:
    """The ``short_message`` of each part of ``text``.

    UCS-2 (UTF-16BE; a surrogate pair is never cut) unless ``gsm7`` (then ASCII bytes with
    ``data_coding`` 0). A text that does not fit one SMS is cut into parts with the 8-bit
    concatenation UDH ``05 00 03 <reference> <total> <n>``, or, with ``payload``, goes whole
    in the ``message_payload`` TLV.
    """
    coding = DC_DEFAULT if gsm7 else DC_UCS2
    data = text.encode("ascii") if gsm7 else text.encode("utf-16-be")
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm7 else (UCS2_SINGLE_BYTES, UCS2_PART_BYTES)
    if len(data) <= single:
        return Encoded(coding, [data], False)
    if payload:
        return Encoded(coding, [], False, data)
    chunks: list[bytes] = []
    at = 0
    while at < len(data):
        end = min(at + part, len(data))
        if not gsm7 and end < len(data) and 0xD8 <= data[end - 2] <= 0xDB:
            end -= 2  # keep a surrogate pair in one part
        chunks.append(data[at:end])
        at = end
    if len(chunks) > 255:
        raise ValueError("a text of more than 255 parts")
    total = len(chunks)
    parts = [bytes([5, 0, 3, reference & 0xFF, total, n]) + c for n, c in enumerate(chunks, 1)]
    return Encoded(coding, parts, True)
