"""The Java clients (kafka-clients 4.3.1: AdminClient, KafkaProducer, KafkaConsumer) through the
proxy, in one JVM: by client id they land on the legacy or the SCRAM target cluster (the
cluster id is what the *cluster* reports), produce and consume end to end; an unmatched id
lands on the default; a fenced id gets nowhere."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from proxy_clusters import Cluster
from proxy_harness import RunningProxy, make_table, write_routes

pytestmark = pytest.mark.kafka

PROGRAM = Path(__file__).resolve().parent / "java" / "ProxyClients.java"


@pytest.fixture(scope="module")
def java_lib() -> Path:
    from sandbox.jars import ensure_kafka_lib, require_tool

    require_tool("java")  # Java 17 is part of the setup: missing it fails, it never skips
    return ensure_kafka_lib()


def test_java_clients_bootstrap_through_the_proxy(tmp_path: Path, kafka: dict[str, Cluster], java_lib: Path) -> None:
    from sandbox.jars import require_tool

    path = tmp_path / "gw.routes.json"
    write_routes(path, make_table(
        {"legacy": [kafka["legacy"].bootstrap], "target": [kafka["target"].bootstrap]},
        [("payments.ledger.*", "fence", None), ("payments.*", "route", "target")],
        default="legacy",
    ))
    stamp = time.monotonic_ns()
    assert kafka["target"].scram is not None
    user, password = kafka["target"].scram
    cases = {
        "payments.api.1": f"scram:{user}:{password}",  # rule -> target (SCRAM)
        "legacy-billing.1": "plain",  # no rule -> default, legacy
        "payments.ledger.1": "refused",  # fence
    }
    with RunningProxy(path) as p:
        args = [f"{cid};{mode};java-proxy-{i}-{stamp}" for i, (cid, mode) in enumerate(cases.items())]
        done = subprocess.run(
            [require_tool("java"), "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
             "-cp", f"{java_lib}/*", str(PROGRAM), p.bootstrap, *args],
            capture_output=True, text=True, timeout=180,
        )
    results = {
        r["client_id"]: r
        for r in (json.loads(line[len("RESULT "):]) for line in done.stdout.splitlines() if line.startswith("RESULT "))
    }
    assert set(results) == set(cases), done.stdout + done.stderr[-3000:]
    target, legacy, fenced = results["payments.api.1"], results["legacy-billing.1"], results["payments.ledger.1"]
    assert "error" not in target and "error" not in legacy, (target, legacy, done.stderr[-3000:])
    assert target["cluster_id"] == kafka["target"].cluster_id
    assert legacy["cluster_id"] == kafka["legacy"].cluster_id
    for r in (target, legacy):
        assert r["consumed"] == r["produced"] == 10
        assert r["values"] == ",".join(f"v{i}" for i in range(10))
    assert fenced["refused"] is True
    seen = {(r["client_id"], r["cluster"], r["outcome"]) for r in p.records}
    assert ("payments.api.1", "target", "forwarded") in seen
    assert ("legacy-billing.1", "legacy", "forwarded") in seen
    assert ("payments.ledger.1", None, "fenced") in seen
