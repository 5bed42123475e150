"""The proxy server: its lifecycle and its registry of open connections (STYLE.md 7).

Everything that decides lives elsewhere and is pure: the first frame (``proxy.codec``), a
connection's life before and after its pipe (``proxy.session``, ``proxy.pipe``), when and
whether to reload routes (``proxy.routes``), what the admin endpoints say (``proxy.admin``).
One connection's IO is ``proxy.connection``; dialling an upstream is ``proxy.dial``; the
process around a server (event loop, limits, signals) is ``proxy.runtime``. This module
starts and stops the parts, admits connections and keeps the set of open ones, and runs:

* the Kafka listener (asyncio protocols; over the connection limit, or while draining, an
  accepted socket is closed at once),
* the route file watcher (poll, debounce, parse in a worker thread, swap one reference),
* an idle sweeper (one timer for all pipes instead of one per pipe),
* the decision-log flusher, and the admin HTTP server.

Shutdown, in this order: stop accepting (close the listener; /readyz turns 503), drain (wait up
to ``drain_timeout`` for open connections to end by themselves), close whatever is left, then
stop the watcher and the admin server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import ssl
import sys
import time
from typing import Any

from .admin import start_admin
from .config import ProxyConfig
from .connection import ClientProtocol, Connection
from .decisionlog import DecisionSink, FenceLog, JsonLineSink, open_record, record, start_record
from .dial import Dialer
from .metrics import ProxyMetrics
from .routes import FilePoller, LoadedRoutes, ReloadOutcome, evaluate, load_routes
from .routetable import RouteFileError
from .session import Address, Outcome, Session, parse_address

__all__ = ["ProxyServer"]

log = logging.getLogger("ferry.proxy")

#: Seconds between decision-log flushes (lines are buffered; see JsonLineSink).
DECISION_LOG_FLUSH_INTERVAL = 0.2


class _Refuse(asyncio.Protocol):
    """Accepted over the connection limit (or while draining): closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


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
        self.connections: set[Connection] = set()
        #: Fenced connections in their hold (a subset of ``connections``).
        self.held: set[Connection] = set()
        #: Names this process in the decision log; connection ids are ``<instance>-<n>``.
        self.instance = secrets.token_hex(4)
        self._serial = itertools.count(1)
        #: Piped connections whose ``open`` line is not written yet, with when they connected:
        #: written at the next flush if still open, never if they close first (most bootstraps).
        self._opened: dict[Connection, float] = {}
        self.fence_log = FenceLog(window=config.fence_log_window, hold=config.limits.fence_hold)
        self.draining = False
        self.listening = False
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.dialer: Dialer = None  # type: ignore[assignment]
        self._server: asyncio.AbstractServer | None = None
        self._admin: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._shutting_down: asyncio.Task[None] | None = None
        self._stopped: asyncio.Event | None = None
        self._empty: asyncio.Event | None = None
        self._sink_file: Any = None
        self._accepted_count = self.metrics.accepted
        # Read when scraped, not counted per connection: the registry is the truth already.
        self.metrics.active.set_function(lambda: len(self.connections))
        self.metrics.fence_held.set_function(lambda: len(self.held))
        self.address: Address | None = None
        self.admin_address: Address | None = None
        self._publish_table(self._routes)

    # -- admin view

    @property
    def routes(self) -> LoadedRoutes:
        return self._routes

    def active_connections(self) -> int:
        return len(self.connections)

    def metrics_exposition(self) -> bytes:
        return self.metrics.exposition()

    # -- lifecycle

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        cfg, limits = self.config, self.config.limits
        self.dialer = Dialer(self.loop, self.metrics, connect_timeout=limits.connect_timeout,
                             upstream_ca=cfg.upstream_ca)
        if self.decision_sink is None:
            self.decision_sink = self._open_sink(cfg.decision_log)
        self._log(start_record(gateway=self._routes.table.gateway, instance=self.instance,
                               table_version=self._routes.table.version))
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
            lambda: ClientProtocol(self) if self._admits() else _Refuse(),
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
            self._admin = await start_admin(self, cfg.admin.host, cfg.admin.port)
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
        if self._stopped is not None and not self.draining and self._shutting_down is None:
            self._shutting_down = self.loop.create_task(self.shutdown())  # held: the loop keeps tasks weakly

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
        # 2. drain, bounded (held fenced connections have nothing to drain: released at once)
        for conn in list(self.held):
            conn.release("released at shutdown")
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
        self._flush_decisions(final=True)
        if self._sink_file is not None:
            self._sink_file.close()
        log.info("shut down")
        assert self._stopped is not None
        self._stopped.set()

    async def wait_closed(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()

    # -- the registry of connections

    def accepted(self, transport: asyncio.Transport) -> Connection:
        transport.set_write_buffer_limits(high=self.config.limits.write_buffer_high)
        session = Session(self._routes.table, self.config.limits.max_first_frame_bytes)
        conn = Connection(self, transport, session)
        self.connections.add(conn)
        assert self._empty is not None
        self._empty.clear()
        self._accepted_count.inc()
        return conn

    def decided(self, session: Session) -> None:
        d = session.decision
        assert d is not None
        self.metrics.decisions.labels(d.rule_name, d.action, d.cluster or "").inc()

    def fenced(self, conn: Connection) -> str | None:
        self.metrics.refused.labels("fenced").inc()
        for line in self.fence_log.refused(conn.session, gateway=conn.session.table.gateway, peer=conn.peer,
                                           now=time.time()):
            self._log(line)
        limits = self.config.limits
        if limits.fence_hold <= 0:
            return "closed at once (fence hold off)"
        if self.draining:
            return "closed at once (shutting down)"
        if len(self.held) >= limits.max_fence_held:
            self.metrics.fence_hold_overflow.inc()
            return f"closed at once: {len(self.held)} fenced connections already held (max_fence_held)"
        self.held.add(conn)
        return None

    def piped(self, conn: Connection) -> None:
        conn.conn_id = f"{self.instance}-{next(self._serial)}"
        self._opened[conn] = time.time()

    def finished(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self.held.discard(conn)
        self._opened.pop(conn, None)  # closed before its open line was due: the closing line says it all
        session = conn.session
        outcome = session.outcome or Outcome.CLIENT_CLOSED
        self.metrics.closed.labels(outcome.value).inc()
        if outcome is not Outcome.FENCED:  # refusals are logged aggregated, when decided
            self._log(record(
                session,
                gateway=session.table.gateway,
                peer=conn.peer,
                duration=time.monotonic() - conn.started,
                bytes_up=conn.bytes_up,
                bytes_down=conn.bytes_down,
                conn=conn.conn_id or None,
            ))
        if not self.connections and self._empty is not None:
            self._empty.set()

    def _log(self, rec: dict[str, Any]) -> None:
        if self.decision_sink is None:
            return
        try:
            self.decision_sink(rec)
        except Exception:  # a full disk must not take the proxy down
            log.exception("could not write the decision log")

    async def _flush_log(self) -> None:
        while True:
            await asyncio.sleep(DECISION_LOG_FLUSH_INTERVAL)
            self._flush_decisions()

    def _flush_decisions(self, *, final: bool = False) -> None:
        opened, self._opened = self._opened, {}
        for conn, ts in opened.items():
            self._log(open_record(conn.session, gateway=conn.session.table.gateway, peer=conn.peer,
                                  conn=conn.conn_id, now=ts))
        for line in self.fence_log.flush(time.time(), force=final):
            self._log(line)
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

    def _release_unfenced(self, loaded: LoadedRoutes) -> None:
        """A held client that the new table no longer fences is let go now, so it reconnects
        into its new route at once instead of at the end of its hold."""
        table = loaded.table
        for conn in list(self.held):
            frame = conn.session.frame
            client_id = frame.client_id if frame is not None and frame.client_id_utf8 else None
            if table.decide(client_id).action != "fence":
                conn.release(f"released: route table {table.version} no longer fences it")

    def _publish_table(self, loaded: LoadedRoutes) -> None:
        table = loaded.table
        self.metrics.set_table(table.gateway, table.version, loaded.loaded_at, len(table.rules))

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
            self._release_unfenced(result.loaded)
        if result.message:
            log.warning("%s", result.message)
