"""An established pipe's control states, as a pure state machine: events in, commands out.

No sockets, no event loop (STYLE.md 6). Once the session says ``StartPipe``, the connection
shell (``proxy.connection``) copies bytes in the transports' callbacks - ``data_received`` on
one side is ``write`` on the other - without asking anyone: bytes never pass through this
machine. What it decides is everything else: which side is read, when a FIN is passed on, who
is closed or aborted, and how the pipe ended. The shell feeds it :data:`Event` objects and
carries out the :data:`Command` objects it returns, in order; tests drive it as transcripts
(``tests/proxy/test_pipe.py``).

A pipe joins two sides, the client and the upstream (the cluster), and carries two directions,
each named by the side it reads from. A direction is

* READING - its source is read and every chunk written to the other side at once;
* PAUSED  - the other side's write buffer passed its high mark (the transport said
  ``pause_writing``), so the source is not read until the buffer drains: backpressure, a slow
  reader slows its writer instead of growing our memory;
* ENDED   - its source sent EOF (TCP FIN), which was passed on (``write_eof``) to the other side.

and the pipe as a whole (X is either side, Y the other)::

       Full(X) / Drained(X): the direction into X
       turns PAUSED / READING: PauseReading(Y) / ResumeReading(Y)
               +----+
               |    v
            +----------+  Eof(X), both sides can half-close: WriteEof(Y)  +-------------+
    Start ->|   OPEN   |------------------------------------------------>| HALF_CLOSED |
            +----------+                                                  +-------------+
               |  Eof(X), a side cannot half-close (TLS): Close both           |  Eof(Y): Close both;
               |  Lost(X): Close Y (clean) or Abort Y (error)                  |  Lost and Cut as
               |  Cut (idle timeout, end of drain): Abort both                 |  from OPEN
               v                                                               |
            +----------+ <-----------------------------------------------------+
            | CLOSING  |
            +----------+
               |  the last side's Lost: Finished(outcome, detail)
               v
            +----------+
            |  CLOSED  |
            +----------+

Rules the machine keeps:

* A FIN is passed on only when both sides can half-close: TLS transports cannot (asyncio's TLS
  transport closes on EOF), so there an EOF closes the pipe, after the bytes already buffered
  are written (``Close``, not ``Abort``).
* A side lost cleanly closes the other gracefully (its buffered bytes still go out); a side
  lost with an error aborts the other and the pipe ends as ``error`` (``client_reset`` when
  the client reset it: an ordinary client-side end), unless it was already being cut for a
  reason of its own (idle timeout, drain end), which it keeps.
* Every pipe ends in CLOSED with exactly one :class:`Finished`, once both transports are gone:
  the connection's outcome and detail for the session, the metrics and the decision log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .session import Outcome

__all__ = [
    "Abort",
    "Close",
    "Command",
    "Cut",
    "Direction",
    "Drained",
    "Eof",
    "Event",
    "Finished",
    "Full",
    "Lost",
    "PauseReading",
    "Pipe",
    "PipePhase",
    "ResumeReading",
    "Side",
    "WriteEof",
]


class Side(StrEnum):
    CLIENT = "client"
    UPSTREAM = "upstream"


class Direction(StrEnum):
    """The state of one direction, named by the side it reads from."""

    READING = "reading"
    PAUSED = "paused"
    ENDED = "ended"


class PipePhase(StrEnum):
    OPEN = "open"
    HALF_CLOSED = "half_closed"
    CLOSING = "closing"
    CLOSED = "closed"


# --------------------------------------------------------------------------------------------
# Events: what the shell saw on a side's transport.


@dataclass(frozen=True, slots=True)
class Eof:
    """The side sent EOF: it will send nothing more (it may still read)."""

    side: Side


@dataclass(frozen=True, slots=True)
class Full:
    """The side's write buffer passed its high mark (``pause_writing``)."""

    side: Side


@dataclass(frozen=True, slots=True)
class Drained:
    """The side's write buffer fell below its low mark (``resume_writing``)."""

    side: Side


@dataclass(frozen=True, slots=True)
class Lost:
    """The side's transport is gone (``connection_lost``); ``error`` says why when it broke,
    ``reset`` whether that was the peer resetting the connection."""

    side: Side
    error: str | None = None
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Cut:
    """The shell ends the pipe for a reason of its own (idle timeout, end of the drain)."""

    outcome: Outcome
    detail: str = ""


Event = Eof | Full | Drained | Lost | Cut


# --------------------------------------------------------------------------------------------
# Commands: what the shell must do to a side's transport, in order.


@dataclass(frozen=True, slots=True)
class PauseReading:
    side: Side


@dataclass(frozen=True, slots=True)
class ResumeReading:
    side: Side


@dataclass(frozen=True, slots=True)
class WriteEof:
    """Pass a FIN on: the side reads EOF after the bytes already written."""

    side: Side


@dataclass(frozen=True, slots=True)
class Close:
    """Close the side after its buffered bytes are written."""

    side: Side


@dataclass(frozen=True, slots=True)
class Abort:
    """Close the side now, dropping whatever is buffered."""

    side: Side


@dataclass(frozen=True, slots=True)
class Finished:
    """Both sides are gone: the pipe is over."""

    outcome: Outcome
    detail: str = ""


Command = PauseReading | ResumeReading | WriteEof | Close | Abort | Finished


class _End:
    """One side of the pipe, as the machine knows it."""

    __slots__ = ("aborted", "closing", "eof", "full", "half_close", "open")

    def __init__(self, half_close: bool, full: bool) -> None:
        #: Can stay open for writing after its EOF, and can be sent a FIN (plain TCP).
        self.half_close = half_close
        self.open = True
        #: Told to close after its buffered bytes, or at once: saying it twice says nothing new
        #: (but an Abort still overrides a Close).
        self.closing = False
        self.aborted = False
        #: Sent EOF: the direction it is the source of has ENDED.
        self.eof = False
        #: Its write buffer is over the high mark: the direction into it is PAUSED.
        self.full = full


_STARTED: tuple[PipePhase, ...] = (PipePhase.OPEN,)

# Commands are immutable: the machine hands out shared ones instead of building each anew
# (a frozen dataclass costs about a microsecond to make, and a bootstrap ends several pipes' worth).
_SIDES = (Side.UPSTREAM, Side.CLIENT)  # the order the shell closes them in
_OTHER = {Side.CLIENT: Side.UPSTREAM, Side.UPSTREAM: Side.CLIENT}
_PAUSE = {s: PauseReading(s) for s in Side}
_RESUME = {s: ResumeReading(s) for s in Side}
_WRITE_EOF = {s: WriteEof(s) for s in Side}
_CLOSE = {s: Close(s) for s in Side}
_ABORT = {s: Abort(s) for s in Side}
_FORWARDED = Finished(Outcome.FORWARDED)


class Pipe:
    """The control state of one established pipe. Create it when the session says StartPipe,
    execute what :meth:`start` returns, then feed it events."""

    __slots__ = ("_client", "_cut", "_upstream", "history", "phase")

    def __init__(
        self,
        *,
        client_half_close: bool = True,
        upstream_half_close: bool = True,
        client_full: bool = False,
        upstream_full: bool = False,
    ) -> None:
        self.phase = PipePhase.OPEN
        #: Every phase entered, in order (the transcript tests read it). A tuple, so the
        #: thousands of idle pipes a proxy holds all share the one they start with.
        self.history: tuple[PipePhase, ...] = _STARTED
        self._client = _End(client_half_close, client_full)
        self._upstream = _End(upstream_half_close, upstream_full)
        self._cut: tuple[Outcome, str] | None = None

    def start(self) -> list[Command]:
        """The client was paused while its upstream was dialled; the upstream reads from the
        moment it connected. Read each side whose bytes have somewhere to go."""
        commands: list[Command] = []
        if not self._upstream.full:
            commands.append(_RESUME[Side.CLIENT])
        if self._client.full:
            commands.append(_PAUSE[Side.UPSTREAM])
        return commands

    def direction(self, source: Side) -> Direction:
        """The state of the direction that reads from ``source``."""
        if self._end(source).eof:
            return Direction.ENDED
        return Direction.PAUSED if self._end(_OTHER[source]).full else Direction.READING

    def handle(self, event: Event) -> list[Command]:
        if self.phase is PipePhase.CLOSED:
            return []
        kind = type(event)  # not `match`: class patterns cost more than the transitions
        if kind is Lost:
            return self._on_lost(event.side, event.error, event.reset)  # type: ignore[union-attr]
        if kind is Eof:
            return self._on_eof(event.side)  # type: ignore[union-attr]
        if kind is Full:
            return self._on_full(event.side, True)  # type: ignore[union-attr]
        if kind is Drained:
            return self._on_full(event.side, False)  # type: ignore[union-attr]
        if kind is Cut:
            return self._on_cut(event.outcome, event.detail)  # type: ignore[union-attr]
        raise TypeError(f"not a pipe event: {event!r}")

    # -- transitions

    def _end(self, side: Side) -> _End:
        return self._client if side is Side.CLIENT else self._upstream

    def _enter(self, phase: PipePhase) -> None:
        if self.phase is not phase:
            self.phase = phase
            self.history += (phase,)

    def _on_full(self, side: Side, full: bool) -> list[Command]:
        other = _OTHER[side]
        end, source = self._end(side), self._end(other)
        if end.full is full:
            return []
        end.full = full
        if not source.open or source.eof or self.phase is PipePhase.CLOSING:
            return []  # nothing left to pause or resume
        return [_PAUSE[other] if full else _RESUME[other]]

    def _on_eof(self, side: Side) -> list[Command]:
        end, other = self._end(side), self._end(_OTHER[side])
        if end.eof or self.phase is PipePhase.CLOSING:
            return []
        end.eof = True
        if other.eof or not (end.half_close and other.half_close):
            return self._close_both()
        self._enter(PipePhase.HALF_CLOSED)
        return [_WRITE_EOF[_OTHER[side]]]

    def _close_both(self) -> list[Command]:
        self._enter(PipePhase.CLOSING)
        return [c for s in _SIDES for c in self._close(s)]

    def _close(self, side: Side) -> list[Command]:
        end = self._end(side)
        if not end.open or end.closing or end.aborted:
            return []
        end.closing = True
        return [_CLOSE[side]]

    def _abort(self, side: Side) -> list[Command]:
        end = self._end(side)
        if not end.open or end.aborted:
            return []
        end.aborted = True
        return [_ABORT[side]]

    def _on_lost(self, side: Side, error: str | None, reset: bool = False) -> list[Command]:
        end, other = self._end(side), self._end(_OTHER[side])
        if not end.open:
            return []
        end.open = False
        if error is not None and self._cut is None:
            if side is Side.CLIENT and reset:
                self._cut = (Outcome.CLIENT_RESET, f"client reset the connection: {error}")
            else:
                name = "client" if side is Side.CLIENT else "cluster"
                self._cut = (Outcome.ERROR, f"{name} side: {error}")
        if not other.open:
            return self._finish()
        self._enter(PipePhase.CLOSING)
        return self._close(_OTHER[side]) if error is None else self._abort(_OTHER[side])

    def _on_cut(self, outcome: Outcome, detail: str) -> list[Command]:
        if self._cut is None:
            self._cut = (outcome, detail)
        self._enter(PipePhase.CLOSING)
        return [c for s in _SIDES for c in self._abort(s)]

    def _finish(self) -> list[Command]:
        self._enter(PipePhase.CLOSED)
        return [_FORWARDED if self._cut is None else Finished(*self._cut)]
