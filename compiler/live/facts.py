"""Read what the clusters say: topics, end offsets, consumer groups (confluent-kafka
AdminClient). Every call bounded by a timeout; the result is plain data for `gates.py`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from .connections import ClusterConnectionError, Connections

TIMEOUT = 15.0
#: A group's coordinator answers these while it moves or loads __consumer_offsets (seconds after
#: a broker starts, or after MirrorMaker 2 first writes a group); asked again, it answers.
COORDINATOR_NOT_READY = frozenset({
    KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE,
})
RETRY_PAUSE = 0.2


def coordinator_not_ready(exc: BaseException | None) -> bool:
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return isinstance(error, KafkaError) and error.code() in COORDINATOR_NOT_READY


@dataclass(frozen=True)
class TopicFacts:
    partitions: int
    replication_factor: int
    low: dict[int, int]
    high: dict[int, int]

    @property
    def records(self) -> int:
        return sum(self.high[p] - self.low[p] for p in self.high)


@dataclass(frozen=True)
class GroupFacts:
    state: str
    members: int
    committed: dict[tuple[str, int], int]  # (topic, partition) -> offset


@dataclass
class ClusterFacts:
    topics: dict[str, TopicFacts | None] = field(default_factory=dict)  # None: absent
    groups: dict[str, GroupFacts] = field(default_factory=dict)


class Reader:
    """One AdminClient per cluster, created on first use."""

    def __init__(self, connections: Connections):
        self.connections = connections
        self._admins: dict[str, AdminClient] = {}
        self._group_ids: dict[str, list[str]] = {}

    def admin(self, cluster: str) -> AdminClient:
        if cluster not in self._admins:
            self._admins[cluster] = AdminClient({**self.connections.get(cluster).config, "log_level": 0})
        return self._admins[cluster]

    def _wait(self, cluster: str, future: Future[Any], what: str) -> Any:
        try:
            return future.result(timeout=TIMEOUT)
        except KafkaException as exc:
            raise ClusterConnectionError(
                f"cluster {cluster!r} ({self.connections.get(cluster).bootstrap}): {what} failed: {exc}"
            ) from exc
        except TimeoutError as exc:
            raise ClusterConnectionError(
                f"cluster {cluster!r} ({self.connections.get(cluster).bootstrap}): {what} timed out after "
                f"{TIMEOUT:.0f}s; check the address and credentials"
            ) from exc

    def _wait_group(self, cluster: str, future: Future[Any], again: Callable[[], Future[Any]], what: str) -> Any:
        """Like `_wait`, but while the group's coordinator is not ready, ``again()`` asks anew
        (until TIMEOUT)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                return self._wait(cluster, future, what)
            except ClusterConnectionError as exc:
                if not coordinator_not_ready(exc.__cause__) or time.monotonic() >= deadline:
                    raise
            time.sleep(RETRY_PAUSE)
            future = again()

    def topics(
        self, cluster: str, names: Iterable[str], progress: Callable[[int], None] = lambda n: None
    ) -> dict[str, TopicFacts | None]:
        try:
            meta = self.admin(cluster).list_topics(timeout=TIMEOUT)
        except KafkaException as exc:
            raise ClusterConnectionError(
                f"cluster {cluster!r} ({self.connections.get(cluster).bootstrap}) did not answer: {exc}; "
                "check the address and credentials"
            ) from exc
        out: dict[str, TopicFacts | None] = {}
        wanted = sorted(set(names))
        present = [t for t in wanted if t in meta.topics and not meta.topics[t].error]
        tps = [TopicPartition(t, p) for t in present for p in meta.topics[t].partitions]
        lows = self._offsets(cluster, tps, OffsetSpec.earliest())
        highs = self._offsets(cluster, tps, OffsetSpec.latest())
        for t in wanted:
            if t not in present:
                out[t] = None
            else:
                parts = meta.topics[t].partitions
                out[t] = TopicFacts(
                    partitions=len(parts),
                    replication_factor=min(len(p.replicas) for p in parts.values()),
                    low={p: lows[(t, p)] for p in parts},
                    high={p: highs[(t, p)] for p in parts},
                )
            progress(1)
        return out

    def _offsets(self, cluster: str, tps: list[TopicPartition], spec: OffsetSpec) -> dict[tuple[str, int], int]:
        if not tps:
            return {}
        futures = self.admin(cluster).list_offsets(dict.fromkeys(tps, spec), request_timeout=TIMEOUT)
        return {(tp.topic, tp.partition): self._wait(cluster, f, "list offsets").offset for tp, f in futures.items()}

    def group_ids(self, cluster: str) -> list[str]:
        """The cluster's consumer groups, listed once per run (one run is one point in time)."""
        if cluster not in self._group_ids:
            listing = self.admin(cluster).list_consumer_groups(request_timeout=TIMEOUT)
            result = self._wait(cluster, listing, "list groups")
            self._group_ids[cluster] = sorted(g.group_id for g in result.valid)
        return self._group_ids[cluster]

    def groups(self, cluster: str, ids: Iterable[str]) -> dict[str, GroupFacts]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        admin = self.admin(cluster)
        described = admin.describe_consumer_groups(ids, request_timeout=TIMEOUT)
        out = {}
        for gid in ids:
            def describe(gid: str = gid) -> Future[Any]:
                return admin.describe_consumer_groups([gid], request_timeout=TIMEOUT)[gid]

            def offsets(gid: str = gid) -> Future[Any]:
                request = [ConsumerGroupTopicPartitions(gid)]
                return admin.list_consumer_group_offsets(request, request_timeout=TIMEOUT)[gid]

            desc = self._wait_group(cluster, described[gid], describe, f"describe group {gid!r}")
            listing = self._wait_group(cluster, offsets(), offsets, f"offsets of group {gid!r}")
            committed = {
                (tp.topic, tp.partition): tp.offset for tp in listing.topic_partitions or [] if tp.offset >= 0
            }
            state = getattr(desc.state, "name", str(desc.state))
            out[gid] = GroupFacts(state=state, members=len(desc.members), committed=committed)
        return out
