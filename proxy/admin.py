"""Admin HTTP endpoints as pure functions: a request path and a view of the proxy in, a
response out. The socket side (a deliberately tiny HTTP/1.1 reader) lives in proxy.server.

* ``/healthz`` - 200 while the process's event loop answers at all (liveness).
* ``/readyz``  - 200 while listening with a route table and not draining; 503 otherwise. A
  route file that could not be reloaded does *not* make the proxy unready: it still routes with
  the last good table, and pulling every replica out of a Service because someone pushed a
  broken ConfigMap would turn a bad edit into an outage. The body says so (``stale``).
* ``/metrics`` - Prometheus text format.
* ``/routes``  - the table in use as JSON: version, source file, loaded at, rules, clusters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .routes import LoadedRoutes

__all__ = ["AdminView", "Response", "respond"]

JSON = "application/json"


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

    def metrics_text(self) -> str: ...


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
        return Response(200, METRICS_CONTENT_TYPE, view.metrics_text().encode())
    return _json(200, view.routes.describe())
