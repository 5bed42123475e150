"""One client connection's life, as a pure state machine: events in, commands out.

No sockets, no clock, no event loop (STYLE.md 6). The IO shell (``proxy.server``) turns what
happens on the wire into :data:`Event` objects, calls :meth:`Session.handle`, and carries out
the :data:`Command` objects it gets back, in order. Tests drive the same machine with a
transcript of events and compare the commands (``tests/proxy/test_session.py``).

::

                 ClientData (partial)
                   +------+
                   v      |
    +----------------------+  complete first frame, rule `route`  +--------+
    | AWAITING_FIRST_FRAME |------------------------------------->| ROUTED |
    +----------------------+        (snapshot.decide(client_id))  +--------+
       |  |  fence rule: Hold                                          | Dial(first bootstrap server)
       |  +------------> +------+  HoldOver, client EOF: Close(fenced)  |
       |                | HELD |-----------> CLOSED                    |
       |                +------+  (client bytes read and discarded)    |
       |  malformed frame,                                             |
       |  timeout, client EOF                                          v
       |                                 UpstreamFailed, more   +------------+
       |                                 servers: Dial(next) -->| CONNECTING |<--+
       |                                                        +------------+   |
       |                       UpstreamFailed, none left /            | UpstreamConnected
       |                       client EOF                             | SendUpstream(buffered frame
       |                              +-------------------------------+  and anything after it)
       v                              v                               v  StartPipe
    +--------+   PipeClosed    +------------+                   +------------+
    | CLOSED |<----------------|            |<------------------| FORWARDING |
    +--------+                 +------------+    PipeClosed     +------------+

Rules the machine keeps:

* Routing reads one snapshot of the route table, given at construction: a reload while this
  connection is open changes nothing for it (its upstream is fixed once dialled).
* The only addresses ever dialled are the ``bootstrap`` entries of the cluster the table
  chose, in file order: the proxy never connects anywhere the route file does not name.
* The first frame goes upstream verbatim, followed by whatever the client pipelined behind it;
  the machine never re-encodes a byte.
* Every path ends in CLOSED with exactly one :class:`Close` naming a bounded ``outcome``
  (a metric label) and a human ``detail`` (for the decision log).
* A fenced connection is not closed at once: :class:`Hold` asks the shell to keep it open,
  answering nothing, until :class:`HoldOver`. Clients then wait out their own request timeout
  before reconnecting instead of reconnecting many times a second (how long, and how many
  connections may be held at once, is the shell's business: ``Limits.fence_hold``). Only a
  first request that is ApiVersions is answered first, as a broker would (``proxy.apiversions``
  says why): a client that gets no version answer gives up on the connection by itself.
* A client id whose bytes are not UTF-8 matches no rule (Kafka accepts such ids; so do we).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from .apiversions import API_VERSIONS_KEY, api_versions_answer
from .codec import DEFAULT_MAX_FIRST_FRAME_SIZE, FirstFrame, NeedMoreData, parse_first_frame
from .errors import ProtocolError, ProtocolErrorCause
from .routetable import Decision, RouteTable

__all__ = [
    "Address",
    "ClientData",
    "ClientEof",
    "Close",
    "Command",
    "Dial",
    "Event",
    "FirstFrameTimedOut",
    "Hold",
    "HoldOver",
    "Outcome",
    "Phase",
    "PipeClosed",
    "SendClient",
    "SendUpstream",
    "Session",
    "StartPipe",
    "Terminated",
    "UpstreamConnected",
    "UpstreamFailed",
    "parse_address",
]


class Phase(StrEnum):
    AWAITING_FIRST_FRAME = "awaiting_first_frame"
    ROUTED = "routed"
    HELD = "held"
    CONNECTING = "connecting"
    FORWARDING = "forwarding"
    CLOSED = "closed"


class Outcome(StrEnum):
    """How a connection ended. Values are metric labels and decision-log fields."""

    #: Piped to the cluster, then closed by either side (the normal end of every bootstrap).
    FORWARDED = "forwarded"
    #: A `fence` rule matched: refused on purpose.
    FENCED = "fenced"
    #: The first bytes can never be a Kafka request (the codec's cause says why).
    MALFORMED = "malformed"
    #: No complete first frame within the first-frame timeout (slow or silent client).
    FIRST_FRAME_TIMEOUT = "first_frame_timeout"
    #: The client went away before we had a route or an upstream.
    CLIENT_CLOSED = "client_closed"
    #: The client reset an established pipe (a killed process, a client that aborts its
    #: sockets): the client's business, not a proxy or cluster error.
    CLIENT_RESET = "client_reset"
    #: Every bootstrap server of the chosen cluster refused or timed out.
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    #: No bytes either way for the idle timeout.
    IDLE_TIMEOUT = "idle_timeout"
    #: Still open when the shutdown drain ended.
    SHUTDOWN = "shutdown"
    #: A socket error on an established pipe: the cluster side broke, or the client side
    #: failed other than by a reset (TLS failure).
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@functools.lru_cache(maxsize=1024)  # pure; a table names few addresses, dialled per connection
def parse_address(text: str, *, allow_port_zero: bool = False) -> Address:
    """``host:port`` or ``[v6]:port``; ValueError with the reason otherwise. Port 0 (let the
    OS choose) only for listeners, when allowed."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"{text!r}: expected [ipv6]:port")
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(f"{text!r}: expected host:port")
    if not host:
        raise ValueError(f"{text!r}: empty host")
    low = 0 if allow_port_zero else 1
    if not port.isdigit() or not low <= int(port) < 65536:
        raise ValueError(f"{text!r}: port must be {low}-65535")
    return Address(host, int(port))


# --------------------------------------------------------------------------------------------
# Events: what the shell saw.


@dataclass(frozen=True, slots=True)
class ClientData:
    data: bytes


@dataclass(frozen=True, slots=True)
class ClientEof:
    """The client closed (or half-closed) its side before the pipe was established."""


@dataclass(frozen=True, slots=True)
class FirstFrameTimedOut:
    pass


@dataclass(frozen=True, slots=True)
class UpstreamConnected:
    address: Address


@dataclass(frozen=True, slots=True)
class UpstreamFailed:
    address: Address
    #: Bounded label: timeout | refused | unreachable | tls | resolve | bad_address | error
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class HoldOver:
    """A fenced connection's hold ended (its time is up, the hold bound was reached, a reload
    no longer fences it, or shutdown); ``detail`` says which."""

    detail: str


@dataclass(frozen=True, slots=True)
class PipeClosed:
    """The established pipe ended; ``outcome`` is FORWARDED unless the shell cut it short."""

    outcome: Outcome = Outcome.FORWARDED
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Terminated:
    """The shell cut the connection short before a pipe existed (drain deadline)."""

    outcome: Outcome
    detail: str = ""


Event = (
    ClientData | ClientEof | FirstFrameTimedOut | UpstreamConnected | UpstreamFailed | HoldOver | PipeClosed
    | Terminated
)


# --------------------------------------------------------------------------------------------
# Commands: what the shell must do, in order.


@dataclass(frozen=True, slots=True)
class Dial:
    cluster: str
    address: Address
    tls: bool
    attempt: int  # 1-based position in the cluster's bootstrap list
    of: int


@dataclass(frozen=True, slots=True)
class SendUpstream:
    data: bytes


@dataclass(frozen=True, slots=True)
class SendClient:
    """Bytes the proxy itself sends the client: a last word before closing (HTTP refusal), or
    the ApiVersions answer to a fenced client. Only ever these fixed, small messages."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Hold:
    """A fence rule matched: keep the connection open, read and discard, answer nothing, then
    feed :class:`HoldOver`."""


@dataclass(frozen=True, slots=True)
class StartPipe:
    """From now on copy bytes both ways with backpressure and half-close."""


@dataclass(frozen=True, slots=True)
class Close:
    outcome: Outcome
    detail: str = ""
    #: For MALFORMED: the codec's cause (also a metric label).
    cause: ProtocolErrorCause | None = None


Command = Dial | SendUpstream | SendClient | Hold | StartPipe | Close


#: Answer to an HTTP request on the Kafka port: health checks pointed at the wrong port get a
#: readable refusal instead of a silent close.
_HTTP_BODY: Final = b"This port speaks the Kafka protocol; HTTP belongs on the proxy's admin port.\n"
HTTP_REFUSAL: Final = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    + b"Content-Length: %d\r\n\r\n" % len(_HTTP_BODY)
    + _HTTP_BODY
)


@dataclass
class Session:
    """The state of one client connection. Create one per accepted connection with the route
    table snapshot of that moment; feed it events; execute the commands it returns."""

    table: RouteTable
    max_first_frame_size: int = DEFAULT_MAX_FIRST_FRAME_SIZE

    phase: Phase = Phase.AWAITING_FIRST_FRAME
    #: Every phase entered, in order (the transcript tests read it).
    history: list[Phase] = field(default_factory=lambda: [Phase.AWAITING_FIRST_FRAME])
    frame: FirstFrame | None = None
    decision: Decision | None = None
    upstream: Address | None = None
    outcome: Outcome | None = None
    detail: str = ""
    cause: ProtocolErrorCause | None = None
    #: Dial attempts that failed: (address, reason).
    failures: list[tuple[Address, str]] = field(default_factory=list)

    _buffer: bytearray = field(default_factory=bytearray)
    _wanted: int = 1
    _candidates: tuple[str, ...] = ()
    _next: int = 0

    @property
    def client_id(self) -> str | None:
        return self.frame.client_id if self.frame else None

    @property
    def cluster(self) -> str | None:
        return self.decision.cluster if self.decision else None

    def handle(self, event: Event) -> list[Command]:
        if self.phase is Phase.CLOSED:
            return []
        match event:
            case ClientData(data):
                if self.phase is Phase.HELD:
                    return []  # a fenced client's retries: read and discarded
                return self._on_data(data)
            case ClientEof():
                if self.phase is Phase.FORWARDING:
                    return []  # half-close is the pipe's business
                if self.phase is Phase.HELD:
                    return self._close(Outcome.FENCED, f"{self.detail}; the client left during the hold")
                return self._close(Outcome.CLIENT_CLOSED, f"client closed during {self.phase.value}")
            case FirstFrameTimedOut():
                if self.phase is not Phase.AWAITING_FIRST_FRAME:
                    return []
                have = len(self._buffer)
                return self._close(
                    Outcome.FIRST_FRAME_TIMEOUT,
                    f"no complete first request in time ({have} bytes received)",
                )
            case UpstreamConnected(address):
                return self._on_connected(address)
            case UpstreamFailed(address, reason, detail):
                return self._on_failed(address, reason, detail)
            case HoldOver(detail):
                if self.phase is not Phase.HELD:
                    raise RuntimeError(f"HoldOver in phase {self.phase}")
                return self._close(Outcome.FENCED, f"{self.detail}; {detail}")
            case PipeClosed(outcome, detail):
                if self.phase is not Phase.FORWARDING:
                    raise RuntimeError(f"PipeClosed in phase {self.phase}")
                return self._close(outcome, detail)
            case Terminated(outcome, detail):
                if self.phase is Phase.FORWARDING:
                    raise RuntimeError("a pipe ends with PipeClosed")
                return self._close(outcome, detail)
        raise TypeError(f"not a session event: {event!r}")

    # -- transitions

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        self.history.append(phase)

    def _close(self, outcome: Outcome, detail: str = "", cause: ProtocolErrorCause | None = None) -> list[Command]:
        self._enter(Phase.CLOSED)
        self.outcome, self.detail, self.cause = outcome, detail, cause
        self._buffer = bytearray()
        return [Close(outcome, detail, cause)]

    def _on_data(self, data: bytes) -> list[Command]:
        if self.phase is Phase.FORWARDING:
            raise RuntimeError("client bytes in FORWARDING belong to the pipe, not the session")
        self._buffer += data
        if self.phase is not Phase.AWAITING_FIRST_FRAME:
            return []  # pipelined behind the first frame; forwarded with it once connected
        if len(self._buffer) < self._wanted:
            return []
        try:
            parsed = parse_first_frame(self._buffer, max_size=self.max_first_frame_size)
        except ProtocolError as exc:
            prefix = [SendClient(HTTP_REFUSAL)] if exc.cause is ProtocolErrorCause.HTTP else []
            return prefix + self._close(Outcome.MALFORMED, exc.message, exc.cause)
        if isinstance(parsed, NeedMoreData):
            self._wanted = len(self._buffer) + parsed.at_least
            return []
        self.frame = parsed
        return self._route()

    def _route(self) -> list[Command]:
        assert self.frame is not None
        frame = self.frame
        decision = self.decision = self.table.decide(frame.client_id if frame.client_id_utf8 else None)
        if decision.action == "fence":
            assert decision.rule is not None and decision.index is not None  # a rule decided it
            self.detail = (
                f"fenced by rule #{decision.index + 1} `{decision.rule.match}` ({decision.rule.entry}, "
                f"migration {decision.rule.migration})"
            )
            self._buffer = bytearray()
            self._enter(Phase.HELD)
            if frame.api_key == API_VERSIONS_KEY:
                return [SendClient(api_versions_answer(frame.api_version, frame.correlation_id)), Hold()]
            return [Hold()]
        self._enter(Phase.ROUTED)
        assert decision.cluster is not None
        self._candidates = self.table.clusters[decision.cluster].bootstrap
        self._enter(Phase.CONNECTING)
        return self._dial_next()

    def _dial_next(self) -> list[Command]:
        assert self.decision is not None and self.decision.cluster is not None
        cluster = self.decision.cluster
        endpoint = self.table.clusters[cluster]
        while self._next < len(self._candidates):
            text = self._candidates[self._next]
            self._next += 1
            try:
                address = parse_address(text)
            except ValueError as exc:
                self.failures.append((Address(text, 0), "bad_address"))
                self.detail = str(exc)
                continue
            return [Dial(cluster, address, endpoint.tls, self._next, len(self._candidates))]
        tried = ", ".join(f"{a} ({r})" for a, r in self.failures)
        return self._close(
            Outcome.UPSTREAM_UNAVAILABLE,
            f"no bootstrap server of cluster {cluster} accepted a connection: {tried}",
        )

    def _on_failed(self, address: Address, reason: str, detail: str) -> list[Command]:
        if self.phase is not Phase.CONNECTING:
            raise RuntimeError(f"UpstreamFailed in phase {self.phase}")
        self.failures.append((address, reason))
        return self._dial_next()

    def _on_connected(self, address: Address) -> list[Command]:
        if self.phase is not Phase.CONNECTING:
            raise RuntimeError(f"UpstreamConnected in phase {self.phase}")
        self.upstream = address
        self._enter(Phase.FORWARDING)
        data = bytes(self._buffer)
        self._buffer = bytearray()
        return [SendUpstream(data), StartPipe()]
