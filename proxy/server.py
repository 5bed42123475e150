"""The IO shell: the one place that owns sockets, awaits, and keeps time (STYLE.md 7).

Everything that decides lives elsewhere and is pure: the first frame (``proxy.codec``), a
connection's life (``proxy.session``), when and whether to reload routes (``proxy.routes``),
what the admin endpoints say (``proxy.admin``). This module turns socket callbacks into
session events, carries out the session's commands, and runs four things:

* the Kafka listener (asyncio protocols, not streams: a bootstrap costs two small reads and
  writes per side, and protocol callbacks keep the per-connection cost to a few objects),
* the route file watcher (poll, debounce, parse in a worker thread, swap one reference),
* an idle sweeper (one timer for all pipes instead of one per pipe, re-armed on every chunk),
* the admin HTTP server.

Splicing. Once the session says StartPipe, bytes are copied in the transports' callbacks:
``data_received`` on one side is ``write`` on the other. Backpressure: when a side's write
buffer passes ``write_buffer_high`` its protocol gets ``pause_writing`` and we pause *reading*
the other side until ``resume_writing``; so a slow reader slows its writer instead of growing
our memory. Half-close: an EOF from one side becomes ``write_eof`` on the other (TCP FIN) while
the reverse direction keeps flowing; the pipe ends when both directions have ended or either
side is lost. TLS transports cannot half-close, so there an EOF closes the pipe (after the
buffered bytes are written).

Shutdown, in this order: stop accepting (close the listener; /readyz turns 503), drain (wait up
to ``drain_timeout`` for open connections to end by themselves), close whatever is left, then
stop the watcher and the admin server.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import resource
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable
from typing import Any

from compiler.routing import RouteFileError

from .admin import respond
from .config import ProxyConfig
from .decisionlog import DecisionSink, JsonLineSink, record
from .metrics import ProxyMetrics
from .routes import FilePoller, LoadedRoutes, ReloadOutcome, evaluate, load_routes
from .session import (
    Address,
    ClientData,
    ClientEof,
    Close,
    Command,
    Dial,
    FirstFrameTimedOut,
    Outcome,
    PipeClosed,
    SendClient,
    SendUpstream,
    Session,
    StartPipe,
    Terminated,
    UpstreamConnected,
    UpstreamFailed,
    parse_address,
)

__all__ = ["ProxyServer", "configure_logging", "loop_factory", "raise_fd_limit", "run"]

log = logging.getLogger("ferry.proxy")

#: The admin server reads at most this much of a request head; its requests are one line.
ADMIN_MAX_HEAD = 8192
ADMIN_READ_TIMEOUT = 5.0
#: Seconds between decision-log flushes (lines are buffered; see JsonLineSink).
DECISION_LOG_FLUSH_INTERVAL = 0.2
#: Seconds between repeats of the same dial-failure warning.
DIAL_WARNING_INTERVAL = 10.0


def _peer(transport: asyncio.BaseTransport) -> str:
    info = transport.get_extra_info("peername")
    if isinstance(info, tuple) and len(info) >= 2:
        return str(Address(str(info[0]), int(info[1])))
    return str(info)


def _dial_failure(exc: BaseException) -> tuple[str, str]:
    """A bounded reason label and a human detail for a failed dial."""
    if isinstance(exc, TimeoutError):
        return "timeout", "timed out"
    if isinstance(exc, ssl.SSLError):
        return "tls", f"TLS: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return "resolve", f"cannot resolve: {exc.strerror}"
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused"
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "unreachable", exc.strerror or str(exc)
        return "error", exc.strerror or str(exc)
    return "error", repr(exc)


class _RateLimitedLog:
    """One warning per key per interval, with a count of what was held back: a dead bootstrap
    server fails every connection's first dial, and the log must not repeat that thousands of
    times a second (the metric counts each one)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[object, tuple[float, int]] = {}

    def warn(self, key: object, message: str) -> None:
        now = time.monotonic()
        last, held = self._last.get(key, (-self.interval, 0))
        if now - last < self.interval:
            self._last[key] = (last, held + 1)
            return
        suffix = f" ({held} more like this in the last {now - last:.0f} s)" if held else ""
        log.warning("%s%s", message, suffix)
        if len(self._last) > 1024:  # keys come from the route file, but stay bounded anyway
            self._last.clear()
        self._last[key] = (now, 0)


class _ConnectDeadline:
    """Cancels a dial task when the connect timeout passes: a plain timer, cheaper than
    ``asyncio.timeout`` on the hot path. ``expired`` tells its cancel from the session's."""

    __slots__ = ("expired", "handle")

    def __init__(self) -> None:
        self.expired = False
        self.handle: asyncio.TimerHandle | None = None

    def arm(self, loop: asyncio.AbstractEventLoop, seconds: float, task: asyncio.Task[None]) -> None:
        self.handle = loop.call_later(seconds, self._fire, task)

    def _fire(self, task: asyncio.Task[None]) -> None:
        if not task.done():
            self.expired = True
            task.cancel()

    def disarm(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


class _Refuse(asyncio.Protocol):
    """Accepted over the connection limit (or while draining): closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class _ClientSide(asyncio.Protocol):
    __slots__ = ("conn", "server")

    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self.conn: _Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.conn = self.server._accepted(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.conn.client_data(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        return self.conn.client_eof()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.client_lost(exc)  # type: ignore[union-attr]

    def pause_writing(self) -> None:
        self.conn.client_full()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self.conn.client_drained()  # type: ignore[union-attr]


class _UpstreamSide(asyncio.Protocol):
    __slots__ = ("conn",)

    def __init__(self, conn: _Connection) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        self.conn.upstream_data(data)

    def eof_received(self) -> bool:
        return self.conn.upstream_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.upstream_lost(exc)

    def pause_writing(self) -> None:
        self.conn.upstream_full()

    def resume_writing(self) -> None:
        self.conn.upstream_drained()


class _Connection:
    """The shell's half of one client connection: its transports, counters and timers. The
    session decides; this object only executes."""

    __slots__ = (
        "server", "session", "client", "upstream", "peer", "started", "last_active",
        "bytes_up", "bytes_down", "piping", "client_open", "upstream_open", "client_eof_seen",
        "upstream_eof_seen", "upstream_writes_paused", "client_writes_paused", "cut", "client_tls",
        "timer", "dial_task", "finished", "up_counter", "down_counter", "early",
    )

    def __init__(self, server: ProxyServer, transport: asyncio.Transport, session: Session) -> None:
        self.server = server
        self.session = session
        self.client = transport
        self.upstream: asyncio.Transport | None = None
        self.peer = _peer(transport)
        self.started = time.monotonic()
        self.client_tls = transport.get_extra_info("sslcontext") is not None
        self.last_active = server.loop.time()
        self.bytes_up = self.bytes_down = 0
        self.piping = False
        self.client_open = True
        self.upstream_open = False
        self.client_eof_seen = self.upstream_eof_seen = False
        self.upstream_writes_paused = self.client_writes_paused = False
        self.cut: tuple[Outcome, str] | None = None
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
                    self.server._decided(self.session)
                    self.client.pause_reading()  # pipelined bytes wait in the kernel
                self.dial_task = self.server._start_dial(self, command)
            elif isinstance(command, SendUpstream):
                assert self.upstream is not None
                if command.data:
                    self.bytes_up += len(command.data)
                    self.upstream.write(command.data)
            elif isinstance(command, StartPipe):
                self._start_pipe()
            elif isinstance(command, SendClient):
                self.client.write(command.data)
            elif isinstance(command, Close):
                self._closed_by_session(command)

    def _start_pipe(self) -> None:
        assert self.upstream is not None
        cluster = self.session.cluster or ""
        self.up_counter = self.server.metrics.bytes.labels("upstream", cluster)
        self.down_counter = self.server.metrics.bytes.labels("downstream", cluster)
        self.up_counter.inc(self.bytes_up)
        self.piping = True
        self.last_active = self.server.loop.time()
        for data in self.early:
            self.upstream_data(data)
        self.early = []
        if not self.upstream_writes_paused:
            self.client.resume_reading()

    def _closed_by_session(self, command: Close) -> None:
        self._stop_timer()
        if self.dial_task is not None and not self.dial_task.done():
            self.dial_task.cancel()
        m = self.server.metrics
        if command.outcome is Outcome.FENCED:
            self.server._decided(self.session)
            m.refused.labels("fenced").inc()
        elif command.outcome is Outcome.MALFORMED and command.cause is not None:
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

    # -- client side

    def client_data(self, data: bytes) -> None:
        if self.piping:
            self.bytes_up += len(data)
            self.up_counter.inc(len(data))
            self.last_active = self.server.loop.time()
            self.upstream.write(data)  # type: ignore[union-attr]
        else:
            self._run(self.session.handle(ClientData(data)))

    def client_eof(self) -> bool:
        if not self.piping:
            self._run(self.session.handle(ClientEof()))
            return True  # the session's Close closes the transport
        self.client_eof_seen = True
        up = self.upstream
        assert up is not None
        if self.upstream_eof_seen or self.client_tls or not up.can_write_eof():
            self._close_both()
        else:
            up.write_eof()
        return not self.client_tls  # asyncio's TLS transports cannot stay half-open

    def client_lost(self, exc: Exception | None) -> None:
        self.client_open = False
        self._stop_timer()
        if not self.piping:
            if self.session.outcome is None:
                self._run(self.session.handle(ClientEof()))
            if self.upstream is not None and self.upstream_open:
                self.upstream.abort()
            self._finish()
            return
        if exc is not None and self.cut is None:
            self.cut = (Outcome.ERROR, f"client side: {exc}")
        if self.upstream_open:
            assert self.upstream is not None
            if exc is None:
                self.upstream.close()
            else:
                self.upstream.abort()
        else:
            self._finish()

    def client_full(self) -> None:
        self.client_writes_paused = True
        if self.upstream is not None and self.piping:
            self.upstream.pause_reading()

    def client_drained(self) -> None:
        self.client_writes_paused = False
        if self.upstream is not None and self.piping and self.upstream_open:
            self.upstream.resume_reading()

    # -- upstream side

    def upstream_connected(self, transport: asyncio.Transport, address: Address) -> None:
        self.upstream = transport
        self.upstream_open = True
        transport.set_write_buffer_limits(high=self.server.config.limits.write_buffer_high)
        self._run(self.session.handle(UpstreamConnected(address)))

    def upstream_data(self, data: bytes) -> None:
        if not self.piping:  # Kafka brokers never speak first; keep it for the pipe anyway
            self.early.append(data)
            return
        self.bytes_down += len(data)
        self.down_counter.inc(len(data))
        self.last_active = self.server.loop.time()
        self.client.write(data)

    def upstream_eof(self) -> bool:
        self.upstream_eof_seen = True
        assert self.upstream is not None
        upstream_tls = self.upstream.get_extra_info("sslcontext") is not None
        if self.client_eof_seen or upstream_tls or self.client_tls or not self.client.can_write_eof():
            self._close_both()
        else:
            self.client.write_eof()
        return not upstream_tls

    def upstream_lost(self, exc: Exception | None) -> None:
        self.upstream_open = False
        if not self.piping:
            return  # a dial that never became a pipe: the dial task or the session handles it
        if exc is not None and self.cut is None:
            self.cut = (Outcome.ERROR, f"cluster side: {exc}")
        if self.client_open:
            if exc is None:
                self.client.close()
            else:
                self.client.abort()
        else:
            self._finish()

    def upstream_full(self) -> None:
        self.upstream_writes_paused = True
        if self.piping:
            self.client.pause_reading()

    def upstream_drained(self) -> None:
        self.upstream_writes_paused = False
        if self.piping and self.client_open:
            self.client.resume_reading()

    # -- ending

    def _close_both(self) -> None:
        if self.upstream is not None and self.upstream_open:
            self.upstream.close()
        if self.client_open:
            self.client.close()

    def terminate(self, outcome: Outcome, detail: str) -> None:
        """Cut the connection short (idle timeout, end of drain)."""
        if self.finished:
            return
        if not self.piping:
            self._run(self.session.handle(Terminated(outcome, detail)))
            if self.client_open:
                self.client.abort()
            return
        if self.cut is None:
            self.cut = (outcome, detail)
        if self.upstream is not None and self.upstream_open:
            self.upstream.abort()
        if self.client_open:
            self.client.abort()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self.piping:
            outcome, detail = self.cut if self.cut is not None else (Outcome.FORWARDED, "")
            self.session.handle(PipeClosed(outcome, detail))
        self.server._finished(self)


class ProxyServer:
    """One gateway's proxy. ``await start()``, then ``await wait_closed()`` (or ``shutdown()``)."""

    def __init__(
        self,
        config: ProxyConfig,
        *,
        metrics: ProxyMetrics | None = None,
        decision_sink: DecisionSink | None = None,
        loaded: LoadedRoutes | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics if metrics is not None else ProxyMetrics()
        self.decision_sink = decision_sink
        self._routes = loaded if loaded is not None else load_routes(config.routes)
        self.reload_error: str | None = None
        self.connections: set[_Connection] = set()
        self.draining = False
        self.listening = False
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._server: asyncio.AbstractServer | None = None
        self._admin: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped: asyncio.Event | None = None
        self._empty: asyncio.Event | None = None
        self._upstream_tls: ssl.SSLContext | None = None
        self._sink_file: Any = None
        self._dial_warnings = _RateLimitedLog(DIAL_WARNING_INTERVAL)
        self._accepted_count = self.metrics.accepted.labels()
        self._active_count = self.metrics.active.labels()
        self.address: Address | None = None
        self.admin_address: Address | None = None
        self._publish_table(self._routes)

    # -- admin view

    @property
    def routes(self) -> LoadedRoutes:
        return self._routes

    def active_connections(self) -> int:
        return len(self.connections)

    def metrics_text(self) -> str:
        return self.metrics.registry.expose()

    # -- lifecycle

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        cfg, limits = self.config, self.config.limits
        if self.decision_sink is None:
            self.decision_sink = self._open_sink(cfg.decision_log)
        listen = cfg.listen
        if listen is None:
            try:
                listen = parse_address(self._routes.table.listen, allow_port_zero=True)
            except ValueError as exc:
                raise RouteFileError(f"{self._routes.path}: listen: {exc}; or pass --listen") from None
        listener_tls = None
        if cfg.tls_cert is not None:
            listener_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            listener_tls.load_cert_chain(str(cfg.tls_cert), str(cfg.tls_key))
        self._server = await self.loop.create_server(
            lambda: _ClientSide(self) if self._admits() else _Refuse(),
            listen.host,
            listen.port,
            ssl=listener_tls,
            ssl_handshake_timeout=limits.first_frame_timeout if listener_tls else None,
            backlog=1024,
            reuse_address=True,
        )
        sockname = self._server.sockets[0].getsockname()
        self.address = Address(listen.host, sockname[1])
        if cfg.admin is not None:
            self._admin = await asyncio.start_server(
                self._admin_client, cfg.admin.host, cfg.admin.port, limit=ADMIN_MAX_HEAD
            )
            self.admin_address = Address(cfg.admin.host, self._admin.sockets[0].getsockname()[1])
        self.listening = True
        self._tasks = [self.loop.create_task(self._watch_routes()), self.loop.create_task(self._flush_log())]
        if limits.idle_timeout > 0:
            self._tasks.append(self.loop.create_task(self._sweep_idle()))
        log.info(
            "gateway %s listening on %s%s (routes %s version %s, %d rules; admin %s; loop %s)",
            self._routes.table.gateway, self.address, " (TLS)" if listener_tls else "", self._routes.path,
            self._routes.table.version, len(self._routes.table.rules), self.admin_address or "off",
            type(self.loop).__module__.split(".")[0],
        )

    def _open_sink(self, where: str) -> DecisionSink:
        if where == "off":
            return lambda rec: None
        if where == "-":
            return JsonLineSink(sys.stdout)
        self._sink_file = open(where, "a", encoding="utf-8")  # noqa: SIM115 - closed at shutdown
        return JsonLineSink(self._sink_file)

    def _admits(self) -> bool:
        if self.draining or len(self.connections) >= self.config.limits.max_connections:
            self.metrics.refused.labels("shutting_down" if self.draining else "max_connections").inc()
            return False
        return True

    def request_shutdown(self) -> None:
        """Thread-unsafe trigger (signal handlers and tests on the loop's thread)."""
        if self._stopped is not None and not self.draining:
            self.loop.create_task(self.shutdown())

    async def shutdown(self, drain_timeout: float | None = None) -> None:
        if self.draining:
            await self.wait_closed()
            return
        self.draining = True
        self.metrics.draining.set(1)
        drain = self.config.limits.drain_timeout if drain_timeout is None else drain_timeout
        # 1. stop accepting
        if self._server is not None:
            self._server.close()
        self.listening = False
        log.info("shutting down: stopped accepting; draining %d connection(s) for up to %.1f s",
                 len(self.connections), drain)
        # 2. drain, bounded
        assert self._empty is not None
        try:
            async with asyncio.timeout(drain):
                await self._empty.wait()
        except TimeoutError:
            pass
        # 3. close the rest
        left = list(self.connections)
        if left:
            log.info("drain time over: closing %d connection(s)", len(left))
        for conn in left:
            conn.terminate(Outcome.SHUTDOWN, f"still open after the {drain:g} s drain")
        if left:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._empty.wait()
        # 4. stop the helpers
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._admin is not None:
            self._admin.close()
            await self._admin.wait_closed()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        self._flush_decisions()
        if self._sink_file is not None:
            self._sink_file.close()
        log.info("shut down")
        assert self._stopped is not None
        self._stopped.set()

    async def wait_closed(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()

    # -- connections

    def _accepted(self, transport: asyncio.Transport) -> _Connection:
        transport.set_write_buffer_limits(high=self.config.limits.write_buffer_high)
        session = Session(self._routes.table, self.config.limits.max_first_frame_bytes)
        conn = _Connection(self, transport, session)
        self.connections.add(conn)
        assert self._empty is not None
        self._empty.clear()
        self._accepted_count.inc()
        self._active_count.inc()
        return conn

    def _decided(self, session: Session) -> None:
        d = session.decision
        assert d is not None
        self.metrics.decisions.labels(d.rule_name, d.action, d.cluster or "").inc()

    def _finished(self, conn: _Connection) -> None:
        self.connections.discard(conn)
        self._active_count.dec()
        session = conn.session
        outcome = session.outcome or Outcome.CLIENT_CLOSED
        self.metrics.closed.labels(outcome.value).inc()
        if self.decision_sink is not None:
            rec = record(
                session,
                gateway=session.table.gateway,
                peer=conn.peer,
                duration=time.monotonic() - conn.started,
                bytes_up=conn.bytes_up,
                bytes_down=conn.bytes_down,
            )
            try:
                self.decision_sink(rec)
            except Exception:  # a full disk must not take the proxy down
                log.exception("could not write the decision log")
        if not self.connections and self._empty is not None:
            self._empty.set()

    def _start_dial(self, conn: _Connection, dial: Dial) -> asyncio.Task[None]:
        deadline = _ConnectDeadline()
        task = self.loop.create_task(self._dial(conn, dial, deadline))
        deadline.arm(self.loop, self.config.limits.connect_timeout, task)  # before the task first runs
        return task

    async def _dial(self, conn: _Connection, dial: Dial, deadline: _ConnectDeadline) -> None:
        started = time.monotonic()
        tls = self._upstream_context() if dial.tls else None
        try:
            transport, _ = await self.loop.create_connection(
                lambda: _UpstreamSide(conn),
                dial.address.host,
                dial.address.port,
                ssl=tls,
                server_hostname=dial.address.host if tls else None,
            )
        except (asyncio.CancelledError, Exception) as exc:  # noqa: BLE001 - each failure is classified
            if isinstance(exc, asyncio.CancelledError):
                if not deadline.expired:
                    return  # the session closed (the client left) while we dialled
                exc = TimeoutError()
            reason, detail = _dial_failure(exc)
            self.metrics.connect_failures.labels(dial.cluster, reason).inc()
            self._dial_warnings.warn(
                (dial.cluster, str(dial.address), reason),
                f"dial {dial.address} (cluster {dial.cluster}, bootstrap server {dial.attempt} of {dial.of}) "
                f"failed: {detail}",
            )
            if conn.session.outcome is None:
                conn._run(conn.session.handle(UpstreamFailed(dial.address, reason, detail)))
            return
        finally:
            deadline.disarm()
        self.metrics.connect_seconds.labels(dial.cluster).observe(time.monotonic() - started)
        if conn.session.outcome is not None or not conn.client_open:
            transport.abort()  # the client left while we dialled
            return
        conn.upstream_connected(transport, dial.address)  # type: ignore[arg-type]

    def _upstream_context(self) -> ssl.SSLContext:
        if self._upstream_tls is None:
            ca = self.config.upstream_ca
            self._upstream_tls = ssl.create_default_context(cafile=str(ca) if ca else None)
        return self._upstream_tls

    async def _flush_log(self) -> None:
        while True:
            await asyncio.sleep(DECISION_LOG_FLUSH_INTERVAL)
            self._flush_decisions()

    def _flush_decisions(self) -> None:
        flush = getattr(self.decision_sink, "flush", None)
        if flush is not None:
            try:
                flush()
            except Exception:  # a full disk must not take the proxy down
                log.exception("could not write the decision log")

    async def _sweep_idle(self) -> None:
        idle = self.config.limits.idle_timeout
        period = min(1.0, idle / 4)
        while True:
            await asyncio.sleep(period)
            cutoff = self.loop.time() - idle
            for conn in [c for c in self.connections if c.piping and c.last_active < cutoff]:
                try:
                    conn.terminate(Outcome.IDLE_TIMEOUT, f"no bytes either way for {idle:g} s")
                except Exception:  # one broken connection must not stop the sweeper
                    log.exception("closing an idle connection failed")

    # -- routes

    def _publish_table(self, loaded: LoadedRoutes) -> None:
        m = self.metrics
        m.table_info.set_only(loaded.table.gateway, loaded.table.version)
        m.table_loaded.set(loaded.loaded_at)
        m.table_rules.set(len(loaded.table.rules))

    async def _watch_routes(self) -> None:
        poller = FilePoller(self.config.routes, debounce=self.config.reload_debounce,
                            settled_digest=self._routes.digest)
        while True:
            await asyncio.sleep(self.config.reload_interval)
            try:
                await self._reload_once(poller)
            except Exception:  # a bug here must not end reloading for the life of the process
                log.exception("route reload failed unexpectedly; still serving version %s",
                              self._routes.table.version)

    async def _reload_once(self, poller: FilePoller) -> None:
        change = poller.poll(self.loop.time())
        if change is None:
            return
        current = self._routes
        result = await self.loop.run_in_executor(None, evaluate, change, current)  # parse aside
        self.metrics.reloads.labels(result.outcome.value).inc()
        if result.outcome not in (ReloadOutcome.APPLIED, ReloadOutcome.UNCHANGED):
            self.reload_error = result.message
            self.metrics.table_stale.set(1)
            log.error("route reload %s: %s", result.outcome.value, result.message)
            return
        assert result.loaded is not None
        self._routes = result.loaded  # the swap: one reference; open connections keep theirs
        self.reload_error = None
        self.metrics.table_stale.set(0)
        self._publish_table(result.loaded)
        if result.outcome is ReloadOutcome.APPLIED:
            log.info("routes reloaded: version %s -> %s (%d rules) from %s", current.table.version,
                     result.loaded.table.version, len(result.loaded.table.rules), result.loaded.path)
        if result.message:
            log.warning("%s", result.message)

    # -- admin HTTP

    async def _admin_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(ADMIN_READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        if len(head) > ADMIN_MAX_HEAD:
            writer.close()
            return
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("GET", "/")
        resp = respond(method, path, self)
        body = b"" if method == "HEAD" else resp.body
        writer.write(
            f"HTTP/1.1 {resp.status} {resp.reason}\r\nContent-Type: {resp.content_type}\r\n"
            f"Content-Length: {len(resp.body)}\r\nConnection: close\r\n\r\n".encode() + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


# ------------------------------------------------------------------------------------------------
# Process entry point.


def loop_factory(choice: str) -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """uvloop when asked for, or when available under "auto"; (None, "asyncio") otherwise."""
    if choice == "asyncio":
        return None, "asyncio"
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        if choice == "uvloop":
            raise RuntimeError("--event-loop uvloop: uvloop is not installed (pip install 'ferry[proxy]')") from None
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


def raise_fd_limit(wanted: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit towards ``wanted`` (never above the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft


async def _serve(config: ProxyConfig, ready: Callable[[ProxyServer], None] | None) -> int:
    server = ProxyServer(config)
    await server.start()
    # Everything imported and loaded so far (pydantic, ruamel, the table) lives as long as the
    # process: move it out of the cyclic GC's sight, so a full collection under load scans only
    # what connections allocate (about 7 ms otherwise, in the middle of someone's bootstrap).
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_shutdown)
    if ready is not None:
        ready(server)
    await server.wait_closed()
    return 0


def run(config: ProxyConfig, ready: Callable[[ProxyServer], None] | None = None) -> int:
    """Run a proxy until SIGTERM/SIGINT; returns the process exit code."""
    factory, _name = loop_factory(config.event_loop)
    wanted = 2 * config.limits.max_connections + 256
    have = raise_fd_limit(wanted)
    if have < wanted:
        log.warning("file descriptor limit is %d; %d connections need about %d (raise ulimit -n)",
                    have, config.limits.max_connections, wanted)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_serve(config, ready))


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("ferry")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False

