"""`ferry cutover align` on real clusters with a real MirrorMaker 2 (dedicated mode, started from
the file the compiler renders, Ferry's rename policy).

One MM2 for the module, started after every legacy topic holds its records and every fenced
group committed: a 1-partition and a 12-partition topic, a transactional topic (one aborted
transaction), a compacted topic (compacted before MM2 reads it: offset gaps), a topic far
ahead of its group, and a group whose legacy instance still runs. The legacy cluster's alias
here is `legacy-align`, so MM2's sync and internal topics are this module's alone.

"Exact" is checked the way a consumer sees it: reading the target from the written offset T
delivers the same records (key, value, timestamp, headers), in the same order, as reading
legacy from the group's offset U (both read_uncommitted, what MM2 copies): first record equal,
0 re-read, 0 skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from compiler.live.connections import Connections
from compiler.live.cutover import RecordReader, sync_topic
from ferry_testing import run_ferry
from mm2_harness import PROCESSES, commit_offsets, end_offsets, localise_flow, render, write_base_specs
from sandbox.mm2 import MirrorMaker2, wait_until

pytestmark = pytest.mark.kafka

SOURCE, TARGET = "legacy-align", "governed"
SECRET = "kafka-governed-align"
TWELVE_U = {0: 0, 1: 1, 2: 5, 4: 14, 5: 15, 6: 7, 8: 9, 9: 3, 10: 12, 11: 15}  # 3 and 7 never committed


def _specs(root: Path, u: str) -> None:
    write_base_specs(root, SOURCE, SECRET)
    topics = {"one": 1, "twelve": 12, "txn": 1, "compact": 1, "far": 1, "live": 1}
    groups = {"one": "one", "twelve": "twelve", "txn": "txn", "txnend": "txn", "compact": "compact", "far": "far",
              "live": "live"}
    lines = [f"team: shop\nowners: [shop@example.com]\nsource: {SOURCE}\ntarget: {TARGET}\ngateway: gw-shop\ntopics:"]
    lines += [f"  {u}-{t}: {{to: shop.{t}-{u}.created.v1, partitions: {n}}}" for t, n in topics.items()]
    lines.append("consumer_groups:")
    lines += [f"  {u}-g-{g}: {{topics: [{u}-{t}], client_ids: ['shop.g{g}.*'], fence: true}}"
              for g, t in groups.items()]
    (root / "migrations/shop/align.yaml").write_text("\n".join(lines) + "\n")


@dataclass
class Env:
    u: str
    tmp: Path
    legacy: dict[str, str]
    target: dict[str, str]
    conns: Path
    mm2: MirrorMaker2
    reader: RecordReader

    def new(self, t: str) -> str:
        return f"shop.{t}-{self.u}.created.v1"

    def align(self, group: str, *extra: str) -> tuple[int, dict[str, Any]]:
        r = run_ferry("cutover", "align", "--specs", str(self.tmp / "specs"), "--connections", str(self.conns),
                      "--group", f"{self.u}-g-{group}", "--format", "json", *extra, cwd=self.tmp, timeout=120)
        assert r.returncode in (0, 1), r.stderr
        (g,) = json.loads(r.stdout)["groups"]
        return r.returncode, g

    def read(self, cluster: str, topic: str, p: int, start: int) -> list[tuple]:
        config = self.legacy if cluster == SOURCE else self.target
        high = end_offsets(config, topic)[p]
        records, _ = self.reader.read(cluster, topic, p, start, high)
        return [r.content() for r in records]

    def assert_exact(self, t: str, partitions: dict[int, int], group: dict[str, Any]) -> None:
        aligned = {p["partition"]: p for p in group["partitions"]}
        for p, u in partitions.items():
            row = aligned[p]
            assert (row["status"], row["legacy_offset"]) == ("aligned", u), row
            legacy = self.read(SOURCE, f"{self.u}-{t}", p, u)
            target = self.read(TARGET, self.new(t), p, row["target_offset"])
            assert target == legacy, f"{t}[{p}] U={u} T={row['target_offset']}: {len(legacy)} vs {len(target)}"



def _produce(config: Mapping[str, str], topic: str, items: list[tuple[int, bytes | None, bytes]]) -> None:
    producer = Producer({**config, "enable.idempotence": True, "linger.ms": 5})
    now = int(time.time() * 1000)
    for i, (p, key, value) in enumerate(items):  # four records share each timestamp
        producer.produce(topic, key=key, value=value, partition=p, timestamp=now + i // 4,
                         headers=[("n", str(i).encode()), ("dup", b"x")])
    assert producer.flush(30) == 0


def _create(config: Mapping[str, str], topic: str, partitions: int = 1,
            settings: Mapping[str, str] | None = None) -> None:
    admin = AdminClient(dict(config))
    admin.create_topics([NewTopic(topic, partitions, 1, config=dict(settings or {}))])[topic].result(15)



def _committed(config: Mapping[str, str], group: str, topic: str, p: int = 0) -> int:
    c = Consumer({**config, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        return c.committed([TopicPartition(topic, p)], timeout=10)[0].offset
    finally:
        c.close()


def _fill(legacy: dict[str, str], u: str) -> None:
    _create(legacy, f"{u}-one")
    _produce(legacy, f"{u}-one", [(0, f"k{i % 3}".encode(), b"same") for i in range(40)])  # identical payloads
    commit_offsets(legacy, f"{u}-g-one", f"{u}-one", {0: 17})
    _create(legacy, f"{u}-twelve", 12)
    _produce(legacy, f"{u}-twelve", [(p, b"k", f"{p}-{i}".encode()) for p in range(12) for i in range(15)])
    commit_offsets(legacy, f"{u}-g-twelve", f"{u}-twelve", TWELVE_U)
    # Transactional: 10 committed (0-9, marker 10), 5 aborted (11-15, marker 16), 10 committed (17-26, marker 27).
    _create(legacy, f"{u}-txn")
    tx = Producer({**legacy, "transactional.id": f"{u}-tx", "linger.ms": 5})
    tx.init_transactions(30)
    for n, commit in ((10, True), (5, False), (10, True)):
        tx.begin_transaction()
        for i in range(n):
            tx.produce(f"{u}-txn", key=b"k", value=f"{commit}-{i}".encode())
        assert tx.flush(30) == 0  # written before the abort: aborting purges what is still queued
        (tx.commit_transaction if commit else tx.abort_transaction)(30)
    commit_offsets(legacy, f"{u}-g-txn", f"{u}-txn", {0: 10})      # at a marker: next copied record is aborted 11
    commit_offsets(legacy, f"{u}-g-txnend", f"{u}-txn", {0: 28})   # legacy's end, after the last marker
    # Compacted before MM2 reads it: k0-k9 x5 (0-49), then k0-k4 again (50-54), then a record that rolls
    # the segment. The cleaner keeps 45-49 and 50-54: offsets 0-44 are gaps.
    _create(legacy, f"{u}-compact", settings={"cleanup.policy": "compact", "segment.ms": "100",
                                              "min.cleanable.dirty.ratio": "0.01", "min.compaction.lag.ms": "0"})
    _produce(legacy, f"{u}-compact", [(0, f"k{i % 10}".encode(), f"v{i}".encode()) for i in range(55)])
    commit_offsets(legacy, f"{u}-g-compact", f"{u}-compact", {0: 20})
    _create(legacy, f"{u}-far")
    _produce(legacy, f"{u}-far", [(0, f"k{i % 7}".encode(), f"far-{i}".encode()) for i in range(3000)])
    commit_offsets(legacy, f"{u}-g-far", f"{u}-far", {0: 100})
    _create(legacy, f"{u}-live")
    _produce(legacy, f"{u}-live", [(0, b"k", f"live-{i}".encode()) for i in range(20)])
    commit_offsets(legacy, f"{u}-g-live", f"{u}-live", {0: 5})
    time.sleep(0.3)
    _produce(legacy, f"{u}-compact", [(0, b"roll", b"roll")])


@pytest.fixture(scope="module")
def env(sandbox_nodes, policy_jar, kafka_lib, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("align")
    u = f"a{time.monotonic_ns() % 10**9}"
    legacy_node, target_node = sandbox_nodes["legacy"], sandbox_nodes["target"]
    legacy, target = legacy_node.client_config(), target_node.client_config()
    _specs(tmp / "specs", u)
    rendered = render(tmp / "specs")
    config, conns = localise_flow(tmp, rendered, (legacy_node, target_node), (SOURCE, TARGET), SECRET)
    _fill(legacy, u)
    reader = RecordReader(Connections({}, conns, env={}))

    def compacted() -> bool:
        return len(reader.read(SOURCE, f"{u}-compact", 0, 0, 56)[0]) < 56

    wait_until(compacted, timeout=90, interval=1, what="the legacy cleaner compacting the topic")
    mm2 = MirrorMaker2(f"mm2-{u}", config, clusters=[TARGET], lib_dir=kafka_lib, policy_jar=policy_jar)
    PROCESSES.append(mm2)
    mm2.start()
    try:
        e = Env(u, tmp, legacy, target, conns, mm2, reader)

        def drained() -> bool:
            mm2.check_alive()
            for t in ("one", "twelve", "txn", "compact", "far", "live"):
                try:
                    ends = end_offsets(target, e.new(t))
                except (KeyError, KafkaException):  # not created yet, or its leader not known yet
                    return False
                for p, high in end_offsets(legacy, f"{u}-{t}").items():
                    if len(reader.read(SOURCE, f"{u}-{t}", p, 0, high)[0]) != ends.get(p, 0):
                        return False
            return True

        wait_until(drained, timeout=120, interval=1, what="MirrorMaker 2 copying every legacy record")
        yield e
    finally:
        reader.close()
        mm2.stop()
        PROCESSES.remove(mm2)


def test_one_partition_identical_payloads(env: Env) -> None:
    code, g = env.align("one", "--dry-run")
    assert code == 0 and not g["written"], g
    env.assert_exact("one", {0: 17}, g)
    (p,) = g["partitions"]
    assert p["by_sync"] == p["by_content"] == p["target_offset"]
    code, g = env.align("one")
    assert code == 0 and g["written"] and g["read_back"] == [{"topic": env.new("one"), "partition": 0,
                                                            "offset": p["target_offset"]}]


def test_twelve_partitions_some_never_committed(env: Env) -> None:
    code, g = env.align("twelve")
    assert code == 0, json.dumps(g["refused"] or g["partitions"])
    env.assert_exact("twelve", TWELVE_U, g)
    status = {p["partition"]: p["status"] for p in g["partitions"]}
    assert status[3] == status[7] == "no-commit"
    assert len(g["read_back"]) == 10


def test_transactional_topic_markers_and_an_aborted_transaction(env: Env) -> None:
    code, g = env.align("txn")
    assert code == 0, json.dumps(g["refused"] or g["partitions"])
    env.assert_exact("txn", {0: 10}, g)
    assert g["partitions"][0]["target_offset"] == 10  # the copy of aborted record 11: markers are not copied
    assert end_offsets(env.legacy, f"{env.u}-txn")[0] == 28
    code, g = env.align("txnend")
    assert code == 0, json.dumps(g["refused"] or g["partitions"])
    assert g["partitions"][0]["target_offset"] == end_offsets(env.target, env.new("txn"))[0] == 25
    env.assert_exact("txn", {0: 28}, g)


def test_compacted_topic_with_gaps(env: Env) -> None:
    code, g = env.align("compact")
    assert code == 0, json.dumps(g["refused"] or g["partitions"])
    env.assert_exact("compact", {0: 20}, g)
    assert g["partitions"][0]["target_offset"] == 0  # legacy 45 (the first survivor) was copied first


def test_legacy_instance_still_running_is_refused_and_nothing_written(env: Env) -> None:
    member = Consumer({**env.legacy, "group.id": f"{env.u}-g-live", "enable.auto.commit": False, "log_level": 0})
    member.subscribe([f"{env.u}-live"])
    try:
        wait_until(lambda: member.poll(0.2) is not None or bool(member.assignment()), timeout=30,
                   what="the legacy instance joining")
        before = _committed(env.target, f"{env.u}-g-live", env.new("live"))
        code, g = env.align("live")
        assert code == 1 and g["status"] == "refused" and not g["written"], g
        assert "1 member(s) still in the group on legacy-align" in g["refused"]
        assert _committed(env.target, f"{env.u}-g-live", env.new("live")) == before != 5
    finally:
        member.close()


def test_rerun_is_idempotent_and_mirrormaker_never_moves_the_group_back(env: Env) -> None:
    # The group stopped (previous test): aligned; MM2's own translation of U=5 is at most its sync's next offset.
    wait_until(lambda: env.align("live")[0] == 0, timeout=60, interval=1, what="the group empty on legacy")
    first = env.align("live")[1]
    again = env.align("live")[1]
    assert first["partitions"] == again["partitions"] and again["read_back"][0]["offset"] == 5
    # MM2 keeps running: checkpoints and group-offset syncs every second, for 4 s.
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        env.mm2.check_alive()
        assert _committed(env.target, f"{env.u}-g-live", env.new("live")) == 5
        time.sleep(0.5)
    env.assert_exact("live", {0: 5}, again)


def test_group_far_behind_and_older_than_every_kept_sync(env: Env) -> None:
    # MM2's offset syncs are gone (as retention or compaction of the sync topic leaves them): deleted here.
    admin = AdminClient(dict(env.target))
    topic = sync_topic(SOURCE)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"cleanup.policy": "compact,delete"})
    admin.alter_configs([resource])[resource].result(15)
    ends = end_offsets(env.target, topic)
    futures = admin.delete_records([TopicPartition(topic, p, o) for p, o in ends.items()])
    for f in futures.values():
        f.result(15)
    code, g = env.align("far", "--dry-run")
    assert code == 0, json.dumps(g["refused"] or g["partitions"])
    (p,) = g["partitions"]
    assert p["by_sync"] is None and "older than the syncs" in p["detail"]
    env.assert_exact("far", {0: 100}, g)
