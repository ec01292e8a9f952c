"""The small interface between a PBX connector and the bot's call session.

A connector turns one call of its wire protocol into a :class:`CallTransport`: inbound
audio frames, keypad digits and hang-up as :data:`InboundEvent` values, and methods for
the bot's side (play a frame, clear buffered audio, transfer, set the caller name, hang
up). Audio is always :class:`speech.audio.Audio` (16-bit mono PCM at ``transport.rate``);
codecs (μ-law, A-law, L16 big-endian, base64, …) live only inside the connector.

The session paces outgoing audio itself (one 20 ms frame per 20 ms) and calls
:meth:`CallTransport.clear` on barge-in, so connectors never need their own playback
clock. A connector starts a call by awaiting ``handler(transport)`` (a :data:`CallHandler`
the bot gives it) and cleans up when it returns. A malformed frame ends that call only
(the connector raises :class:`ProtocolError` inside the call, logs it and closes it).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from speech.audio import Audio


class ProtocolError(Exception):
    """The peer broke the wire protocol; the call ends, the server goes on."""


@dataclass(frozen=True, slots=True)
class CallInfo:
    call_id: str
    caller: str  # caller ID as the PBX gave it (not normalised); "" if unknown
    called: str  # the dialled number / extension / IVR branch; "" if unknown
    connector: str  # "audiosocket" | "twilio" | "audio_fork" | "browser" | …
    extra: Mapping[str, str] = field(default_factory=dict)  # channel, stream sid, …


@dataclass(frozen=True, slots=True)
class AudioIn:
    audio: Audio


@dataclass(frozen=True, slots=True)
class DtmfIn:
    digit: str  # one of 0-9 * # A-D


@dataclass(frozen=True, slots=True)
class HangupIn:
    reason: str = ""


InboundEvent = AudioIn | DtmfIn | HangupIn


class CallTransport(abc.ABC):
    """One call as the session sees it. Subclasses implement the abstract methods."""

    info: CallInfo
    rate: int  # sample rate of inbound and outbound audio

    @abc.abstractmethod
    def events(self) -> AsyncIterator[InboundEvent]:
        """Inbound audio, DTMF and hang-up, in order; ends when the call is gone."""

    @abc.abstractmethod
    async def play(self, frame: Audio) -> None:
        """Send one outgoing frame (the session paces frames in real time)."""

    async def clear(self) -> None:  # noqa: B027 - optional
        """Drop audio buffered at the far end (barge-in). Default: nothing is buffered."""

    async def set_caller_name(self, name: str) -> None:  # noqa: B027 - optional
        """Show ``name`` to operators (CALLERID(name), SetCaller, …) if the PBX can."""

    @abc.abstractmethod
    async def transfer(self, target: str) -> None:
        """Hand the call back to the PBX for ``target`` (queue, extension, URI)."""

    @abc.abstractmethod
    async def hangup(self) -> None:
        """End the call from the bot's side."""


CallHandler = Callable[[CallTransport], Awaitable[None]]
