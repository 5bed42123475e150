"""Running a real proxy from a test: route files and an in-process server on its own thread.

The proxy runs exactly as in production (ProxyServer on uvloop or asyncio, real sockets);
only the process boundary is missing, which the SIGTERM tests add back with a subprocess.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from proxy.config import Limits, ProxyConfig
from proxy.metrics import ProxyMetrics
from proxy.routetable import Action, Endpoint, RouteRule, RouteTable, build_table, route_file_text
from proxy.runtime import loop_factory
from proxy.server import ProxyServer
from proxy.session import Address

Rule = tuple[str, Action, str | None]  # (match, action, cluster)
#: ProxyConfig.event_loop's choices
EventLoop = Literal["auto", "asyncio", "uvloop"]


def make_table(
    clusters: Mapping[str, Iterable[str]],
    rules: Iterable[Rule] = (),
    *,
    default: str,
    gateway: str = "gw-test",
    listen: str = "127.0.0.1:0",
    tls: Iterable[str] = (),
) -> RouteTable:
    tls = set(tls)
    endpoints = {name: Endpoint(bootstrap=tuple(boot), tls=name in tls) for name, boot in clusters.items()}
    route_rules = [
        RouteRule(match=m, action=a, cluster=c, migration="test/proxy", entry=f"rule {m}", source="tests:1")
        for m, a, c in rules
    ]
    return build_table(gateway, listen, default, endpoints, route_rules)


def routes_text(table: RouteTable, comment: str = "") -> str:
    return route_file_text(table, comment)


def write_routes(path: Path, table: RouteTable, *, mode: str = "rename", comment: str = "") -> None:
    """Replace the route file the way a deployer would: ``rename`` (write aside, rename over),
    ``inplace`` (truncate and rewrite the same inode), or ``symlink`` (a Kubernetes ConfigMap:
    ``path`` -> ``..data/<name>``, and ``..data`` -> a timestamped directory, swapped
    atomically)."""
    text = routes_text(table, comment)
    if mode == "inplace":
        with open(path, "r+" if path.exists() else "w", encoding="utf-8") as f:
            f.truncate(0)
            f.write(text)
        return
    if mode == "rename":
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        return
    if mode == "symlink":
        root = path.parent
        stamp = f"..{time.monotonic_ns()}"
        (root / stamp).mkdir()
        (root / stamp / path.name).write_text(text)
        link_tmp = root / "..data_tmp"
        if link_tmp.is_symlink():
            link_tmp.unlink()
        old = os.readlink(root / "..data") if (root / "..data").is_symlink() else None
        os.symlink(stamp, link_tmp)
        os.replace(link_tmp, root / "..data")
        if not path.is_symlink():
            if path.exists():
                path.unlink()
            os.symlink(f"..data/{path.name}", path)
        if old is not None:
            for leftover in (root / old).iterdir():
                leftover.unlink()
            (root / old).rmdir()
        return
    raise ValueError(mode)


@dataclass
class RunningProxy:
    """``with RunningProxy(routes_file) as p:`` - a proxy on 127.0.0.1:<free port>."""

    routes: Path
    loop: EventLoop = "uvloop"
    limits: Limits = field(default_factory=Limits)
    config_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metrics = ProxyMetrics()
        #: Every decision-log record, in order (``start``, ``open``, ``connection``, ``fenced``).
        self.log: list[dict[str, Any]] = []
        self.config = replace(
            ProxyConfig(
                routes=self.routes, listen=Address("127.0.0.1", 0), admin=Address("127.0.0.1", 0),
                limits=self.limits, reload_interval=0.05, reload_debounce=0.05, decision_log="off",
                event_loop=self.loop,
            ),
            **self.config_overrides,
        )
        self.server: ProxyServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle

    def start(self) -> RunningProxy:
        self._thread = threading.Thread(target=self._main, name="ferry-proxy", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("proxy did not start in 10 s")
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        factory, _ = loop_factory(self.loop)
        try:
            with asyncio.Runner(loop_factory=factory) as runner:
                runner.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test thread
            self._error = exc
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.server = ProxyServer(self.config, metrics=self.metrics, decision_sink=self.log.append)
        await self.server.start()
        self._started.set()
        await self.server.wait_closed()

    def stop(self, drain: float = 0.2) -> None:
        if self.server is None or self._loop is None or self._thread is None:
            return
        if self._thread.is_alive():
            fut = asyncio.run_coroutine_threadsafe(self.server.shutdown(drain), self._loop)
            with _SuppressClosedLoop():
                fut.result(timeout=drain + 10)
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None and self.server.address is not None
        return (self.server.address.host, self.server.address.port)

    @property
    def bootstrap(self) -> str:
        host, port = self.address
        return f"{host}:{port}"

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the proxy's loop thread and return its result."""
        assert self._loop is not None
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001
                fut.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return fut.result(timeout=10)

    def admin(self, path: str, method: str = "GET") -> tuple[int, str, str]:
        assert self.server is not None and self.server.admin_address is not None
        conn = http.client.HTTPConnection(self.server.admin_address.host, self.server.admin_address.port, timeout=5)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type") or "", resp.read().decode()
        finally:
            conn.close()

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records that say how a connection ended: ``connection`` and ``fenced`` lines."""
        return [r for r in self.log if r["event"] in ("connection", "fenced")]

    def outcomes(self) -> list[str]:
        return [r["outcome"] for r in self.records]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.01)


class _SuppressClosedLoop:
    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return exc_type is not None and issubclass(exc_type, (RuntimeError, concurrent.futures.CancelledError))
