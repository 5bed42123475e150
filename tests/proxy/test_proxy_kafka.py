"""The proxy in front of real Kafka 4.3.1 clusters, with real clients.

Routes: ``migrated.*`` -> target (SASL_PLAINTEXT/SCRAM), ``fenced.*`` fenced, everything else
-> the default, legacy (PLAINTEXT). Where a client lands is checked by the cluster id the
*cluster* reports, never by what the proxy says about itself.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from proxy.routetable import RouteTable
from proxy_clusters import Cluster
from proxy_harness import EventLoop, RunningProxy, make_table, write_routes
from tests.tools.kafka_frames import encode_api_versions_request
from tests.tools.probe import (
    KafkaConnection,
    fetch_request,
    parse_fetch,
    parse_produce,
    probe,
    produce_request,
)

pytestmark = pytest.mark.kafka


def _table(kafka: dict[str, Cluster], **overrides: Any) -> RouteTable:
    clusters = overrides.pop("clusters", {"legacy": [kafka["legacy"].bootstrap], "target": [kafka["target"].bootstrap]})
    return make_table(
        clusters,
        [("migrated.*", "route", "target"), ("fenced.*", "fence", None)],
        default="legacy",
        **overrides,
    )


@pytest.fixture
def routes(tmp_path: Path, kafka: dict[str, Cluster]) -> Path:
    path = tmp_path / "gw-test.routes.json"
    write_routes(path, _table(kafka))
    return path


@pytest.fixture
def proxy(routes: Path) -> Iterator[RunningProxy]:
    with RunningProxy(routes) as p:
        yield p


def _create_topic(cluster: Cluster, name: str, partitions: int = 1) -> None:
    admin = AdminClient(cluster.client_config())
    admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=15)[name].result(timeout=20)


def _unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


# ------------------------------------------------------------------------------------------
# Routing by client id.


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_client_ids_land_on_the_cluster_their_rule_names(
    routes: Path, kafka: dict[str, Cluster], loop: EventLoop
) -> None:
    with RunningProxy(routes, loop=loop) as p:
        legacy = probe(p.address, "some-legacy-service.1")
        target = probe(p.address, "migrated.orders-writer.1", scram=kafka["target"].scram)
        null_id = probe(p.address, None)
    assert legacy.cluster_id == kafka["legacy"].cluster_id
    assert target.cluster_id == kafka["target"].cluster_id
    assert null_id.cluster_id == kafka["legacy"].cluster_id
    # After bootstrap the client is told the real broker: the proxy is out of the data path.
    assert legacy.brokers == (f"1@{kafka['legacy'].bootstrap}",)
    assert target.brokers == (f"1@{kafka['target'].bootstrap}",)
    by_client = {r["client_id"]: r for r in p.records}
    assert by_client["migrated.orders-writer.1"]["cluster"] == "target"
    assert by_client["migrated.orders-writer.1"]["rule"] == "migrated.*"
    assert by_client["some-legacy-service.1"]["rule"] is None
    assert {r["outcome"] for r in p.records} == {"forwarded"}


@pytest.mark.parametrize("role", ["legacy", "target"])
def test_confluent_kafka_bootstraps_produces_and_consumes_through_the_proxy(
    proxy: RunningProxy, kafka: dict[str, Cluster], role: str
) -> None:
    from sandbox.clients import Record, consume, fetch_metadata, produce

    cluster = kafka[role]
    prefix = "migrated." if role == "target" else "legacy-team."
    topic = _unique(f"proxy-{role}")
    _create_topic(cluster, topic)
    meta = fetch_metadata(cluster.client_config(proxy.bootstrap, f"{prefix}admin"), timeout=15)
    assert meta.cluster_id == cluster.cluster_id
    sent = [Record(f"k{i}".encode(), f"v{i}".encode()) for i in range(20)]
    produce(cluster.client_config(proxy.bootstrap, f"{prefix}producer"), topic, sent)
    got = consume(cluster.client_config(proxy.bootstrap, f"{prefix}consumer"), topic, 20, group=_unique("g"))
    assert [r.content() for r in got] == [r.content() for r in sent]
    clients = {r["client_id"] for r in proxy.records if r["cluster"] == role}
    assert {f"{prefix}admin", f"{prefix}producer"} <= clients


def test_a_fenced_client_is_held_and_others_keep_working(proxy: RunningProxy, kafka: dict[str, Cluster]) -> None:
    """librdkafka reconnects ~20 times a second to a peer that closes at once; held, its one
    connection stays open for the whole 2-s call, and the proxy dials nothing for it."""
    admin = AdminClient({**kafka["legacy"].client_config(proxy.bootstrap, "fenced.ledger.0"), "log_level": 0})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=2)
    assert probe(proxy.address, "ok.service").cluster_id == kafka["legacy"].cluster_id
    fenced = [r for r in proxy.records if r["client_id"] == "fenced.ledger.0"]
    assert [(r["event"], r["outcome"], r["count"], r["rule"]) for r in fenced] == [
        ("fenced", "fenced", 1, "fenced.*")
    ]
    assert "upstream" not in fenced[0]  # nothing ever dialled
    assert proxy.metrics.value("ferry_proxy_connections_refused_total", reason="fenced") == 1
    assert proxy.metrics.value("ferry_proxy_fence_held") == 1
    del admin


def test_a_client_id_that_is_not_utf8_is_routed_to_the_default(proxy: RunningProxy, kafka: dict[str, Cluster]) -> None:
    """Kafka accepts any bytes as a client id; through the proxy the broker answers, and the
    log shows the id escaped."""
    raw = b"fenced.\xff\xfe"  # its escaped text matches `fenced.*`; its bytes match nothing
    request = encode_api_versions_request(0, 7, None)
    frame = request[4:12] + struct.pack(">h", len(raw)) + raw + request[14:]
    with KafkaConnection(proxy.address) as conn:
        answer = conn.request(struct.pack(">i", len(frame)) + frame)
    assert struct.unpack(">h", answer[:2]) == (0,)  # the broker answered ApiVersions, error code 0
    proxy.wait_for(lambda: any(r.get("client_id_utf8") is False for r in proxy.records), what="the closing line")
    (rec,) = [r for r in proxy.records if r.get("client_id_utf8") is False]
    assert rec["client_id"] == "fenced.\\xff\\xfe"
    assert (rec["rule"], rec["cluster"], rec["outcome"]) == (None, "legacy", "forwarded")


def test_a_connected_client_is_in_the_log_while_it_is_connected(proxy: RunningProxy, kafka: dict[str, Cluster]) -> None:
    """An `open` line when the upstream is connected, the closing line with the same `conn`
    when it ends; a client that resets its connection ends as `client_reset`, not `error`."""
    with KafkaConnection(proxy.address) as conn:
        conn.api_versions("long.lived.1")
        proxy.wait_for(lambda: any(r["event"] == "open" for r in proxy.log), what="the open line")
        (opened,) = [r for r in proxy.log if r["event"] == "open"]
        assert (opened["client_id"], opened["cluster"], opened["rule"]) == ("long.lived.1", "legacy", None)
        assert opened["upstream"] == kafka["legacy"].bootstrap and opened["conn"]
        assert not [r for r in proxy.records if r["client_id"] == "long.lived.1"]  # still open: no closing line
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    proxy.wait_for(lambda: any(r["client_id"] == "long.lived.1" for r in proxy.records), what="the closing line")
    (closed,) = [r for r in proxy.records if r["client_id"] == "long.lived.1"]
    assert closed["conn"] == opened["conn"]
    assert closed["outcome"] == "client_reset", closed
    assert proxy.metrics.value("ferry_proxy_connections_closed_total", outcome="client_reset") == 1


# ------------------------------------------------------------------------------------------
# The pipe: long-lived, both ways, with backpressure.


def test_a_long_lived_bootstrap_pipe_carries_produce_and_fetch(proxy: RunningProxy, kafka: dict[str, Cluster]) -> None:
    topic = _unique("pipe")
    _create_topic(kafka["legacy"], topic)
    with KafkaConnection(proxy.address) as conn:
        conn.api_versions("legacy-app.1")
        assert topic in conn.metadata("legacy-app.1", [topic]).topics
        offsets = []
        for round_ in range(3):
            records = [(f"k{round_}-{i}".encode(), f"value {round_}-{i}".encode() * 20) for i in range(50)]
            request = produce_request(conn.next_id(), "legacy-app.1", topic, 0, records)
            error, base = parse_produce(conn.request(request))
            assert error == 0
            offsets.append(base)
            time.sleep(0.3)  # an idle pipe stays up
        fetched = parse_fetch(conn.request(fetch_request(conn.next_id(), "legacy-app.1", topic, 0, 0)))
        assert fetched.error == 0 and fetched.high_watermark == 150
        assert [v for _, _, v in fetched.records][:3] == [b"value 0-0" * 20, b"value 0-1" * 20, b"value 0-2" * 20]
        assert len(fetched.records) == 150
        assert offsets == [0, 50, 100]
        assert proxy.records == []  # still open: logged when it ends
    proxy.wait_for(lambda: len(proxy.records) == 1, what="the decision line")
    (rec,) = proxy.records
    assert rec["outcome"] == "forwarded" and rec["bytes_down"] > 150 * 180 and rec["bytes_up"] > 150 * 180


def test_pipelined_requests_after_the_first_frame(proxy: RunningProxy) -> None:
    """A client may send more requests before the first answer: all go through, in order."""
    frames = b"".join(encode_api_versions_request(v % 4, 100 + v, "legacy-app.2") for v in range(8))
    with KafkaConnection(proxy.address) as conn:
        conn.send(frames)
        assert [conn.receive()[0] for _ in range(8)] == list(range(100, 108))


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_backpressure_bounds_what_the_proxy_buffers_for_a_slow_reader(
    kafka: dict[str, Cluster], routes: Path, loop: EventLoop
) -> None:
    topic = _unique("slow")
    _create_topic(kafka["legacy"], topic)
    with KafkaConnection(kafka["legacy"].address) as direct:
        payload = [(None, bytes(64 * 1024))] * 15
        for _ in range(4):  # ~4 MB in the partition
            assert parse_produce(direct.request(produce_request(direct.next_id(), "w", topic, 0, payload)))[0] == 0
    with RunningProxy(routes, loop=loop) as p, KafkaConnection(p.address) as conn:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        requests = 12  # ~12 x 1 MB of responses, and we read none of it yet
        conn.send(b"".join(fetch_request(i + 1, "slow-reader", topic, 0, 0) for i in range(requests)))
        time.sleep(1.5)

        def buffered() -> list[tuple[int, bool]]:
            assert p.server is not None
            sizes = []
            for c in p.server.connections:
                assert c.upstream is not None  # a piping connection has both sides
                sizes.append((c.client.get_write_buffer_size(), c.upstream.is_reading()))
            return sizes

        (size, upstream_reading), = p.call(buffered)
        # The proxy holds at most about one high-water mark plus one read, not the ~12 MB.
        assert size <= p.config.limits.write_buffer_high + 1024 * 1024
        assert upstream_reading is False
        total = 0
        for _ in range(requests):
            _, body = conn.receive()
            result = parse_fetch(body, decode=False)
            assert result.error == 0
            total += result.record_bytes
        assert total >= requests * 900_000


# ------------------------------------------------------------------------------------------
# Upstream faults.


def test_failover_to_the_next_bootstrap_server(tmp_path: Path, kafka: dict[str, Cluster], dead_address: str) -> None:
    path = tmp_path / "r.yaml"
    write_routes(path, _table(kafka, clusters={"legacy": [dead_address, kafka["legacy"].bootstrap],
                                               "target": [kafka["target"].bootstrap]}))
    with RunningProxy(path) as p:
        assert probe(p.address, "x").cluster_id == kafka["legacy"].cluster_id
        assert p.metrics.value("ferry_proxy_upstream_connect_failures_total", cluster="legacy", reason="refused") == 1
    (rec,) = p.records
    assert rec["upstream"] == kafka["legacy"].bootstrap and rec["dial_failures"] == [f"{dead_address} (refused)"]


def test_a_whole_cluster_down_closes_cleanly_and_others_still_route(
    tmp_path: Path, kafka: dict[str, Cluster], dead_address: str
) -> None:
    other_dead = dead_address.rsplit(":", 1)[0] + ":1"
    path = tmp_path / "r.yaml"
    write_routes(path, _table(kafka, clusters={"legacy": [kafka["legacy"].bootstrap],
                                               "target": [dead_address, other_dead]}))
    with RunningProxy(path) as p:
        with socket.create_connection(p.address, timeout=5) as s:
            s.sendall(encode_api_versions_request(3, 1, "migrated.a"))
            assert s.recv(10) == b""  # closed, not hung, not reset
        assert probe(p.address, "legacy.b").cluster_id == kafka["legacy"].cluster_id
        p.wait_for(lambda: len(p.records) == 2)
    down = next(r for r in p.records if r["client_id"] == "migrated.a")
    assert down["outcome"] == "upstream_unavailable" and len(down["dial_failures"]) == 2
    assert p.metrics.value("ferry_proxy_connections_closed_total", outcome="upstream_unavailable") == 1


def test_a_bootstrap_server_that_never_answers_times_out_and_fails_over(
    tmp_path: Path, kafka: dict[str, Cluster]
) -> None:
    # A listener with a full accept queue: the kernel drops further SYNs, so connect hangs.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(blackhole.getsockname())
        fillers.append(f)
    time.sleep(0.1)
    hole = f"127.0.0.1:{blackhole.getsockname()[1]}"
    path = tmp_path / "r.yaml"
    write_routes(path, _table(kafka, clusters={"legacy": [hole, kafka["legacy"].bootstrap],
                                               "target": [kafka["target"].bootstrap]}))
    from proxy.config import Limits

    try:
        with RunningProxy(path, limits=Limits(connect_timeout=0.3)) as p:
            started = time.monotonic()
            assert probe(p.address, "x").cluster_id == kafka["legacy"].cluster_id
            assert 0.25 < time.monotonic() - started < 3
            assert p.metrics.value("ferry_proxy_upstream_connect_failures_total",
                                   cluster="legacy", reason="timeout") == 1
    finally:
        for f in fillers:
            f.close()
        blackhole.close()


def test_the_upstream_closing_mid_pipe_closes_the_client(proxy: RunningProxy) -> None:
    """The broker closes a connection that sends garbage after a valid first frame; the client
    side must see the close, and the record says forwarded (the cluster ended it)."""
    with socket.create_connection(proxy.address, timeout=5) as s:
        s.sendall(encode_api_versions_request(3, 1, "legacy-app.3"))
        (size,) = struct.unpack(">i", s.recv(4))
        while size > 0:
            size -= len(s.recv(size))
        s.sendall(struct.pack(">i", 12) + b"\x7f\x7f" + bytes(10))  # unknown api key
        s.settimeout(5)
        assert s.recv(100) == b""
    proxy.wait_for(lambda: bool(proxy.records), what="the decision line")
    assert proxy.records[0]["outcome"] == "forwarded"


def test_many_concurrent_bootstraps(proxy: RunningProxy, kafka: dict[str, Cluster]) -> None:
    errors: list[BaseException] = []
    ids = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                ids.append(probe(proxy.address, f"svc-{n}.{i}").cluster_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert ids == [kafka["legacy"].cluster_id] * 80
