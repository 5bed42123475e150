"""The decision log: JSON lines that say who connected where, while they are connected.

Four events, each a line (``event`` field):

* ``start`` - a proxy process began writing (its ``instance`` token): connections an earlier
  instance left ``open`` in the same log ended with it.
* ``open`` - a connection's route is decided and its upstream is connected: ``conn`` (unique per
  instance), client id, rule, cluster, upstream, route table version. Clients that keep their
  bootstrap connection for their whole life (the Java clients, kafkajs, sarama, franz-go) are
  visible from here on, not only when they leave.
* ``connection`` - a connection ended (the same ``conn``): outcome, duration, bytes. A
  connection that opens and closes between two flushes (a librdkafka bootstrap lasts ~20 ms)
  writes only this line, which says everything ``open`` would: the server builds ``open``
  lines at flush time, for connections still open then, so a short bootstrap costs nothing
  more than it did.
* ``fenced`` - a fence rule refused a client. Refusals are aggregated per (client id, rule):
  the first of a window is written at once (``count`` 1), the rest of the window become one
  line with their ``count`` when it ends (:class:`FenceLog`). A fenced fleet of 2,000
  instances reconnecting every 30 s writes at most 2,000 lines a window, not 67 a second.

Unlike metrics, this is where the raw client id goes (it is what an operator greps for). It
is bounded anyway: a client id may be 32 KiB, so it is cut to :data:`MAX_LOGGED_CLIENT_ID`
characters (``client_id_truncated`` says so), JSON escaping keeps control characters from
forging lines, and an id whose bytes are not UTF-8 appears escaped (``legacy\\\\xff``, with
``client_id_utf8: false``).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Final

from .session import Session

__all__ = [
    "MAX_FENCE_KEYS",
    "MAX_LOGGED_CLIENT_ID",
    "DecisionSink",
    "FenceLog",
    "JsonLineSink",
    "open_record",
    "record",
    "start_record",
]

MAX_LOGGED_CLIENT_ID: Final = 256

#: Distinct (client id, rule) pairs one fence window remembers. Past it the window ends early
#: (its counts are written and it starts again): the memory stays bounded whatever client ids
#: a fleet invents, at the price of more lines.
MAX_FENCE_KEYS: Final = 10_000

DecisionSink = Callable[[dict[str, Any]], None]


def _client(session: Session, out: dict[str, Any]) -> None:
    frame = session.frame
    client_id = frame.client_id if frame else None
    truncated = client_id is not None and len(client_id) > MAX_LOGGED_CLIENT_ID
    out["client_id"] = client_id[:MAX_LOGGED_CLIENT_ID] if client_id is not None and truncated else client_id
    if truncated:
        out["client_id_truncated"] = True
    if frame is not None and not frame.client_id_utf8:
        out["client_id_utf8"] = False


def _decision(session: Session, out: dict[str, Any]) -> None:
    decision = session.decision
    out["rule"] = decision.rule.match if decision and decision.rule else None
    out["rule_index"] = decision.index + 1 if decision and decision.index is not None else None
    out["migration"] = decision.rule.migration if decision and decision.rule else None
    out["action"] = decision.action if decision else None
    out["cluster"] = decision.cluster if decision else None


def start_record(*, gateway: str, instance: str, table_version: str, now: float | None = None) -> dict[str, Any]:
    return {"ts": round(time.time() if now is None else now, 3), "event": "start", "gateway": gateway,
            "instance": instance, "table_version": table_version}


def open_record(session: Session, *, gateway: str, peer: str, conn: str, now: float | None = None) -> dict[str, Any]:
    """The log record of a connection whose upstream is connected."""
    frame = session.frame
    out: dict[str, Any] = {"ts": round(time.time() if now is None else now, 3), "event": "open",
                           "gateway": gateway, "conn": conn, "peer": peer}
    _client(session, out)
    out["api"] = f"{frame.api_name} v{frame.api_version}" if frame else None
    _decision(session, out)
    out["upstream"] = str(session.upstream) if session.upstream else None
    out["table_version"] = session.table.version
    return out


def record(
    session: Session,
    *,
    gateway: str,
    peer: str,
    duration: float,
    bytes_up: int,
    bytes_down: int,
    conn: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The log record of a finished connection."""
    frame = session.frame
    out: dict[str, Any] = {
        "ts": round(time.time() if now is None else now, 3),
        "event": "connection",
        "gateway": gateway,
        "peer": peer,
    }
    if conn is not None:
        out["conn"] = conn
    _client(session, out)
    out["api"] = f"{frame.api_name} v{frame.api_version}" if frame else None
    _decision(session, out)
    out.update({
        "upstream": str(session.upstream) if session.upstream else None,
        "table_version": session.table.version,
        "outcome": session.outcome.value if session.outcome else None,
        "duration_ms": round(duration * 1000, 3),
        "bytes_up": bytes_up,
        "bytes_down": bytes_down,
    })
    if session.cause is not None:
        out["cause"] = session.cause.value
    if session.failures:
        out["dial_failures"] = [f"{a} ({r})" for a, r in session.failures]
    if session.detail and session.outcome is not None and session.outcome.value != "forwarded":
        out["detail"] = session.detail
    return out


@dataclass
class _Window:
    line: dict[str, Any]
    #: Refusals since the last line written for this key.
    pending: int = 0
    since: float = 0.0
    last: float = 0.0
    peer: str = ""


@dataclass
class FenceLog:
    """Aggregates fence refusals per (client id, rule) over windows of ``window`` seconds.

    Pure (the clock is an argument): :meth:`refused` returns the lines to write now - the
    first refusal of a key in a window - or none when it was only counted; :meth:`flush`
    returns, for every key refused again since its line, one line with that ``count``
    (``since`` = the first of them), and forgets keys quiet for a whole window."""

    window: float
    hold: float
    max_keys: int = MAX_FENCE_KEYS
    _keys: dict[tuple[str | None, int | None], _Window] = field(default_factory=dict)
    _started: float | None = None

    def refused(self, session: Session, *, gateway: str, peer: str, now: float) -> list[dict[str, Any]]:
        if self._started is None:
            self._started = now
        decision = session.decision
        assert decision is not None
        key = (session.frame.client_id if session.frame else None, decision.index)
        known = self._keys.get(key)
        if known is not None:
            if not known.pending:
                known.since = now
            known.pending += 1
            known.last, known.peer = now, peer
            return []
        line: dict[str, Any] = {"ts": round(now, 3), "event": "fenced", "gateway": gateway, "peer": peer}
        _client(session, line)
        _decision(session, line)
        line.update({"table_version": session.table.version, "outcome": "fenced", "count": 1, "since": round(now, 3),
                     "hold_s": self.hold, "window_s": self.window, "detail": session.detail})
        lines = []
        if len(self._keys) >= self.max_keys:  # bounded memory: end this window early
            lines = self.flush(now, force=True)
            self._keys.clear()
            self._started = now
        self._keys[key] = _Window(line)
        return [*lines, line]

    def due(self, now: float) -> bool:
        return self._started is not None and now - self._started >= self.window

    def flush(self, now: float, *, force: bool = False) -> list[dict[str, Any]]:
        """Lines for the window that ended (all pending counts when ``force``: shutdown)."""
        if not force and not self.due(now):
            return []
        lines = []
        for key, w in list(self._keys.items()):
            if not w.pending:
                del self._keys[key]  # quiet for a whole window: its next refusal is news again
                continue
            lines.append({**w.line, "ts": round(w.last, 3), "since": round(w.since, 3), "count": w.pending,
                          "peer": w.peer})
            w.pending = 0
        self._started = now if self._keys else None
        return lines

    @property
    def keys(self) -> int:
        return len(self._keys)


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
