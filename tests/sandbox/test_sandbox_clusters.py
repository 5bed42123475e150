"""Real brokers: clients work on both security modes, SCRAM says no, data survives a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from sandbox.clients import (
    AuthenticationFailed,
    ClusterUnreachable,
    Record,
    committed_offsets,
    consume,
    create_topic,
    fetch_metadata,
    produce,
)
from sandbox.cluster import KafkaNode

pytestmark = pytest.mark.kafka

def orders(count: int) -> list[Record]:
    """Keyed records with headers; some keys repeat so per-key order can be checked."""
    return [
        Record(
            key=f"customer-{i % 7}".encode(),
            value=f"order {i}".encode(),
            headers=(("trace-id", f"{i:04d}".encode()), ("tag", b"a"), ("tag", b"b")),
        )
        for i in range(count)
    ]


def assert_same_records(received: list[Record], sent: list[Record]) -> None:
    assert sorted(r.content() for r in received) == sorted(r.content() for r in sent)
    by_key: dict[bytes | None, list[Record]] = defaultdict(list)
    for record in sorted(received, key=lambda r: (r.partition, r.offset)):
        by_key[record.key].append(record)
    sent_values = defaultdict(list)
    for record in sent:
        sent_values[record.key].append(record.value)
    for key, records in by_key.items():
        assert len({r.partition for r in records}) == 1, f"key {key!r} spread over partitions"
        assert [r.value for r in records] == sent_values[key], f"key {key!r} out of order"


def test_produce_and_consume_keyed_records_with_headers(node: KafkaNode, unique: str) -> None:
    config = node.client_config()
    topic = f"{unique}.orders"
    create_topic(config, topic, partitions=3)
    sent = orders(60)
    delivered = produce(config, topic, sent)
    assert len(delivered) == len(sent)

    received = consume(config, topic, len(sent), group=f"{unique}.reader")
    assert_same_records(received, sent)
    assert {r.topic for r in received} == {topic}
    offsets = committed_offsets(config, topic, 3, f"{unique}.reader")
    assert sum(offsets.values()) == len(sent)


def test_cluster_metadata_names_the_formatted_cluster(node: KafkaNode) -> None:
    metadata = fetch_metadata(node.client_config())
    assert metadata.cluster_id == node.cluster_id
    assert [b.port for b in metadata.brokers.values()] == [node.ports["CLIENT"]]


def test_topics_are_not_created_on_demand(node: KafkaNode, unique: str) -> None:
    with pytest.raises(KafkaException):
        produce({**node.client_config(), "message.timeout.ms": "1500"}, f"{unique}.missing",
                [Record(key=b"k", value=b"v")], timeout=10)


def test_every_scram_user_created_at_format_can_connect(target: KafkaNode) -> None:
    for user in target.users:
        metadata = fetch_metadata(target.client_config(user=user))
        assert metadata.cluster_id == target.cluster_id


@pytest.mark.parametrize(
    ("user", "password"),
    [("admin", "wrong-password"), ("nobody", "admin-secret"), ("ferry", "admin-secret")],
)
def test_scram_refuses_wrong_credentials(target: KafkaNode, user: str, password: str) -> None:
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed, match="invalid credentials with SASL mechanism SCRAM-SHA-512"):
        fetch_metadata(target.client_config(user=user, password=password), timeout=10)
    assert time.monotonic() - started < 5, "a refused login must be reported at once, not as a timeout"


def test_scram_listener_refuses_plaintext_clients(target: KafkaNode) -> None:
    started = time.monotonic()
    with pytest.raises(ClusterUnreachable):
        fetch_metadata({"bootstrap.servers": target.bootstrap}, timeout=2)
    assert time.monotonic() - started < 5


# A crash on both clusters (SCRAM users must survive it too), a clean stop on one.
@pytest.mark.parametrize(("role", "how"), [("legacy", "kill"), ("target", "kill"), ("legacy", "stop")])
def test_restart_keeps_topics_records_and_offsets(
    sandbox_nodes: dict[str, KafkaNode], role: str, how: str, unique: str, timings: dict[str, float]
) -> None:
    node = sandbox_nodes[role]
    config = node.client_config()
    topic = f"{unique}.ledger"
    create_topic(config, topic, partitions=3)
    sent = orders(40)
    produce(config, topic, sent)
    consume(config, topic, 25, group=f"{unique}.half", timeout=30)
    identity = (node.cluster_id, node.bootstrap, dict(node.ports))

    node.kill() if how == "kill" else node.stop()
    assert not node.is_running
    with pytest.raises(ClusterUnreachable):
        fetch_metadata(config, timeout=2)

    seconds = node.restart()
    timings[f"{role}: restart after {how}"] = seconds
    assert (node.cluster_id, node.bootstrap, dict(node.ports)) == identity
    assert fetch_metadata(config).cluster_id == node.cluster_id

    assert_same_records(consume(config, topic, len(sent), group=f"{unique}.fresh"), sent)
    # A partition the 25 records did not come from has no commit (-1001): count the others.
    committed = committed_offsets(config, topic, 3, f"{unique}.half")
    assert sum(o for o in committed.values() if o >= 0) == 25, committed
    rest = consume(config, topic, len(sent) - 25, group=f"{unique}.half")
    assert len(rest) == 15
    produce(config, topic, orders(5))


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a reaper that may never come in a container."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_broker_dies_with_the_python_process_that_started_it(tmp_path: Path, kafka_lib: Path) -> None:
    # A child Python starts a broker, reports its pid, then is SIGKILLed: no atexit runs, so only
    # the parent-death signal can take the JVM down.
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from sandbox.cluster import KafkaNode
        node = KafkaNode("pytest-orphan", base_dir=Path({str(tmp_path)!r}), lib_dir=Path({str(kafka_lib)!r}))
        node.start()
        print(node.pid, flush=True)
        time.sleep(120)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    try:
        pid = int(child.stdout.readline())
        assert _alive(pid)
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)  # do not leave the orphan behind for the next tests
        pytest.fail(f"broker pid {pid} outlived its SIGKILLed parent")
