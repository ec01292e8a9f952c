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

What the bot decided for the PBX lives in one place, the transport's :class:`CallOutcome`:
the result (``hangup`` | ``transfer`` | ``error``), the transfer target and reason, and the
caller name shown to operators. The session calls :meth:`CallTransport.hand_over` with the
dialog's reason; a failure reason (:data:`ERROR_REASONS`) makes the result ``error``, which each
connector reports in its own way (FastAGI ``BOT_RESULT=error``, a Twilio ``error:<target>``
mark, ``"result": "error"`` in the mod_audio_fork and browser transfer messages).
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

# Transfer reasons that mean "something failed" (the order could not be saved, an engine
# failed or timed out, the Rasa server is down): the PBX gets ``error``, not ``transfer``.
ERROR_REASONS = frozenset({"error", "engine_error", "recognition_timeout", "rasa_unavailable"})
RESULT_HANGUP = "hangup"
RESULT_TRANSFER = "transfer"
RESULT_ERROR = "error"


@dataclass(slots=True)
class CallOutcome:
    """What the bot decided for one call: read by the connector (and FastAGI) at the end."""

    result: str = ""  # "" while undecided, then "hangup" | "transfer" | "error"
    target: str | None = None  # transfer target (queue, extension, URI)
    reason: str = ""  # the dialog's transfer reason ("error", "caller_request", …)
    caller_name: str | None = None  # shown to operators
    # the handoff did not reach the PBX's target: refused | timeout | failed | caller_hangup
    # ("" = done, or the connector cannot tell); set by connectors that transfer themselves
    transfer_failed: str = ""

    def transfer_to(self, target: str, reason: str | None = None) -> CallOutcome:
        """Record a transfer; ``reason=None`` keeps the reason given earlier."""
        self.target = target
        if reason is not None:
            self.reason = reason
        self.result = RESULT_ERROR if self.reason in ERROR_REASONS else RESULT_TRANSFER
        return self

    def hung_up(self) -> None:
        """The bot ended the call (kept if a transfer or failure was recorded first)."""
        if not self.result:
            self.result = RESULT_HANGUP

    def failed(self, reason: str) -> None:
        """The bot could not handle the call at all (no dialog decision)."""
        self.result = RESULT_ERROR
        self.reason = self.reason or reason

    @property
    def is_error(self) -> bool:
        return self.result == RESULT_ERROR


class CallTransport(abc.ABC):
    """One call as the session sees it. Subclasses implement the abstract methods."""

    info: CallInfo
    rate: int  # sample rate of inbound and outbound audio
    _call_outcome: CallOutcome | None = None

    @property
    def outcome(self) -> CallOutcome:
        """The call's one :class:`CallOutcome` (made on first use; a connector may share one
        with its signalling side, as AudioSocket does with FastAGI)."""
        if self._call_outcome is None:
            self._call_outcome = CallOutcome()
        return self._call_outcome

    @outcome.setter
    def outcome(self, outcome: CallOutcome) -> None:
        self._call_outcome = outcome

    @abc.abstractmethod
    def events(self) -> AsyncIterator[InboundEvent]:
        """Inbound audio, DTMF and hang-up, in order; ends when the call is gone."""

    @abc.abstractmethod
    async def play(self, frame: Audio) -> None:
        """Send one outgoing frame (the session paces frames in real time)."""

    async def clear(self) -> None:  # noqa: B027 - optional
        """Drop audio buffered at the far end (barge-in). Default: nothing is buffered."""

    async def set_caller_name(self, name: str) -> None:
        """Show ``name`` to operators (CALLERID(name), SetCaller, …) if the PBX can.
        Default: only recorded in :attr:`outcome`; overrides record it too."""
        self.outcome.caller_name = name

    async def hand_over(self, target: str, reason: str = "") -> None:
        """Transfer for the dialog's ``reason``: recorded in :attr:`outcome` (a failure
        reason makes it an ``error``), then :meth:`transfer`."""
        self.outcome.transfer_to(target, reason)
        await self.transfer(target)

    @abc.abstractmethod
    async def transfer(self, target: str) -> None:
        """Hand the call back to the PBX for ``target`` (queue, extension, URI); record it
        with ``self.outcome.transfer_to(target)``."""

    @abc.abstractmethod
    async def hangup(self) -> None:
        """End the call from the bot's side."""


CallHandler = Callable[[CallTransport], Awaitable[None]]
