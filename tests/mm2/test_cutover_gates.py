"""`ferry preflight`'s exact gates and `ferry cutover report` on real clusters with a real
MirrorMaker 2 (dedicated mode, started from the file the compiler renders, Ferry's rename policy).

One MM2 for the module. A fenced group (3 partitions, stopped on legacy at a different offset in
each) and a fenced producer's topic (2 partitions). Legacy topics are written by one plain
producer, so MM2 copies offset o to offset o: the exact target offset of legacy offset U is U,
and every figure the gates and the report give is checked against values read here
independently (committed offsets with a consumer, watermarks).

The tests run in order (module state: the group is aligned by the second, MM2 is stopped and
started again by the third).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from ferry_testing import run_ferry
from mm2_harness import PROCESSES, commit_offsets, end_offsets, localise_flow, render, write_base_specs
from sandbox.mm2 import MirrorMaker2, wait_until

pytestmark = pytest.mark.kafka

SOURCE, TARGET = "legacy-gates", "governed"
SECRET = "kafka-governed-gates"
U = {0: 37, 1: 13, 2: 50}  # the fenced group's committed offsets on legacy (60 records a partition)
FEED = {0: 30, 1: 30}


def _specs(root: Path, u: str) -> Path:
    write_base_specs(root, SOURCE, SECRET)
    spec = root / "migrations/shop/gates.yaml"
    spec.write_text(f"""team: shop
owners: [shop@example.com]
source: {SOURCE}
target: {TARGET}
gateway: gw-shop
topics:
  {u}-ledger: {{to: shop.ledger-{u}.created.v1, partitions: 3}}
  {u}-feed: {{to: shop.feed-{u}.created.v1, partitions: 2}}
consumer_groups:
  {u}-g-ledger: {{topics: [{u}-ledger], client_ids: ['shop.gledger.*'], fence: true}}
producers:
  {u}-p-feed: {{topics: [{u}-feed], client_ids: ['shop.pfeed.*'], fence: true}}
""")
    return spec


@dataclass
class Env:
    u: str
    tmp: Path
    spec: Path
    legacy: dict[str, str]
    target: dict[str, str]
    conns: Path
    mm2: MirrorMaker2

    @property
    def group(self) -> str:
        return f"{self.u}-g-ledger"

    def new(self, t: str) -> str:
        return f"shop.{t}-{self.u}.created.v1"

    def ferry(self, *args: str) -> tuple[int, str]:
        r = run_ferry(*args, "--specs", str(self.tmp / "specs"), "--connections", str(self.conns), cwd=self.tmp,
                      timeout=120)
        assert r.returncode in (0, 1), r.stderr
        assert "Traceback" not in r.stderr, r.stderr
        return r.returncode, r.stdout

    def preflight(self) -> dict[tuple[str, str], dict[str, Any]]:
        _, out = self.ferry("preflight", "--spec", str(self.spec), "--out", str(self.tmp / "rendered"),
                            "--format", "json")
        return {(x["gate"], x["subject"]): x for x in json.loads(out)["results"]}

    def report(self, *extra: str) -> dict[str, Any]:
        code, out = self.ferry("cutover", "report", "--out", str(self.tmp / "rendered"), "--format", "json",
                               "--state-dir", str(self.tmp / "state"), *extra)
        assert code == 0, out
        report: dict[str, Any] = json.loads(out)
        return report



def _committed(config: Mapping[str, str], group: str, topic: str, partitions: int) -> dict[int, int]:
    c = Consumer({**config, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return {tp.partition: tp.offset for tp in got if tp.offset >= 0}
    finally:
        c.close()


def _produce(config: Mapping[str, str], topic: str, per_partition: Mapping[int, int], tag: str) -> None:
    producer = Producer({**config, "enable.idempotence": True, "linger.ms": 5})
    for p, n in per_partition.items():
        for i in range(n):
            producer.produce(topic, key=f"k{i % 5}".encode(), value=f"{tag}-{p}-{i}".encode(), partition=p)
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def env(sandbox_nodes, policy_jar, kafka_lib, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gates")
    u = f"g{time.monotonic_ns() % 10**9}"
    legacy_node, target_node = sandbox_nodes["legacy"], sandbox_nodes["target"]
    legacy, target = legacy_node.client_config(), target_node.client_config()
    spec = _specs(tmp / "specs", u)
    (tmp / "rendered").mkdir()  # nothing merged yet: no route in force
    rendered = render(tmp / "specs")
    config, conns = localise_flow(tmp, rendered, (legacy_node, target_node), (SOURCE, TARGET), SECRET)
    admin = AdminClient(dict(legacy))
    for topic, n in ((f"{u}-ledger", 3), (f"{u}-feed", 2)):
        admin.create_topics([NewTopic(topic, n, 1)])[topic].result(15)
    _produce(legacy, f"{u}-ledger", dict.fromkeys(U, 60), "ledger")
    _produce(legacy, f"{u}-feed", FEED, "feed")
    commit_offsets(legacy, f"{u}-g-ledger", f"{u}-ledger", U)
    mm2 = MirrorMaker2(f"mm2-{u}", config, clusters=[TARGET], lib_dir=kafka_lib, policy_jar=policy_jar)
    PROCESSES.append(mm2)
    mm2.start()
    try:
        e = Env(u, tmp, spec, legacy, target, conns, mm2)

        def ready() -> bool:
            mm2.check_alive()
            try:
                mirrored = (end_offsets(target, e.new("ledger")) == dict.fromkeys(U, 60)
                            and end_offsets(target, e.new("feed")) == FEED)
            except KeyError:  # not created yet
                return False
            return mirrored and len(_committed(target, e.group, e.new("ledger"), 3)) == 3

        wait_until(ready, timeout=120, interval=1, what="MirrorMaker 2 copying and translating the group")
        yield e
    finally:
        mm2.stop()
        PROCESSES.remove(mm2)


def test_fenced_group_passes_offset_sync_only_when_exact(env: Env) -> None:
    translated = _committed(env.target, env.group, env.new("ledger"), 3)  # MM2's translation
    assert all(translated[p] <= U[p] for p in U), translated  # MM2 never translates past the group
    behind = {p: U[p] - translated[p] for p in U if translated[p] != U[p]}
    assert behind, f"MM2 translated every partition exactly ({translated}): nothing to prove here"
    gate = env.preflight()[("offset-sync", env.group)]
    assert gate["status"] == "fail", gate
    for p, n in behind.items():
        assert f"{env.new('ledger')}[{p}] at {translated[p]}, exact {U[p]}: re-reads {n} record(s)" in gate["detail"]
    assert f"ferry cutover align --group {env.group}" in gate["detail"]

    # The evidence report before alignment: MM2's translation, what it would re-read.
    report = env.report("--group", env.group)
    (g,) = report["groups"]
    assert not g["exact"] and g["re_read"] == g["mm2_re_read"] == sum(behind.values()), g
    for row in g["partitions"]:
        p = row["partition"]
        assert (row["legacy_committed"], row["aligned"], row["target_committed"], row["mm2_translated"]) == \
            (U[p], U[p], translated[p], translated[p]), row
        assert (row["re_read"], row["skipped"], row["mirror_lag"]) == (U[p] - translated[p], 0, 0), row

    code, _ = env.ferry("cutover", "align", "--group", env.group)
    assert code == 0
    assert _committed(env.target, env.group, env.new("ledger"), 3) == U
    gate = env.preflight()[("offset-sync", env.group)]
    assert (gate["status"], gate["detail"]) == ("ok", "exact on 3 partition(s): 0 re-read, 0 skipped"), gate


def test_report_after_alignment_matches_both_clusters(env: Env, tmp_path: Path) -> None:
    # The proxy saw a ledger instance on legacy (still connected) and a feed producer there.
    log = tmp_path / "decisions.jsonl"
    now = time.time()
    log.write_text("\n".join(json.dumps(r) for r in (
        {"ts": now - 60, "event": "open", "gateway": "gw-shop", "conn": "i1-1", "client_id": "shop.gledger.0",
         "rule": "shop.gledger.*", "action": "route", "cluster": SOURCE},
        {"ts": now - 30, "event": "connection", "gateway": "gw-shop", "client_id": "shop.pfeed.0",
         "rule": "shop.pfeed.*", "action": "route", "cluster": SOURCE},
    )) + "\n")
    report = env.report("--decision-log", str(log))
    (g,) = report["groups"]
    assert g["exact"] and (g["re_read"], g["skipped"]) == (0, 0), g
    on_target = _committed(env.target, env.group, env.new("ledger"), 3)
    on_legacy = _committed(env.legacy, env.group, f"{env.u}-ledger", 3)
    for row in g["partitions"]:
        p = row["partition"]
        assert (row["legacy_committed"], row["target_committed"], row["aligned"]) == \
            (on_legacy[p], on_target[p], U[p]), row
    assert g["proxy"]["connected_on_legacy_now"]["client_ids"] == ["shop.gledger.0"]
    (prod,) = report["producers"]
    legacy_ends, target_ends = end_offsets(env.legacy, f"{env.u}-feed"), end_offsets(env.target, env.new("feed"))
    assert prod["drained"] and prod["not_mirrored"] == 0
    assert {d["partition"]: (d["legacy_end"], d["target_end"]) for d in prod["partitions"]} == \
        {p: (legacy_ends[p], target_ends[p]) for p in FEED}
    assert prod["proxy"]["seen_on_legacy"]["client_ids"] == ["shop.pfeed.0"]
    # Written into the state folder, JSON and Markdown alike.
    (json_file,) = (env.tmp / "state" / "reports").glob(f"cutover-{report['generated_at'].replace(':', '')}.json")
    assert json.loads(json_file.read_text()) == report
    markdown = json_file.with_suffix(".md").read_text()
    assert f"### Consumer group `{env.group}`" in markdown and "exact: 0 re-read, 0 skipped" in markdown
    assert "**1 still connected to legacy** (shop.gledger.0)" in markdown


def test_fenced_producer_passes_mirror_drained_only_when_everything_is_mirrored(env: Env) -> None:
    producer = f"{env.u}-p-feed"
    gate = env.preflight()[("mirror-drained", producer)]
    assert gate["status"] == "ok", gate
    env.mm2.stop()  # the mirror falls behind: records written on legacy are not copied yet
    _produce(env.legacy, f"{env.u}-feed", {0: 25, 1: 10}, "late")
    results = env.preflight()
    gate = results[("mirror-drained", producer)]
    assert gate["status"] == "fail", gate
    assert gate["detail"].startswith("35 record(s) on legacy not yet on the target"), gate
    assert f"{env.u}-feed[0]: 25 record(s) not mirrored yet; {env.u}-feed[1]: 10 record(s)" in gate["detail"]
    (prod,) = env.report("--producer", producer)["producers"]
    assert {d["partition"]: d["not_mirrored"] for d in prod["partitions"]} == {0: 25, 1: 10}
    assert {d["partition"]: d["legacy_end"] for d in prod["partitions"]} == end_offsets(env.legacy, f"{env.u}-feed")

    env.mm2.start()

    def drained() -> bool:
        env.mm2.check_alive()
        return bool(env.preflight()[("mirror-drained", producer)]["status"] == "ok")

    wait_until(drained, timeout=120, interval=2, what="MirrorMaker 2 catching up after its restart")
    # Restarted, MM2 did not move the aligned group back.
    assert _committed(env.target, env.group, env.new("ledger"), 3) == U
    assert env.preflight()[("offset-sync", env.group)]["status"] == "ok"
