"""One client connection's IO: its two transports, counters and first-frame timer.

The shell half of a connection (STYLE.md 7). Two pure machines decide everything about it:
the :class:`~proxy.session.Session` from accept until the upstream is connected (first frame,
route, dial, failover), then the :class:`~proxy.pipe.Pipe` (backpressure, half-close, who
closes whom, how it ended). This module turns asyncio protocol callbacks into their events
and carries out the commands they return, in order; it decides nothing itself.

The pump. Once piping, a chunk read on one side is written to the other inside the read
callback, with no event object, no queue and no copy of our own: that is the hot path, and a
bootstrap costs two small reads and writes per side. Asyncio protocols, not streams, for the
same reason: a few objects per connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from . import pipe
from .config import ProxyConfig
from .dial import Dialer
from .metrics import ProxyMetrics
from .pipe import Pipe, Side
from .session import (
    Address,
    ClientData,
    ClientEof,
    Close,
    Command,
    Dial,
    FirstFrameTimedOut,
    Hold,
    HoldOver,
    Outcome,
    PipeClosed,
    SendClient,
    SendUpstream,
    Session,
    StartPipe,
    Terminated,
    UpstreamConnected,
    UpstreamFailed,
)

__all__ = ["ClientProtocol", "Connection", "Host", "UpstreamProtocol"]


class Host(Protocol):
    """What a connection needs of the server that owns it (``proxy.server.ProxyServer``): the
    loop, the limits, the metrics, the dialler, and its calls back. Declared here so the
    connection depends on this shape, not on the server module (which depends on this one)."""

    loop: asyncio.AbstractEventLoop
    config: ProxyConfig
    metrics: ProxyMetrics
    dialer: Dialer

    def accepted(self, transport: asyncio.Transport) -> Connection: ...

    def decided(self, session: Session) -> None: ...

    def fenced(self, conn: Connection) -> str | None:
        """Take a fenced connection into the hold: None, or why it is closed at once."""
        ...

    def piped(self, conn: Connection) -> None: ...

    def finished(self, conn: Connection) -> None: ...


# The pipe's events without a payload, made once (the machine never keeps or changes them).
_CLIENT_EOF, _UPSTREAM_EOF = pipe.Eof(Side.CLIENT), pipe.Eof(Side.UPSTREAM)
_CLIENT_LOST, _UPSTREAM_LOST = pipe.Lost(Side.CLIENT), pipe.Lost(Side.UPSTREAM)
_CLIENT_FULL, _UPSTREAM_FULL = pipe.Full(Side.CLIENT), pipe.Full(Side.UPSTREAM)
_CLIENT_DRAINED, _UPSTREAM_DRAINED = pipe.Drained(Side.CLIENT), pipe.Drained(Side.UPSTREAM)


def _peer(transport: asyncio.BaseTransport) -> str:
    info = transport.get_extra_info("peername")
    if isinstance(info, tuple) and len(info) >= 2:
        return str(Address(str(info[0]), int(info[1])))
    return str(info)


def _reset(exc: Exception) -> bool:
    """The peer reset the connection (a killed process, an aborted socket), as opposed to
    a failure of our own (TLS)."""
    return isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError))


def _half_closes(transport: asyncio.BaseTransport) -> bool:
    """Plain TCP can stay open for writing after its EOF and be sent a FIN; TLS cannot."""
    return transport.get_extra_info("sslcontext") is None and transport.can_write_eof()  # type: ignore[attr-defined]


class ClientProtocol(asyncio.Protocol):
    """The listener's protocol: hands every callback to the connection it makes."""

    __slots__ = ("conn", "server")

    def __init__(self, server: Host) -> None:
        self.server = server
        self.conn: Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.conn = self.server.accepted(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.conn.client_data(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        return self.conn.client_eof()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.client_lost(exc)  # type: ignore[union-attr]

    def pause_writing(self) -> None:
        self.conn.client_full(True)  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self.conn.client_full(False)  # type: ignore[union-attr]


class UpstreamProtocol(asyncio.Protocol):
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        self.conn.upstream_data(data)

    def eof_received(self) -> bool:
        return self.conn.upstream_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.upstream_lost(exc)

    def pause_writing(self) -> None:
        self.conn.upstream_full(True)

    def resume_writing(self) -> None:
        self.conn.upstream_full(False)


class Connection:
    """The shell's half of one client connection. The session decides until the pipe starts,
    the pipe after that; this object only executes."""

    __slots__ = (
        "bytes_down",
        "bytes_up",
        "client",
        "client_buffer_full",
        "client_open",
        "client_tls",
        "conn_id",
        "dial_task",
        "down_counter",
        "early",
        "finished",
        "last_active",
        "peer",
        "pipe",
        "server",
        "session",
        "started",
        "timer",
        "up_counter",
        "upstream",
        "upstream_buffer_full",
        "upstream_open",
    )

    def __init__(self, server: Host, transport: asyncio.Transport, session: Session) -> None:
        self.server = server
        self.session = session
        #: Names the connection in the decision log (``open`` and ``connection`` lines).
        self.conn_id = ""
        #: None until the session says StartPipe.
        self.pipe: Pipe | None = None
        self.client = transport
        self.upstream: asyncio.Transport | None = None
        self.peer = _peer(transport)
        self.started = time.monotonic()
        self.client_tls = transport.get_extra_info("sslcontext") is not None
        self.last_active = server.loop.time()
        self.bytes_up = self.bytes_down = 0
        # Before the pipe: the transports' state, which the pipe takes over when it starts.
        self.client_open = True
        self.upstream_open = False
        self.client_buffer_full = self.upstream_buffer_full = False
        self.dial_task: asyncio.Task[None] | None = None
        self.finished = False
        self.up_counter: Any = None
        self.down_counter: Any = None
        self.early: list[bytes] = []
        self.timer: asyncio.TimerHandle | None = server.loop.call_later(
            server.config.limits.first_frame_timeout, self._first_frame_timeout
        )

    # -- executing the session's commands

    def _run(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, Dial):
                self._stop_timer()
                if command.attempt == 1:
                    self.server.decided(self.session)
                    self.client.pause_reading()  # pipelined bytes wait in the kernel
                self.dial_task = self.server.dialer.start(self, command)
            elif isinstance(command, SendUpstream):
                assert self.upstream is not None
                if command.data:
                    self.bytes_up += len(command.data)
                    self.upstream.write(command.data)
            elif isinstance(command, StartPipe):
                self._start_pipe()
            elif isinstance(command, SendClient):
                self.client.write(command.data)
            elif isinstance(command, Hold):
                self._hold()
            elif isinstance(command, Close):
                self._closed_by_session(command)

    def _start_pipe(self) -> None:
        upstream = self.upstream
        assert upstream is not None
        cluster = self.session.cluster or ""
        self.up_counter = self.server.metrics.bytes.labels("upstream", cluster)
        self.down_counter = self.server.metrics.bytes.labels("downstream", cluster)
        self.up_counter.inc(self.bytes_up)
        self.pipe = Pipe(
            client_half_close=_half_closes(self.client), upstream_half_close=_half_closes(upstream),
            client_full=self.client_buffer_full, upstream_full=self.upstream_buffer_full,
        )
        self.last_active = self.server.loop.time()
        self.server.piped(self)
        for data in self.early:
            self.upstream_data(data)
        self.early = []
        self._pipe(self.pipe.start())

    def _hold(self) -> None:
        self._stop_timer()
        self.server.decided(self.session)
        refused = self.server.fenced(self)
        if refused is not None:
            self._run(self.session.handle(HoldOver(refused)))
            return
        hold = self.server.config.limits.fence_hold
        self.timer = self.server.loop.call_later(hold, self.release, f"closed after the {hold:g} s hold")

    def release(self, detail: str) -> None:
        """End a fenced connection's hold (its time is up, a reload, shutdown)."""
        self._stop_timer()
        if self.session.outcome is None:
            self._run(self.session.handle(HoldOver(detail)))

    def _closed_by_session(self, command: Close) -> None:
        self._stop_timer()
        if self.dial_task is not None and not self.dial_task.done():
            self.dial_task.cancel()
        m = self.server.metrics
        if command.outcome is Outcome.MALFORMED and command.cause is not None:
            m.first_frame_errors.labels(command.cause.value).inc()
        elif command.outcome is Outcome.FIRST_FRAME_TIMEOUT:
            m.first_frame_errors.labels("timeout").inc()
        elif command.outcome is Outcome.CLIENT_CLOSED and self.session.frame is None:
            m.first_frame_errors.labels("eof").inc()
        if self.client_open:
            self.client.close()  # flushes a SendClient first
        else:
            self._finish()

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _first_frame_timeout(self) -> None:
        self.timer = None
        self._run(self.session.handle(FirstFrameTimedOut()))

    # -- executing the pipe's commands

    def _pipe(self, commands: list[pipe.Command]) -> None:
        for command in commands:
            if isinstance(command, pipe.Finished):
                self._finish(command)
                continue
            transport = self.client if command.side is Side.CLIENT else self.upstream
            assert transport is not None
            if isinstance(command, pipe.PauseReading):
                transport.pause_reading()
            elif isinstance(command, pipe.ResumeReading):
                transport.resume_reading()
            elif isinstance(command, pipe.WriteEof):
                transport.write_eof()
            elif isinstance(command, pipe.Close):
                transport.close()
            elif isinstance(command, pipe.Abort):
                transport.abort()

    # -- client side

    def client_data(self, data: bytes) -> None:
        if self.pipe is not None:  # the pump
            self.bytes_up += len(data)
            self.up_counter.inc(len(data))
            self.last_active = self.server.loop.time()
            self.upstream.write(data)  # type: ignore[union-attr]
        else:
            self._run(self.session.handle(ClientData(data)))

    def client_eof(self) -> bool:
        if self.pipe is None:
            self._run(self.session.handle(ClientEof()))
            return True  # the session's Close closes the transport
        self._pipe(self.pipe.handle(_CLIENT_EOF))
        return not self.client_tls  # asyncio's TLS transports cannot stay half-open

    def client_lost(self, exc: Exception | None) -> None:
        self.client_open = False
        self._stop_timer()
        if self.pipe is not None:
            self._pipe(self.pipe.handle(
                _CLIENT_LOST if exc is None else pipe.Lost(Side.CLIENT, str(exc) or type(exc).__name__, _reset(exc))
            ))
            return
        if self.session.outcome is None:
            self._run(self.session.handle(ClientEof()))
        if self.upstream is not None and self.upstream_open:
            self.upstream.abort()
        self._finish()

    def client_full(self, full: bool) -> None:
        if self.pipe is not None:
            self._pipe(self.pipe.handle(_CLIENT_FULL if full else _CLIENT_DRAINED))
        else:
            self.client_buffer_full = full

    # -- upstream side

    def upstream_protocol(self) -> UpstreamProtocol:
        return UpstreamProtocol(self)

    def upstream_connected(self, transport: asyncio.Transport, address: Address) -> None:
        if self.session.outcome is not None or not self.client_open:
            transport.abort()  # the client left while we dialled
            return
        self.upstream = transport
        self.upstream_open = True
        transport.set_write_buffer_limits(high=self.server.config.limits.write_buffer_high)
        self._run(self.session.handle(UpstreamConnected(address)))

    def upstream_failed(self, address: Address, reason: str, detail: str) -> None:
        if self.session.outcome is None:
            self._run(self.session.handle(UpstreamFailed(address, reason, detail)))

    def upstream_data(self, data: bytes) -> None:
        if self.pipe is None:  # Kafka brokers never speak first; keep it for the pipe anyway
            self.early.append(data)
            return
        self.bytes_down += len(data)
        self.down_counter.inc(len(data))
        self.last_active = self.server.loop.time()
        self.client.write(data)

    def upstream_eof(self) -> bool:
        if self.pipe is None:
            return False  # before the pipe nothing is owed to a side that speaks second
        self._pipe(self.pipe.handle(_UPSTREAM_EOF))
        assert self.upstream is not None
        return self.upstream.get_extra_info("sslcontext") is None

    def upstream_lost(self, exc: Exception | None) -> None:
        self.upstream_open = False
        if self.pipe is None:
            return  # a dial that never became a pipe: the dial task or the session handles it
        self._pipe(self.pipe.handle(_UPSTREAM_LOST if exc is None else pipe.Lost(Side.UPSTREAM, str(exc))))

    def upstream_full(self, full: bool) -> None:
        if self.pipe is not None:
            self._pipe(self.pipe.handle(_UPSTREAM_FULL if full else _UPSTREAM_DRAINED))
        else:
            self.upstream_buffer_full = full

    # -- ending

    @property
    def piping(self) -> bool:
        return self.pipe is not None

    def terminate(self, outcome: Outcome, detail: str) -> None:
        """Cut the connection short (idle timeout, end of drain)."""
        if self.finished:
            return
        if self.pipe is not None:
            self._pipe(self.pipe.handle(pipe.Cut(outcome, detail)))
            return
        self._run(self.session.handle(Terminated(outcome, detail)))
        if self.client_open:
            self.client.abort()

    def _finish(self, finished: pipe.Finished | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        if finished is not None:
            self.session.handle(PipeClosed(finished.outcome, finished.detail))
        self.server.finished(self)
