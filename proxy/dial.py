"""Dialling an upstream: one bootstrap server, within the connect deadline, failures named.

The session says which address to dial (``Dial``) and what to do when a dial fails (the next
bootstrap server, or give up); this module only makes the attempt and reports back to the
connection: ``upstream_connected(transport, address)`` or ``upstream_failed(address, reason,
detail)``, where ``reason`` is a bounded metric label and ``detail`` is for people.

The deadline is a plain timer that cancels the dial task, armed where the task is created
(cheaper on the hot path than ``asyncio.timeout``, which asks for the current task). A dead
bootstrap server fails every connection's first dial, so its warning is rate-limited per
(cluster, address, reason); the metric still counts each one.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import time
from pathlib import Path
from typing import Final, Protocol

from .metrics import ProxyMetrics
from .session import Address, Dial

__all__ = ["DialClient", "Dialer", "RateLimitedLog", "dial_failure"]

log = logging.getLogger("ferry.proxy")

#: Seconds between repeats of the same dial-failure warning.
DIAL_WARNING_INTERVAL: Final = 10.0


class DialClient(Protocol):
    """The connection a dial reports to."""

    def upstream_protocol(self) -> asyncio.Protocol: ...

    def upstream_connected(self, transport: asyncio.Transport, address: Address) -> None: ...

    def upstream_failed(self, address: Address, reason: str, detail: str) -> None: ...


def dial_failure(exc: BaseException) -> tuple[str, str]:
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


class RateLimitedLog:
    """One warning per key per interval, with a count of what was held back."""

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
    """Cancels a dial task when the connect timeout passes. ``expired`` tells its cancel from
    the session's (the client left while we dialled)."""

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


class Dialer:
    """Starts dial tasks on one loop, with one connect timeout and one upstream TLS context."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, metrics: ProxyMetrics, *, connect_timeout: float,
        upstream_ca: Path | None = None,
    ) -> None:
        self.loop = loop
        self.metrics = metrics
        self.connect_timeout = connect_timeout
        self.upstream_ca = upstream_ca
        self._tls: ssl.SSLContext | None = None
        self._warnings = RateLimitedLog(DIAL_WARNING_INTERVAL)

    def start(self, client: DialClient, dial: Dial) -> asyncio.Task[None]:
        deadline = _ConnectDeadline()
        task = self.loop.create_task(self._dial(client, dial, deadline))
        deadline.arm(self.loop, self.connect_timeout, task)  # before the task first runs
        return task

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            ca = self.upstream_ca
            self._tls = ssl.create_default_context(cafile=str(ca) if ca else None)
        return self._tls

    async def _dial(self, client: DialClient, dial: Dial, deadline: _ConnectDeadline) -> None:
        started = time.monotonic()
        tls = self._tls_context() if dial.tls else None
        try:
            transport, _ = await self.loop.create_connection(
                client.upstream_protocol,
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
            reason, detail = dial_failure(exc)
            self.metrics.connect_failures.labels(dial.cluster, reason).inc()
            self._warnings.warn(
                (dial.cluster, str(dial.address), reason),
                f"dial {dial.address} (cluster {dial.cluster}, bootstrap server {dial.attempt} of {dial.of}) "
                f"failed: {detail}",
            )
            client.upstream_failed(dial.address, reason, detail)
            return
        finally:
            deadline.disarm()
        self.metrics.connect_seconds.labels(dial.cluster).observe(time.monotonic() - started)
        client.upstream_connected(transport, dial.address)
