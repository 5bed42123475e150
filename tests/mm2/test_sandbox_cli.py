"""`ferry sandbox up|status|down` for real: the example specs' clusters, MirrorMaker 2 for each
rendered flow and a proxy per gateway, started by one CLI process and still running after it
exited; `down` leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from compiler.validate import validate_specs
from kafka_fixtures import TIMINGS
from mm2_harness import TopicReader, produce
from sandbox.stack import cluster_client_config, is_alive

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]


def ferry(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ferry", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_sandbox_up_status_down(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    specs = validate_specs(REPO / "specs").specs
    assert specs is not None
    started = time.monotonic()
    up = ferry("sandbox", "up", "--specs", "specs", "--state-dir", str(state_dir))
    TIMINGS["sandbox up (example org, 7 processes)"] = time.monotonic() - started
    state_file = state_dir / "sandbox.json"
    doc = json.loads(state_file.read_text()) if state_file.exists() else {}
    records = [*doc.get("clusters", {}).values(), *doc.get("mm2", {}).values(),
               *doc.get("proxy", {}).get("gateways", {}).values()]
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert doc["ready"] is True

        # One cluster per spec cluster, with the security its spec asks for.
        clusters = specs.clusters.model.clusters
        assert set(doc["clusters"]) == set(clusters)
        for name, entry in doc["clusters"].items():
            assert entry["bootstrap"].startswith("127.0.0.1:")
            if clusters[name].security.protocol.value == "PLAINTEXT":
                assert entry["security_protocol"] == "PLAINTEXT" and "sasl_mechanism" not in entry
            else:
                mechanism = clusters[name].security.sasl_mechanism
                assert mechanism is not None
                assert (entry["security_protocol"], entry["sasl_mechanism"], entry["sasl_username"]) == (
                    "SASL_PLAINTEXT", mechanism.value, "ferry")
        # MirrorMaker 2 for every rendered flow, from the rendered file localised.
        rendered_flows = sorted(p.stem for p in (REPO / "rendered/mm2").glob("*.properties"))
        assert sorted(doc["mm2"]) == rendered_flows
        for flow, entry in doc["mm2"].items():
            local = Path(entry["config"]).read_text().splitlines()
            rendered = (REPO / f"rendered/mm2/{flow}.properties").read_text().splitlines()
            assert len(local) == len(rendered)
            assert {a.split("=", 1)[0] for a, b in zip(rendered, local, strict=True) if a != b} <= {
                f"{c}.bootstrap.servers" for c in clusters} | {f"{c}.sasl.jaas.config" for c in clusters}
        # The command exited; everything it started still runs.
        assert records and all(is_alive(r) for r in records)

        # Mirroring with the rename runs: a record on a legacy topic arrives under its new name.
        legacy = cluster_client_config(doc["clusters"]["legacy-service"])
        governed = cluster_client_config(doc["clusters"]["governed"])
        sent = produce(legacy, "invoices", "sandbox", 5)
        with TopicReader(governed, "billing.invoice.created.v1") as reader:
            reader.wait_for_values({r.value for r in sent}, timeout=60)

        # A proxy per gateway, serving the rendered route table with local endpoints.
        gateways = doc["proxy"]["gateways"]
        assert sorted(gateways) == sorted(specs.clusters.model.gateways)
        for gw, entry in gateways.items():
            with urllib.request.urlopen(f"{entry['admin']}/readyz", timeout=5) as resp:
                assert resp.status == 200
            routes = Path(entry["routes"]).read_text()
            assert doc["clusters"][specs.clusters.model.gateways[gw].default_cluster]["bootstrap"] in routes
            assert ".internal:" not in routes

        status = ferry("sandbox", "status", "--state-dir", str(state_dir), timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("running") == len(records)
        report = json.loads(ferry("sandbox", "status", "--state-dir", str(state_dir), "--json", timeout=60).stdout)
        assert report["up"] is True and len(report["components"]) == len(records)
    finally:
        started = time.monotonic()
        down = ferry("sandbox", "down", "--state-dir", str(state_dir), timeout=120)
        TIMINGS["sandbox down"] = time.monotonic() - started
        for record in records:  # never leave a JVM behind, even if `down` failed
            if is_alive(record):
                os.killpg(record["pid"], signal.SIGKILL)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not any(is_alive(r) for r in records)
    assert not state_file.exists()
    after = ferry("sandbox", "status", "--state-dir", str(state_dir), timeout=60)
    assert after.returncode == 1 and "not up" in after.stdout
