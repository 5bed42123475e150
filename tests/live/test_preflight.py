"""`ferry preflight` against real clusters: every gate passes and fails for real.

The sandbox's legacy (PLAINTEXT) and target (SCRAM) clusters stand in for `legacy-service`
and `governed`; a connections file (the `.ferry/sandbox.json` shape) points the specs at them.
MirrorMaker 2's effects (a partly mirrored topic, translated group offsets) are produced
directly with clients, so each gate's failing state is exact and fast to reach.
"""

import json
import textwrap
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from ferry_testing import run_ferry
from sandbox.clients import Record, create_topic, produce
from sandbox.cluster import KafkaNode

pytestmark = pytest.mark.kafka


def write_specs(root: Path, u: str, *, producer_cutover: bool,
                legacy_at: str = "legacy.invalid:9092", target_at: str = "governed.invalid:9094") -> None:
    (root / "migrations" / "shop").mkdir(parents=True)
    (root / "clusters.yaml").write_text(textwrap.dedent(f"""\
        clusters:
          legacy-service: {{role: legacy, region: local, bootstrap: ["{legacy_at}"]}}
          governed:
            role: target
            region: local
            bootstrap: ["{target_at}"]
            security: {{protocol: SASL_PLAINTEXT, sasl_mechanism: SCRAM-SHA-512, secret: kafka-governed-mm2}}
        gateways:
          gw: {{listen: "127.0.0.1:9092", default_cluster: legacy-service}}
        """))
    (root / "policy.yaml").write_text(textwrap.dedent("""\
        topic_names: {pattern: '^[a-z0-9.]+$'}
        client_ids: {pattern: '^(?P<team>[a-z]+)\\.[a-z0-9-]+\\.[a-z0-9-]+$'}
        mirrormaker: {offset_lag_max: 1}
        """))
    att = "{idempotent: {by: a@x, ref: T-1}, unordered_ok: {by: a@x, ref: T-1}}"
    (root / "migrations/shop" / "orders.yaml").write_text(textwrap.dedent(f"""\
        team: shop
        owners: [shop@example.com]
        source: legacy-service
        target: governed
        gateway: gw
        topics:
          {u}-orders: shop.{u}.orders.v1
          {u}-payments: shop.{u}.payments.v1
          {u}-ghost: shop.{u}.ghost.v1
        consumer_groups:
          {u}-billing:
            topics: [{u}-orders]
            client_ids: ["shop.billing.*"]
            cutover: true
            attestations: {att}
        producers:
          api:
            topics: [{u}-orders]
            client_ids: ["shop.api.*"]
            cutover: {str(producer_cutover).lower()}
        """))


def connections(path: Path, legacy: KafkaNode, target: KafkaNode) -> Path:
    t = target.client_config()
    path.write_text(json.dumps({"clusters": {
        "legacy-service": {"bootstrap": legacy.bootstrap, "security_protocol": "PLAINTEXT"},
        "governed": {"bootstrap": target.bootstrap, "security_protocol": "SASL_PLAINTEXT",
                     "sasl_mechanism": t["sasl.mechanism"], "sasl_username": t["sasl.username"],
                     "sasl_password": t["sasl.password"]},
    }}))
    return path


def commit(config: dict, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit offsets as a consumer of `group` would (synchronously, errors raised)."""
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False})
    try:
        result = consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
        )
        assert all(tp.error is None for tp in result), result
    finally:
        consumer.close()


def preflight(tmp: Path, conns: Path) -> tuple[int, dict[tuple[str, str], dict]]:
    r = run_ferry("preflight", "--specs", str(tmp / "specs"), "--connections", str(conns),
                  "--out", str(tmp / "rendered"), "--format", "json", cwd=tmp)
    assert r.returncode in (0, 1), r.stderr
    results = json.loads(r.stdout)["results"]
    return r.returncode, {(x["gate"], x["subject"]): x for x in results}


def test_every_gate_against_real_clusters(tmp_path, legacy, target, unique):
    u = unique.replace("_", "")
    write_specs(tmp_path / "specs", u, producer_cutover=False)
    conns = connections(tmp_path / "sandbox.json", legacy, target)
    lc, tc = legacy.client_config(), target.client_config()
    create_topic(lc, f"{u}-orders", partitions=3)
    create_topic(lc, f"{u}-payments", partitions=2)
    create_topic(tc, f"shop.{u}.payments.v1", partitions=1)      # wrong shape
    create_topic(tc, f"shop.{u}.orders.v1", partitions=3)        # "mirrored" in part
    sent = produce(lc, f"{u}-orders", [Record(f"k{i}".encode(), b"v", partition=i % 3) for i in range(30)])
    produce(tc, f"shop.{u}.orders.v1", [Record(r.key, r.value, partition=r.partition) for r in sent[:24]])
    # A group nobody declared reads the migrating topic on legacy.
    commit(lc, f"{u}-stray", {(f"{u}-orders", 0): 1})
    # The declared group stopped on legacy at offset 8 of each partition (10 records each).
    commit(lc, f"{u}-billing", {(f"{u}-orders", p): 8 for p in range(3)})

    code, res = preflight(tmp_path, conns)
    assert code == 1, res
    assert res[("source-topic", f"{u}-orders")]["status"] == "ok"
    assert res[("source-topic", f"{u}-ghost")]["status"] == "fail"
    assert "does not exist on legacy-service" in res[("source-topic", f"{u}-ghost")]["detail"]
    assert res[("target-topic", f"shop.{u}.payments.v1")]["status"] == "fail"
    detail = res[("target-topic", f"shop.{u}.payments.v1")]["detail"]
    assert "1 partitions on governed but 2 on legacy-service" in detail
    lag = res[("mirror-lag", f"{u}-orders")]
    assert lag["status"] == "warn" and lag["detail"].startswith("6 record(s) behind")
    assert res[("undeclared-consumers", f"{u}-stray")]["status"] == "warn"
    sync = res[("offset-sync", f"{u}-billing")]
    assert sync["status"] == "fail" and "has no translated offset yet" in sync["detail"]
    assert res[("target-group-idle", f"{u}-billing")]["status"] == "ok"

    # MM2 catches up and translates the group's offsets: the remaining lag matches.
    produce(tc, f"shop.{u}.orders.v1", [Record(r.key, r.value, partition=r.partition) for r in sent[24:]])
    commit(tc, f"{u}-billing", {(f"shop.{u}.orders.v1", p): 8 for p in range(3)})
    code, res = preflight(tmp_path, conns)
    assert res[("mirror-lag", f"{u}-orders")] ["status"] == "ok"
    assert res[("offset-sync", f"{u}-billing")]["status"] == "ok"
    # A translated offset that would skip records fails, with the count.
    commit(tc, f"{u}-billing", {(f"shop.{u}.orders.v1", 0): 10})
    _, res = preflight(tmp_path, conns)
    assert "target would SKIP 2 record(s)" in res[("offset-sync", f"{u}-billing")]["detail"]
    # `ferry status --connections` reports the same difference for the group in transition.
    r = run_ferry("status", "--specs", str(tmp_path / "specs"), "--out", str(tmp_path / "rendered"),
                  "--connections", str(conns), "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    billing = next(e for e in json.loads(r.stdout)["entries"] if e["name"] == f"{u}-billing")
    assert (billing["stage"], billing["offset_delta"]) == ("cut over", 2)
    commit(tc, f"{u}-billing", {(f"shop.{u}.orders.v1", 0): 8})

    # Someone starts the group on the target before the cutover: refused.
    consumer = Consumer({**tc, "group.id": f"{u}-billing", "enable.auto.commit": False})
    consumer.subscribe([f"shop.{u}.orders.v1"])
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.2)
    try:
        _, res = preflight(tmp_path, conns)
        idle = res[("target-group-idle", f"{u}-billing")]
        assert idle["status"] == "fail" and "already has 1 member(s) on governed" in idle["detail"]
    finally:
        consumer.close()

    # With the producer cutting over, the stray group becomes a failure.
    import shutil
    shutil.rmtree(tmp_path / "specs")
    write_specs(tmp_path / "specs", u, producer_cutover=True)
    _, res = preflight(tmp_path, conns)
    stray = res[("undeclared-consumers", f"{u}-stray")]
    assert stray["status"] == "fail" and "would stop receiving messages" in stray["detail"]


def test_table_output_and_clear_error_when_a_cluster_is_unreachable(tmp_path, legacy, target, unique):
    u = unique.replace("_", "")
    write_specs(tmp_path / "specs", u, producer_cutover=False)
    conns = connections(tmp_path / "sandbox.json", legacy, target)
    r = run_ferry("preflight", "--specs", str(tmp_path / "specs"), "--connections", str(conns),
                  "--out", str(tmp_path / "rendered"), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines()[0].split() == ["STATUS", "MIGRATION", "GATE", "SUBJECT", "DETAIL"]
    assert "FAIL" in r.stdout and "failed" in r.stdout.splitlines()[-1]
    # Only the legacy cluster in the connections file and no Secret mounted: the error names
    # the cluster and the ways to give it credentials.
    only_legacy = tmp_path / "legacy-only.json"
    data = json.loads(conns.read_text())
    del data["clusters"]["governed"]
    only_legacy.write_text(json.dumps(data))
    r = run_ferry("preflight", "--specs", str(tmp_path / "specs"), "--connections", str(only_legacy),
                  cwd=tmp_path, env={"FERRY_SECRETS_DIR": str(tmp_path / "no-secrets")})
    assert r.returncode == 1
    assert ("cluster 'governed' needs SASL credentials: set FERRY_GOVERNED_USERNAME and FERRY_GOVERNED_PASSWORD, "
            f"or mount Secret 'kafka-governed-mm2' at {tmp_path / 'no-secrets' / 'kafka-governed-mm2'}") in r.stderr
    # With the specs' own addresses, credentials come from the environment.
    t = target.client_config()
    write_specs(tmp_path / "direct", u, producer_cutover=False, legacy_at=legacy.bootstrap, target_at=target.bootstrap)
    r = run_ferry("preflight", "--specs", str(tmp_path / "direct"), "--format", "json", cwd=tmp_path,
                  env={"FERRY_GOVERNED_USERNAME": t["sasl.username"], "FERRY_GOVERNED_PASSWORD": t["sasl.password"]})
    assert r.returncode == 1 and '"failed":' in r.stdout  # reached both clusters (the ghost topic fails)
