"""Small confluent-kafka helpers for the sandbox: probe a cluster, create topics, produce, consume.

Every call is bounded: a broken cluster makes a test fail with a message, never hang it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ClusterMetadata, NewTopic

from compiler.live.facts import coordinator_not_ready
from sandbox.errors import SandboxError, SandboxTimeout

Header = tuple[str, bytes]


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    partition: int | None = None
    offset: int | None = None
    topic: str | None = None

    def content(self) -> tuple[bytes | None, bytes | None, tuple[Header, ...]]:
        """What a producer chose: key, value, headers (not where the broker put it)."""
        return (self.key, self.value, self.headers)


@dataclass
class ErrorLog:
    """An ``error_cb`` that keeps what librdkafka reports instead of printing it."""

    errors: list[KafkaError] = field(default_factory=list)

    def __call__(self, error: KafkaError) -> None:
        self.errors.append(error)

    def codes(self) -> set[int]:
        return {e.code() for e in self.errors}


class ClusterUnreachable(SandboxError):
    """No usable metadata from the cluster within the time allowed."""


class AuthenticationFailed(ClusterUnreachable):
    """The cluster answered and refused the client's credentials."""


class MetadataProbe:
    """Asks a cluster for its metadata, one bounded attempt at a time.

    librdkafka retries a refused login forever and reports it only through ``error_cb``, while
    ``list_topics`` waits out its whole timeout and then says "transport failure". The probe
    reads the error callback after every attempt, so a wrong password is reported as such, and
    at once, instead of as a timeout.
    """

    def __init__(self, config: Mapping[str, object]) -> None:
        self.errors = ErrorLog()
        self.last_error = "no answer yet"
        settings: dict[str, Any] = {
            **config,
            "socket.connection.setup.timeout.ms": 2000,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 250,
            "error_cb": self.errors,
            # Failures are expected here (a broker still starting, a wrong password) and
            # reported through error_cb; keep librdkafka's own log lines off stderr.
            "log_level": 0,
        }
        self._admin = AdminClient(settings)

    def attempt(self, timeout: float) -> ClusterMetadata | None:
        """Metadata listing at least one broker, or None. Raises AuthenticationFailed."""
        metadata = None
        try:
            metadata = self._admin.list_topics(timeout=timeout)
        except KafkaException as exc:
            self.last_error = str(exc.args[0] if exc.args else exc)
        self._admin.poll(0)
        refused = [e for e in self.errors.errors if e.code() == KafkaError._AUTHENTICATION]
        if refused:
            raise AuthenticationFailed(refused[-1].str())
        if metadata is not None and not metadata.brokers:
            self.last_error = "metadata lists no broker"
            return None
        return metadata


def fetch_metadata(config: Mapping[str, object], timeout: float = 10.0) -> ClusterMetadata:
    """Cluster metadata, or AuthenticationFailed / ClusterUnreachable within ``timeout`` s."""
    probe = MetadataProbe(config)
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClusterUnreachable(f"no metadata from {config.get('bootstrap.servers')} in {timeout} s: "
                                     f"{probe.last_error}")
        metadata = probe.attempt(min(0.5, remaining))
        if metadata is not None:
            return metadata


def create_topic(config: Mapping[str, Any], name: str, partitions: int = 1, timeout: float = 15.0) -> None:
    admin = AdminClient(dict(config))
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=timeout, request_timeout=timeout)
    futures[name].result(timeout=timeout)


def produce(config: Mapping[str, str], topic: str, records: Iterable[Record], timeout: float = 15.0) -> list[Record]:
    """Produce and wait for every delivery report; returns the records with partition and offset."""
    producer = Producer({**config, "enable.idempotence": True, "linger.ms": 5})
    delivered: list[Record] = []
    failures: list[str] = []

    def report(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(str(error))
            return
        delivered.append(_record(message))

    for record in records:
        producer.produce(topic, key=record.key, value=record.value, headers=list(record.headers),
                         on_delivery=report)
        producer.poll(0)
    remaining = producer.flush(timeout)
    if failures or remaining:
        raise KafkaException(f"produce to {topic}: {len(failures)} failed ({failures[:3]}), {remaining} undelivered")
    return delivered


def consume(
    config: Mapping[str, str],
    topic: str,
    count: int,
    *,
    group: str,
    timeout: float = 30.0,
    commit: bool = True,
) -> list[Record]:
    """Read ``count`` records with a subscribing consumer of ``group`` (earliest if it has no offsets).

    Commits what it read when ``commit`` is true. Raises TimeoutError with what it got so far.
    """
    consumer = Consumer(
        {
            **config,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    records: list[Record] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(records) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxTimeout(f"consumed {len(records)} of {count} records from {topic} in {timeout} s")
            message = consumer.poll(min(0.5, remaining))
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(error)
            records.append(_record(message))
        if commit and records:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return records


def committed_offsets(config: Mapping[str, str], topic: str, partitions: int, group: str,
                      timeout: float = 10.0) -> dict[int, int]:
    """Committed offset of ``group`` per partition of ``topic`` (-1001 where it has none).

    Asks again while the group's coordinator is not ready (as `ferry preflight` does); any
    other error, or one that outlasts ``timeout``, is raised."""
    deadline = time.monotonic() + timeout
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False})
    try:
        while True:
            try:
                committed = consumer.committed(tps, timeout=max(deadline - time.monotonic(), 1.0))
                return {tp.partition: tp.offset for tp in committed}
            except KafkaException as exc:
                if not coordinator_not_ready(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()


def _record(message: Message) -> Record:
    return Record(
        key=message.key(),
        value=message.value(),
        # librdkafka hands headers back as a list of (name, value) tuples.
        headers=tuple(cast(list[Header], message.headers() or [])),
        partition=message.partition(),
        offset=message.offset(),
        topic=message.topic(),
    )
