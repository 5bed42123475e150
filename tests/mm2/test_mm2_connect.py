"""The rendered MirrorMaker 2 connectors on a distributed Kafka Connect worker, applied with the
real ``ferry apply connect``: the same mirroring and offset proofs as dedicated mode, plus the
apply command's plan, idempotence, dry run, prune and error reporting."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from compiler.connect_apply import ConnectClient
from ferry_testing import REPO, run_ferry
from kafka_fixtures import TIMINGS
from mm2_harness import PROCESSES, SECRET, FlowUnderTest, create_legacy_topics, make_flow, produce, topic_partitions
from mm2_proofs import prove_mirrored, prove_offsets_quiesced, prove_offsets_while_producing
from sandbox.connect import ConnectWorker, connector_running
from sandbox.mm2 import wait_until

pytestmark = pytest.mark.kafka

ROLES = ("checkpoint", "heartbeat", "source")
WORKER_OFFSET_FLUSH_MS = 5000


@dataclass
class Connect:
    flow: FlowUnderTest
    worker: ConnectWorker
    before: set[str]
    legacy: dict[str, str]
    target: dict[str, str]

    @property
    def names(self) -> list[str]:
        return [f"ferry-{self.flow.name}-{role}" for role in ROLES]

    def apply(self, *args: str, directory: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run_ferry("apply", "connect", "--url", self.worker.url, "--dir", str(directory or self.flow.connect_dir),
                         *args, cwd=REPO)

    def connectors(self) -> list[str]:
        return ConnectClient(self.worker.url).list_connectors()

    def request(self, method: str, path: str, body: object = None) -> int:
        """A direct REST call (retried while the worker rebalances, like ferry apply does)."""
        status, answer = ConnectClient(self.worker.url).request(method, path, body)
        assert status < 300, (method, path, status, answer)
        return status

    def alive(self) -> None:
        if not self.worker.is_running:
            raise RuntimeError(f"the Connect worker died\n{self.worker.log_tail()}")


@pytest.fixture(scope="module")
def connect(sandbox_nodes, bootstraps, mm2_secrets, policy_jar, kafka_lib, tmp_path_factory):
    legacy_node, target_node = sandbox_nodes["legacy"], sandbox_nodes["target"]
    legacy, target = legacy_node.client_config(), target_node.client_config()
    token = f"c{time.monotonic_ns() % 10**10}"
    work = tmp_path_factory.mktemp("connect")
    flow = make_flow(work, token, bootstraps, mm2_secrets)
    create_legacy_topics(legacy, flow)
    for topic in flow.topics:
        produce(legacy, topic.legacy, "seed", 30)
    before = set(topic_partitions(target))
    worker = ConnectWorker(
        f"ferry-connect-{token}", base_dir=work / "worker", bootstrap=target_node.bootstrap,
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512", secrets_dir=mm2_secrets, secret=SECRET,
        offset_flush_ms=WORKER_OFFSET_FLUSH_MS, lib_dir=kafka_lib, policy_jar=policy_jar,
    )
    PROCESSES.append(worker)
    worker.start()
    try:
        TIMINGS["Connect: worker start to /health 200"] = worker.wait_ready()
        yield Connect(flow, worker, before, legacy, target)
    finally:
        worker.stop()
        PROCESSES.remove(worker)


@pytest.fixture(scope="module")
def applied(connect: Connect) -> Connect:
    """The rendered connectors applied (by the CLI) and running."""
    started = time.monotonic()
    result = connect.apply()
    assert result.returncode == 0, result.stderr
    wait_running(connect, connect.names)
    TIMINGS.setdefault("Connect: apply to connectors RUNNING", time.monotonic() - started)
    return connect


def wait_running(connect: Connect, names: list[str]) -> None:
    def running() -> bool:
        connect.alive()
        return all(connector_running(connect.worker.connector_status(n), min_tasks=0 if "checkpoint" in n else 1)
                   for n in names)

    wait_until(running, timeout=60, what=f"{names} RUNNING",
               describe=lambda: str({n: connect.worker.connector_status(n) for n in names}))


def test_apply_plans_creates_and_is_idempotent(connect: Connect) -> None:
    dry = connect.apply("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert [line.split() for line in dry.stdout.splitlines() if "would create" in line] == [
        ["would", "create", name] for name in connect.names]
    assert "nothing changed" in dry.stdout
    assert connect.connectors() == []

    created = connect.apply()
    assert created.returncode == 0, created.stderr
    assert [line.split() for line in created.stdout.splitlines() if line.strip().startswith("create")] == [
        ["create", name] for name in connect.names]
    wait_running(connect, connect.names)

    again = connect.apply()
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 updated, 3 unchanged, 0 deleted" in again.stdout
    assert [line.split() for line in again.stdout.splitlines() if line.strip().startswith("unchanged")] == [
        ["unchanged", name] for name in connect.names]


def test_mirrors_every_record_under_its_new_name(applied: Connect) -> None:
    for topic in applied.flow.topics:
        produce(applied.legacy, topic.legacy, "live", 40)
    prove_mirrored(applied.flow, applied.legacy, applied.target, applied.before, applied.alive)


def test_group_offsets_follow_the_rename_while_producing(applied: Connect, timings: dict[str, float]) -> None:
    duplicates = prove_offsets_while_producing(applied.flow, applied.legacy, applied.target, applied.alive,
                                               timings, "Connect")
    print(f"duplicates per partition after the switch: {duplicates} (offset.lag.max {applied.flow.offset_lag_max})")


def test_quiesced_group_resumes_on_the_target_without_duplicates(applied: Connect, timings: dict[str, float]) -> None:
    prove_offsets_quiesced(applied.flow, applied.legacy, applied.target, applied.alive, timings, "Connect",
                           timeout=WORKER_OFFSET_FLUSH_MS / 1000 + 30)


def test_apply_updates_a_changed_config_and_prunes_stale_ferry_connectors(applied: Connect, tmp_path: Path) -> None:
    # A changed rendering: one key of the checkpoint connector.
    changed = tmp_path / "changed"
    shutil.copytree(applied.flow.connect_dir, changed)
    checkpoint = next(changed.rglob("checkpoint.json"))
    body = json.loads(checkpoint.read_text())
    body["config"]["emit.checkpoints.interval.seconds"] = "2"
    checkpoint.write_text(json.dumps(body))
    update = applied.apply(directory=changed)
    assert update.returncode == 0, update.stderr
    expected = f"update           ferry-{applied.flow.name}-checkpoint  (emit.checkpoints.interval.seconds)"
    assert expected in update.stdout
    assert "0 created, 1 updated, 2 unchanged, 0 deleted" in update.stdout
    back = applied.apply()
    assert back.returncode == 0 and "1 updated" in back.stdout, back.stdout + back.stderr

    # A flow that is no longer rendered, and a connector Ferry does not own.
    heartbeat = json.loads(next(applied.flow.connect_dir.rglob("heartbeat.json")).read_text())["config"]
    stale, foreign = "ferry-retired--governed-heartbeat", "other-team-heartbeat"
    for name in (stale, foreign):
        assert applied.request("PUT", f"/connectors/{name}/config", heartbeat) in (200, 201)
    try:
        plain = applied.apply()
        assert plain.returncode == 0 and "0 deleted" in plain.stdout  # no --prune: stale ones stay
        dry = applied.apply("--prune", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"would delete     {stale}  (no longer rendered)" in dry.stdout
        assert foreign not in dry.stdout
        assert stale in applied.connectors()

        pruned = applied.apply("--prune")
        assert pruned.returncode == 0, pruned.stderr
        assert "0 created, 0 updated, 3 unchanged, 1 deleted" in pruned.stdout
        assert applied.connectors() == sorted([*applied.names, foreign])
    finally:
        for name in (stale, foreign):
            if name in applied.connectors():
                applied.request("DELETE", f"/connectors/{name}")


def test_a_rejected_config_names_the_connector_the_status_and_the_fields(applied: Connect, tmp_path: Path) -> None:
    broken = tmp_path / "broken" / "flow"
    broken.mkdir(parents=True)
    body = json.loads(next(applied.flow.connect_dir.rglob("source.json")).read_text())
    body["name"] = "ferry-broken--governed-source"
    body["config"]["tasks.max"] = "zero"
    (broken / "source.json").write_text(json.dumps(body))
    result = applied.apply(directory=broken.parent)
    assert result.returncode == 1
    assert "ferry: ferry-broken--governed-source: the worker rejected the config: HTTP 400" in result.stderr
    assert "Invalid value zero for configuration tasks.max" in result.stderr
    assert f"(rendered from {broken / 'source.json'})" in result.stderr
    assert "1 failed" in result.stdout
    assert "ferry-broken--governed-source" not in applied.connectors()


def test_a_config_accepted_but_failing_to_start_is_reported(applied: Connect, tmp_path: Path) -> None:
    # Connect's validation does not instantiate the replication policy; the policy refuses the
    # map when the connector starts.
    body = json.loads(next(applied.flow.connect_dir.rglob("heartbeat.json")).read_text())
    body["name"] = "ferry-chained--governed-heartbeat"
    body["config"]["replication.policy.ferry.renames"] = "a:b,b:c"
    (tmp_path / "heartbeat.json").write_text(json.dumps(body))
    try:
        result = applied.apply(directory=tmp_path)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "ferry: ferry-chained--governed-heartbeat: accepted, but failed to start:" in result.stderr
        assert "FAILED: org.apache.kafka.common.config.ConfigException: Invalid replication.policy.ferry.renames" \
            in result.stderr
        assert "chains and cycles are not allowed" in result.stderr
    finally:
        applied.request("DELETE", "/connectors/ferry-chained--governed-heartbeat")


def test_an_unreachable_worker_is_exit_1_and_a_missing_dir_exit_2(tmp_path: Path) -> None:
    result = run_ferry("apply", "connect", "--url", "http://127.0.0.1:9", "--dir", str(REPO / "rendered/connect"),
                       cwd=REPO)
    assert result.returncode == 1 and "cannot reach Kafka Connect at http://127.0.0.1:9" in result.stderr
    missing = run_ferry("apply", "connect", "--url", "http://127.0.0.1:9", "--dir", str(tmp_path / "none"), cwd=REPO)
    assert missing.returncode == 2 and "no such directory" in missing.stderr
