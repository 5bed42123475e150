"""Counting a migration's messages: what producers had acknowledged, what a consumer group received.

Every message carries a unique id (its value, ``<client id>:<sequence>``), whichever cluster it
was written to and however often MirrorMaker 2 copied it. Across the legacy and the target
cluster, for one consumer group:

* **sent**       messages the cluster acknowledged to a producer (delivery report without error);
* **received**   deliveries to the group, all of them (a message delivered twice counts twice);
* **unique**     distinct messages received;
* **duplicated** deliveries beyond a message's first (``received - unique``). MirrorMaker 2
                 translates a group's offsets within ``offset.lag.max`` records, so a group that
                 moves re-reads up to that many per partition: expected, and shown, not hidden;
* **pending**    acknowledged and not (yet) received. While clients run this is the work in
                 flight; once producers stopped and the group drained, what is still pending is
                 **lost**.

Counters move with each event (no scan), so a view can read a snapshot many times a second.
Producer and consumer threads both record here, hence the lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    sent: int
    received: int
    unique: int
    duplicated: int
    pending: int
    failed: int  # delivery reports with an error: never acknowledged, so never "lost"


class Tally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._acked: set[str] = set()
        self._deliveries: dict[str, int] = {}
        self._pending: set[str] = set()
        self._received = 0
        self._failed = 0

    def acknowledged(self, message_id: str) -> None:
        with self._lock:
            if message_id in self._acked:
                return
            self._acked.add(message_id)
            if message_id not in self._deliveries:  # a fast consumer can beat the delivery report
                self._pending.add(message_id)

    def failed(self, message_id: str) -> None:
        with self._lock:
            self._failed += 1

    def received(self, message_id: str) -> None:
        with self._lock:
            self._received += 1
            seen = self._deliveries.get(message_id, 0)
            self._deliveries[message_id] = seen + 1
            if seen == 0:
                self._pending.discard(message_id)

    def counts(self) -> Counts:
        with self._lock:
            unique = len(self._deliveries)
            return Counts(sent=len(self._acked), received=self._received, unique=unique,
                          duplicated=self._received - unique, pending=len(self._pending), failed=self._failed)

    def pending_sample(self, limit: int = 5) -> list[str]:
        """A few ids still pending, sorted (for a report that names what went missing)."""
        with self._lock:
            return sorted(self._pending)[:limit]
