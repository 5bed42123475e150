"""The admin HTTP side: endpoints as pure functions (a request path and a view of the proxy
in, a response out), and below them the socket side, a deliberately tiny HTTP/1.1 server
(one request line per connection, then close).

* ``/healthz`` - 200 while the process's event loop answers at all (liveness).
* ``/readyz``  - 200 while listening with a route table and not draining; 503 otherwise. A
  route file that could not be reloaded does *not* make the proxy unready: it still routes with
  the last good table, and pulling every replica out of a Service because someone pushed a
  broken ConfigMap would turn a bad edit into an outage. The body says so (``stale``).
* ``/metrics`` - Prometheus text format: the proxy's ``ferry_proxy_*`` families and the
  standard ``process_*`` and ``python_*`` collectors (``proxy.metrics``).
* ``/routes``  - the table in use as JSON: version, source file, loaded at, rules, clusters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Final, Protocol

from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .routes import LoadedRoutes

__all__ = ["AdminView", "Response", "respond", "start_admin"]

JSON = "application/json"

#: The admin server reads at most this much of a request head; its requests are one line.
ADMIN_MAX_HEAD: Final = 8192
#: Seconds a client has to send its request head (a silent client must not hold a task).
ADMIN_READ_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    content_type: str
    body: bytes

    @property
    def reason(self) -> str:
        return {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}.get(
            self.status, "Error"
        )


class AdminView(Protocol):
    """What the endpoints read from the running proxy."""

    @property
    def routes(self) -> LoadedRoutes: ...

    @property
    def listening(self) -> bool: ...

    @property
    def draining(self) -> bool: ...

    @property
    def reload_error(self) -> str | None: ...

    def active_connections(self) -> int: ...

    def metrics_exposition(self) -> bytes: ...


def _json(status: int, data: object) -> Response:
    return Response(status, JSON, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def readiness(view: AdminView) -> tuple[bool, dict[str, object]]:
    routes = view.routes
    ready = view.listening and not view.draining
    detail: dict[str, object] = {
        "ready": ready,
        "listening": view.listening,
        "draining": view.draining,
        "gateway": routes.table.gateway,
        "version": routes.table.version,
        "loaded_at": routes.loaded_at,
        "active_connections": view.active_connections(),
        "stale": view.reload_error is not None,
    }
    if view.reload_error is not None:
        detail["reload_error"] = view.reload_error
    return ready, detail


def respond(method: str, path: str, view: AdminView) -> Response:
    route = path.split("?", 1)[0]
    if route not in ("/healthz", "/readyz", "/metrics", "/routes"):
        return Response(404, "text/plain", b"not found; try /healthz /readyz /metrics /routes\n")
    if method not in ("GET", "HEAD"):
        return Response(405, "text/plain", b"only GET\n")
    if route == "/healthz":
        return Response(200, "text/plain", b"ok\n")
    if route == "/readyz":
        ready, detail = readiness(view)
        return _json(200 if ready else 503, detail)
    if route == "/metrics":
        return Response(200, METRICS_CONTENT_TYPE, view.metrics_exposition())
    return _json(200, view.routes.describe())


# ------------------------------------------------------------------------------------------------
# The socket side.


async def start_admin(view: AdminView, host: str, port: int) -> asyncio.Server:
    """Serve the endpoints on ``host:port`` (port 0: the OS picks) until the server is closed."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_one(view, reader, writer)

    return await asyncio.start_server(client, host, port, limit=ADMIN_MAX_HEAD)


async def _serve_one(view: AdminView, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
    resp = respond(method, path, view)
    body = b"" if method == "HEAD" else resp.body
    writer.write(
        f"HTTP/1.1 {resp.status} {resp.reason}\r\nContent-Type: {resp.content_type}\r\n"
        f"Content-Length: {len(resp.body)}\r\nConnection: close\r\n\r\n".encode() + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()
