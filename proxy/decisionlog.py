"""The decision log: one JSON line per client connection, written when it ends.

Unlike metrics, this is where the raw client id goes (it is what an operator greps for). It
is bounded anyway: a client id may be 32 KiB, so it is cut to :data:`MAX_LOGGED_CLIENT_ID`
characters (``client_id_truncated`` says so), and JSON escaping keeps control characters
from forging lines.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any, Final

from .session import Session

__all__ = ["MAX_LOGGED_CLIENT_ID", "DecisionSink", "JsonLineSink", "record"]

MAX_LOGGED_CLIENT_ID: Final = 256

DecisionSink = Callable[[dict[str, Any]], None]


def record(
    session: Session,
    *,
    gateway: str,
    peer: str,
    duration: float,
    bytes_up: int,
    bytes_down: int,
    now: float | None = None,
) -> dict[str, Any]:
    """The log record of a finished connection."""
    frame, decision = session.frame, session.decision
    client_id = frame.client_id if frame else None
    truncated = client_id is not None and len(client_id) > MAX_LOGGED_CLIENT_ID
    out: dict[str, Any] = {
        "ts": round(time.time() if now is None else now, 3),
        "event": "connection",
        "gateway": gateway,
        "peer": peer,
        "client_id": client_id[:MAX_LOGGED_CLIENT_ID] if client_id is not None and truncated else client_id,
        "api": f"{frame.api_name} v{frame.api_version}" if frame else None,
        "rule": decision.rule.match if decision and decision.rule else None,
        "rule_index": decision.index + 1 if decision and decision.index is not None else None,
        "migration": decision.rule.migration if decision and decision.rule else None,
        "action": decision.action if decision else None,
        "cluster": decision.cluster if decision else None,
        "upstream": str(session.upstream) if session.upstream else None,
        "table_version": session.table.version,
        "outcome": session.outcome.value if session.outcome else None,
        "duration_ms": round(duration * 1000, 3),
        "bytes_up": bytes_up,
        "bytes_down": bytes_down,
    }
    if truncated:
        out["client_id_truncated"] = True
    if session.cause is not None:
        out["cause"] = session.cause.value
    if session.failures:
        out["dial_failures"] = [f"{a} ({r})" for a, r in session.failures]
    if session.detail and session.outcome is not None and session.outcome.value != "forwarded":
        out["detail"] = session.detail
    return out


class JsonLineSink:
    """Writes records as compact JSON lines to a text stream (stdout or a file).

    Lines are buffered and written by :meth:`flush`, which the server calls a few times a
    second and at shutdown: one write per connection would be one system call per bootstrap
    on the proxy's hottest path. At most ``max_pending`` lines wait (a burst flushes early)."""

    def __init__(self, stream: IO[str] | None = None, max_pending: int = 256) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.max_pending = max_pending
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, rec: dict[str, Any]) -> None:
        self._pending.append(json.dumps(rec, ensure_ascii=True, separators=(",", ":")))
        if len(self._pending) >= self.max_pending:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            lines, self._pending = self._pending, []
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
