"""Clients that keep traffic flowing while a migration happens: a producer instance and a
consumer-group instance, each a thread around a confluent-kafka client.

They behave like a team's services: a producer writes at a steady rate and counts what the
cluster acknowledged; a consumer instance reads, commits every half second and commits its
final position when it stops (so MirrorMaker 2 can translate it). Every message's value is a
unique id, ``<client id>:<sequence>``, recorded in a shared ``Tally``.

Where an instance really is comes from the client itself: librdkafka's statistics (emitted
every second) list the brokers it connected to, and a learned broker's address says which
cluster it belongs to. That is the truth after the proxy's bootstrap decision, because
produce and fetch traffic goes to those brokers directly.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from sandbox.demo.tally import Tally

STATS_INTERVAL_MS = 1000
COMMIT_INTERVAL_SECONDS = 0.5
STOP_TIMEOUT_SECONDS = 40.0


# ---- pure


def message_id(client_id: str, seq: int) -> str:
    return f"{client_id}:{seq}"


def connected_brokers(stats_json: str) -> frozenset[str]:
    """Addresses (``host:port``) of the brokers a client is connected to, from librdkafka's
    statistics: learned brokers (node id >= 0, not the bootstrap entries) in state UP."""
    try:
        brokers = json.loads(stats_json).get("brokers", {})
    except ValueError:
        return frozenset()
    return frozenset(
        b["nodename"] for b in brokers.values()
        if isinstance(b, dict) and b.get("nodeid", -1) >= 0 and b.get("state") == "UP" and b.get("nodename")
    )


def clusters_of(brokers: frozenset[str], cluster_by_address: Mapping[str, str]) -> list[str]:
    """The clusters those broker addresses belong to (unknown addresses are shown as they are)."""
    return sorted({cluster_by_address.get(address, address) for address in brokers})


# ---- IO


class Instance(threading.Thread):
    """One running client: its id, what it does, how far it got, where it is connected."""

    kind = "client"

    def __init__(self, client_id: str, role: str, topics: list[str], tally: Tally) -> None:
        super().__init__(daemon=True, name=client_id)
        self.client_id, self.role, self.topics, self.tally = client_id, role, list(topics), tally
        self.count = 0
        self.brokers: frozenset[str] = frozenset()
        self.last_error: str | None = None
        self.first_at: float | None = None
        self.stopped = False
        self._stopping = threading.Event()

    def _stats(self, stats_json: str) -> None:
        self.brokers = connected_brokers(stats_json)

    def _error(self, error: KafkaError) -> None:
        self.last_error = error.str()

    def _common(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **config,
            "client.id": self.client_id,
            "statistics.interval.ms": STATS_INTERVAL_MS,
            "stats_cb": self._stats,
            "error_cb": self._error,
            "log_level": 0,  # errors arrive through error_cb; nothing of librdkafka's on the terminal
        }

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)


class ProducerInstance(Instance):
    """Writes ``rate`` messages per second, round robin over its topics, until stopped; then flushes."""

    kind = "producer"

    def __init__(self, client_id: str, role: str, topics: list[str], config: Mapping[str, Any], tally: Tally,
                 rate: float) -> None:
        super().__init__(client_id, role, topics, tally)
        self.rate = rate
        self.failed = 0
        self._producer = Producer({**self._common(config), "enable.idempotence": True, "linger.ms": 5})

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        value = (message.value() or b"").decode()
        if error is None:
            self.count += 1
            self.first_at = self.first_at or time.monotonic()
            self.tally.acknowledged(value)
        else:
            self.failed += 1
            self.last_error = error.str()
            self.tally.failed(value)

    def run(self) -> None:
        started, seq = time.monotonic(), 0
        try:
            while not self._stopping.is_set():
                due = int((time.monotonic() - started) * self.rate)
                while seq < due:
                    seq += 1
                    topic = self.topics[seq % len(self.topics)]
                    try:
                        self._producer.produce(topic, value=message_id(self.client_id, seq).encode(),
                                               on_delivery=self._delivered)
                    except BufferError:
                        seq -= 1  # the local queue is full: deliver some first
                        break
                self._producer.poll(0.02)
            self._producer.flush(STOP_TIMEOUT_SECONDS - 5)
        except KafkaException as exc:
            self.last_error = str(exc)
        finally:
            self.stopped = True


class ConsumerInstance(Instance):
    """A member of consumer group ``group``: reads from the earliest offset when the group has none,
    commits every half second and once more when it stops."""

    kind = "consumer"

    def __init__(self, client_id: str, role: str, topics: list[str], config: Mapping[str, Any], tally: Tally,
                 group: str) -> None:
        super().__init__(client_id, role, topics, tally)
        self.group = group
        self._consumer = Consumer({
            **self._common(config), "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
        })

    def run(self) -> None:
        last_commit, uncommitted = time.monotonic(), False
        try:
            self._consumer.subscribe(self.topics)
            while not self._stopping.is_set():
                message = self._consumer.poll(0.1)
                if message is not None:
                    error = message.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            self.last_error = error.str()
                    else:
                        self.count += 1
                        self.first_at = self.first_at or time.monotonic()
                        self.tally.received((message.value() or b"").decode())
                        uncommitted = True
                if uncommitted and time.monotonic() - last_commit >= COMMIT_INTERVAL_SECONDS:
                    self._commit(asynchronous=True)
                    last_commit, uncommitted = time.monotonic(), False
            if self.count:  # also after an asynchronous commit that may still be in flight
                self._commit(asynchronous=False)
        finally:
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                self.last_error = str(exc)
            self.stopped = True

    def _commit(self, *, asynchronous: bool) -> None:
        try:
            if asynchronous:
                self._consumer.commit(asynchronous=True)
            else:
                self._consumer.commit(asynchronous=False)
        except KafkaException as exc:  # e.g. nothing to commit after a rebalance; the next commit covers it
            self.last_error = str(exc.args[0] if exc.args else exc)
