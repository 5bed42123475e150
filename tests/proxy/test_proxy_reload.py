"""Hot reload under traffic, against real clusters.

The route file is replaced 100 times - in place, by rename, and by a Kubernetes-style
``..data`` symlink swap, in turn - flipping ``flip.*`` between legacy and the SCRAM target,
while other clients bootstrap without pause. Required: no bootstrap fails, every flip is in
effect for new connections within 1 s, and a pipe opened before the first flip keeps its
upstream through all of them.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

import pytest

from proxy.routetable import RouteTable
from proxy_clusters import Cluster
from proxy_harness import RunningProxy, make_table, write_routes
from tests.tools.probe import KafkaConnection, KafkaWireError, probe

pytestmark = pytest.mark.kafka

FLIPS = 100
MODES = ("inplace", "rename", "symlink")


def reloads(p: RunningProxy, outcome: str) -> float:
    return p.metrics.value("ferry_proxy_route_reloads_total", outcome=outcome)


def _tables(kafka: dict[str, Cluster]) -> tuple[RouteTable, RouteTable]:
    clusters = {"legacy": [kafka["legacy"].bootstrap], "target": [kafka["target"].bootstrap]}
    to_legacy = make_table(clusters, [("other.*", "route", "target")], default="legacy")
    to_target = make_table(clusters, [("other.*", "route", "target"), ("flip.*", "route", "target")],
                           default="legacy")
    return to_legacy, to_target


def _lands_on(address: tuple[str, int], client_id: str, kafka: dict[str, Cluster]) -> str:
    """Which cluster a new connection with this client id reaches, as the cluster says; "?"
    when the table changed between the two probes this takes."""
    try:
        found = probe(address, client_id).cluster_id
    except (KafkaWireError, ConnectionError):
        # The SCRAM listener closes a connection that asks for metadata before logging in.
        try:
            found = probe(address, client_id, scram=kafka["target"].scram).cluster_id
        except KafkaWireError:  # a PLAINTEXT listener refuses the SASL handshake
            return "?"
    assert found is not None, "metadata without a cluster id"
    return {kafka["legacy"].cluster_id: "legacy", kafka["target"].cluster_id: "target"}[found]


def test_reload_under_traffic(tmp_path: Path, kafka: dict[str, Cluster]) -> None:
    to_legacy, to_target = _tables(kafka)
    path = tmp_path / "gw.routes.json"
    write_routes(path, to_legacy, mode="symlink")
    stop = threading.Event()
    bootstraps = [0]
    failures: list[str] = []

    def steady_traffic(n: int) -> None:
        while not stop.is_set():
            try:
                assert probe(p.address, f"steady.{n}").cluster_id == kafka["legacy"].cluster_id
                bootstraps[0] += 1
            except BaseException as exc:  # noqa: BLE001
                failures.append(repr(exc))

    with RunningProxy(path) as p:
        pinned = KafkaConnection(p.address)
        pinned.api_versions("flip.pinned")
        assert pinned.metadata("flip.pinned", []).cluster_id == kafka["legacy"].cluster_id
        threads = [threading.Thread(target=steady_traffic, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        delays = []
        try:
            for i in range(FLIPS):
                table, want = (to_target, "target") if i % 2 == 0 else (to_legacy, "legacy")
                written = time.monotonic()
                write_routes(path, table, mode=MODES[i % 3])
                while _lands_on(p.address, "flip.svc", kafka) != want:
                    assert time.monotonic() - written < 1.0, f"flip {i} ({MODES[i % 3]}) not in effect after 1 s"
                delays.append(time.monotonic() - written)
        finally:
            stop.set()
            for t in threads:
                t.join()
        # The pipe opened before the first flip still goes where it went, on the same socket.
        assert pinned.metadata("flip.pinned", []).cluster_id == kafka["legacy"].cluster_id
        pinned.close()
        assert reloads(p, "applied") == FLIPS
        assert reloads(p, "invalid") == 0
        status, _, body = p.admin("/routes")
        assert status == 200 and json.loads(body)["version"] == to_legacy.version

    assert failures == []
    assert bootstraps[0] > 100
    print(f"\nreload-to-effect over {FLIPS} flips: median {statistics.median(delays) * 1000:.0f} ms, "
          f"max {max(delays) * 1000:.0f} ms; {bootstraps[0]} steady bootstraps, 0 failed")


def test_a_broken_or_missing_file_changes_nothing_and_is_reported(tmp_path: Path, kafka: dict[str, Cluster]) -> None:
    to_legacy, to_target = _tables(kafka)
    path = tmp_path / "gw.routes.json"
    write_routes(path, to_target)
    with RunningProxy(path) as p:
        assert _lands_on(p.address, "flip.a", kafka) == "target"
        path.write_text('{"format": "ferry.routes/v1", "rules": [\n')  # broken JSON
        p.wait_for(lambda: reloads(p, "invalid") == 1, what="the invalid reload")
        assert _lands_on(p.address, "flip.b", kafka) == "target"
        status, _, body = p.admin("/readyz")
        ready = json.loads(body)
        assert status == 200 and ready["stale"] is True and "not valid JSON" in ready["reload_error"]
        assert "ferry_proxy_route_file_stale 1.0" in p.admin("/metrics")[2]

        path.unlink()
        p.wait_for(lambda: reloads(p, "missing") == 1, what="the missing reload")
        assert _lands_on(p.address, "flip.c", kafka) == "target"

        write_routes(path, to_legacy)
        p.wait_for(lambda: reloads(p, "applied") == 1, what="the good reload")
        assert _lands_on(p.address, "flip.d", kafka) == "legacy"
        ready = json.loads(p.admin("/readyz")[2])
        assert ready["stale"] is False and "reload_error" not in ready
        assert p.server is not None
        assert p.server.routes.table.version == to_legacy.version
