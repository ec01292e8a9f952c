"""The AudioSocket wire format: frame kinds, encoding, and reading one frame with limits.

Wire format (checked against the sources, see the end of this docstring). Every message is
``[kind: u8][length: u16 big-endian][payload: length bytes]``:

=======  =================================================================================
 kind     payload
=======  =================================================================================
 0x00     hang-up, length 0 (``00 00 00``). Closing the socket means the same.
 0x01     the call UUID, 16 bytes (binary form). Asterisk sends it first, once.
 0x03     one DTMF digit as one ASCII byte (``0-9 * # A-D``); Asterisk → us only.
 0x10     audio: signed linear 16-bit little-endian mono, 8 kHz; Asterisk sends one frame
          per channel frame (320 bytes for 20 ms) and plays every 0x10 frame we send.
 0xff     error; payload an optional code (Asterisk's: 0x01 caller hung up, 0x02 frame
          forwarding error, 0x04 memory error, bit-packed).
=======  =================================================================================

What Asterisk does with what we send (``res/res_audiosocket.c``,
``ast_audiosocket_receive_frame_with_hangup``): a 0x00 header or a closed socket is a
graceful end; in current ``apps/app_audiosocket.c`` the ``AudioSocket()`` application then
returns 0 and the dialplan (or the AGI that ran it) goes on. Any other kind than 0x10
(audio), or an audio frame with length 0, is an error: the application returns -1 and the
channel hangs up. So this server only ever sends 0x10 frames of 1..320 bytes and 0x00.
The graceful exit and the 0x03 DTMF frames came with asterisk/asterisk PR #1138 ("audiosocket
improvements", merged March 2025, cherry-picked to the 20, 21 and 22 branches); older builds
return -1 on our hang-up, which hangs the caller up instead of letting the dialplan transfer,
and send no DTMF. The application also gives up after 2 s with no traffic either way
(MAX_WAIT_TIMEOUT_MSEC).

Newer Asterisk headers define more audio kinds (0x11 for slin16 in ``res_audiosocket.h``;
the docs page lists 0x11-0x18 for 12-192 kHz; the two disagree). The ``AudioSocket()``
dialplan application always sends 0x10, so other kinds are rejected as unknown here.

Sources:
- https://docs.asterisk.org/Configuration/Channel-Drivers/AudioSocket/
  (asterisk/documentation ``docs/Configuration/Channel-Drivers/AudioSocket.md``)
- https://github.com/CyCoreSystems/audiosocket README (error codes, dialplan examples)
- asterisk/asterisk ``include/asterisk/res_audiosocket.h``, ``res/res_audiosocket.c``,
  ``apps/app_audiosocket.c`` (frame kinds, UUID frame ``01 00 10 <16 bytes>``, DTMF byte,
  hang-up handling, the 2 s inactivity timeout)
- https://docs.asterisk.org/Latest_API/API_Documentation/Dialplan_Applications/AudioSocket
  (``AudioSocket(uuid,host:port)``, since 18.0.0; the channel must be answered first)
"""

from __future__ import annotations

import asyncio

from connectors.pbx.transport import ProtocolError

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF

RATE = 8000
MAX_OUT_PAYLOAD = 320  # 20 ms of 8 kHz 16-bit audio per frame we send
DTMF_DIGITS = frozenset("0123456789*#ABCD")
HANGUP_FRAME = bytes((KIND_HANGUP, 0, 0))


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket message: kind, big-endian length, payload."""
    if not 0 <= kind <= 0xFF:
        raise ValueError(f"frame kind out of range: {kind}")
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload too long for one frame: {len(payload)} bytes")
    return bytes((kind,)) + len(payload).to_bytes(2, "big") + payload


def encode_audio(pcm: bytes) -> bytes:
    """0x10 frames of at most 320 bytes (20 ms at 8 kHz) carrying ``pcm``."""
    return b"".join(
        encode_frame(KIND_AUDIO, pcm[i : i + MAX_OUT_PAYLOAD])
        for i in range(0, len(pcm), MAX_OUT_PAYLOAD)
    )


def _buffered(reader: asyncio.StreamReader) -> int:
    """Bytes already read from the socket and waiting in ``reader`` (0 if unknown)."""
    buffer = getattr(reader, "_buffer", None)
    return len(buffer) if isinstance(buffer, bytearray) else 0


class CleanEof(Exception):
    """The peer closed the socket between two frames."""


async def read_frame(
    reader: asyncio.StreamReader, max_payload: int, timeout: float | None = None
) -> tuple[int, bytes]:
    """Read one message. ``CleanEof`` at a frame boundary, ``ProtocolError`` otherwise.

    The length is checked against ``max_payload`` before any payload is read. ``timeout``
    bounds the wait for the header (``TimeoutError``) and, separately, for the payload
    (a stalled payload is a ``ProtocolError``).
    """
    try:
        async with asyncio.timeout(timeout):
            header = await reader.readexactly(3)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise CleanEof from None
        raise ProtocolError(f"truncated header ({len(exc.partial)} of 3 bytes)") from None
    kind = header[0]
    length = int.from_bytes(header[1:3], "big")
    if length > max_payload:
        raise ProtocolError(f"frame kind 0x{kind:02x} too long: {length} > {max_payload} bytes")
    if not length:
        return kind, b""
    try:
        if _buffered(reader) >= length:  # it came with the header: no timer to arm
            payload = await reader.readexactly(length)
        else:
            async with asyncio.timeout(timeout):
                payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(
            f"truncated frame kind 0x{kind:02x}: {len(exc.partial)} of {length} bytes"
        ) from None
    except TimeoutError:
        raise ProtocolError(f"frame kind 0x{kind:02x} stalled mid-payload") from None
    return kind, payload
