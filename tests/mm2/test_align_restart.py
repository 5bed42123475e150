"""`ferry cutover align` when MirrorMaker 2 restarts between the fence and the alignment (real
clusters, real MM2 in dedicated mode from the file the compiler renders).

One legacy topic, 3 partitions. Before the restart: 30 plain records a partition, copied offset
for offset. While MM2 is stopped (SIGTERM, a clean shutdown) three transactions are written
across the partitions: 8 committed, 4 aborted, 8 committed records, each followed by a marker
on every partition. MM2 copies the data records, aborted ones included, never a marker, so
from legacy offset 38 on the two sides' offsets differ, and after its restart MM2 starts a new
offset sync. Legacy offsets (every partition)::

    0-29 plain | 30-37 tx1 | 38 marker | 39-42 aborted tx2 | 43 marker | 44-51 tx3 | 52 marker | end 53
    target:  0-29 | 30-37 | 38-41 (the aborted copies) | 42-49 | end 50

Three fenced groups, each stopped on legacy (committed, no member):

* ``before``: aligned while MM2 runs, before it stops; after the restart its target offsets
  must be the same (MM2 never moves them back, also not after restarting).
* ``during``: stopped before MM2 stops, aligned after the restart.
* ``new``: committed while MM2 is down, in records MM2 has not copied yet: refused then (nothing
  written), exact after the restart.

Then MM2 is killed (SIGKILL) while a producer writes: restarted, it copies again what it had not
committed, so the target holds some records twice. Groups stopped around that stretch are aligned
exactly — from T the target delivers every legacy record from U and none before it — or refused,
nothing written; never at a wrong offset.

"Exact" is checked as a consumer sees it: reading the target from the written offset T gives the
same records (key, value, timestamp, headers), in order, as reading legacy from the group's U.
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
from confluent_kafka.admin import AdminClient, NewTopic

from compiler.live.connections import Connections
from compiler.live.cutover import RecordReader
from ferry_testing import run_ferry
from mm2_harness import (
    PROCESSES,
    BackgroundProducer,
    commit_offsets,
    end_offsets,
    localise_flow,
    render,
    write_base_specs,
)
from sandbox.mm2 import MirrorMaker2, wait_until

pytestmark = pytest.mark.kafka

SOURCE, TARGET = "legacy-restart", "governed"
SECRET = "kafka-governed-restart"
PARTITIONS = 3
PLAIN = 30  # records a partition before the restart
U_BEFORE = {0: 10, 1: 20, 2: 30}  # 30: legacy's end at the time (aligned to the target's end)
U_DURING = {0: 5, 1: 17, 2: 29}
U_NEW = {0: 33, 1: 40, 2: 53}  # in tx1; on aborted record 40; legacy's end after the last marker
T_NEW = {0: 33, 1: 39, 2: 50}  # where MM2's copies of those records are (markers are not copied)
LEGACY_END, TARGET_END = 53, 50
KILL_GROUPS = 5


def _specs(root: Path, u: str) -> None:
    write_base_specs(root, SOURCE, SECRET)
    groups = "\n".join(f"  {u}-g-{g}: {{topics: [{u}-{t}], client_ids: ['shop.g{g}.*'], fence: true}}"
                       for g, t in [("before", "r"), ("during", "r"), ("new", "r")]
                       + [(f"kill{i}", "k") for i in range(KILL_GROUPS)])
    (root / "migrations/shop/restart.yaml").write_text(f"""team: shop
owners: [shop@example.com]
source: {SOURCE}
target: {TARGET}
gateway: gw-shop
topics:
  {u}-r: {{to: shop.restart-{u}.created.v1, partitions: {PARTITIONS}}}
  {u}-k: shop.killed-{u}.created.v1
consumer_groups:
{groups}
""")


@dataclass
class Env:
    u: str
    tmp: Path
    legacy: dict[str, str]
    target: dict[str, str]
    conns: Path
    mm2: MirrorMaker2
    reader: RecordReader

    @property
    def topic(self) -> str:
        return f"{self.u}-r"

    @property
    def new(self) -> str:
        return f"shop.restart-{self.u}.created.v1"

    def group(self, g: str) -> str:
        return f"{self.u}-g-{g}"

    def align(self, g: str, *extra: str) -> tuple[int, dict[str, Any]]:
        r = run_ferry("cutover", "align", "--specs", str(self.tmp / "specs"), "--connections", str(self.conns),
                      "--group", self.group(g), "--format", "json", *extra, cwd=self.tmp, timeout=120)
        assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stderr
        (group,) = json.loads(r.stdout)["groups"]
        return r.returncode, group

    def contents(self, cluster: str, topic: str, p: int, start: int) -> list[tuple]:
        high = end_offsets(self.legacy if cluster == SOURCE else self.target, topic)[p]
        records, _ = self.reader.read(cluster, topic, p, start, high)
        return [r.content() for r in records]

    def target_offsets(self, g: str) -> dict[int, int]:
        return _committed(self.target, self.group(g), self.new)

    def assert_exact(self, u: Mapping[int, int], group: dict[str, Any]) -> dict[int, int]:
        """Every partition aligned, and the target from T delivers what legacy delivers from U; T by partition."""
        rows = {row["partition"]: row for row in group["partitions"]}
        for p, offset in u.items():
            row = rows[p]
            assert (row["status"], row["legacy_offset"]) == ("aligned", offset), row
            legacy = self.contents(SOURCE, self.topic, p, offset)
            target = self.contents(TARGET, self.new, p, row["target_offset"])
            assert target == legacy, f"[{p}] U={offset} T={row['target_offset']}: {len(legacy)} vs {len(target)}"
        return {p: rows[p]["target_offset"] for p in u}



def _committed(config: Mapping[str, str], group: str, topic: str) -> dict[int, int]:
    c = Consumer({**config, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in got if tp.offset >= 0}
    finally:
        c.close()



def _produce_plain(config: Mapping[str, str], topic: str) -> None:
    producer = Producer({**config, "enable.idempotence": True, "linger.ms": 5})
    now = int(time.time() * 1000)
    for p in range(PARTITIONS):
        for i in range(PLAIN):  # keys and values repeat across partitions; headers tell records apart
            producer.produce(topic, key=f"k{i % 4}".encode(), value=b"plain", partition=p, timestamp=now + i // 3,
                             headers=[("n", f"{p}-{i}".encode())])
    assert producer.flush(30) == 0


def _produce_transactions(config: Mapping[str, str], topic: str, u: str) -> None:
    tx = Producer({**config, "transactional.id": f"{u}-restart-tx", "linger.ms": 5})
    tx.init_transactions(30)
    for name, n, commit in (("tx1", 8, True), ("tx2", 4, False), ("tx3", 8, True)):
        tx.begin_transaction()
        for p in range(PARTITIONS):
            for i in range(n):
                tx.produce(topic, key=b"k", value=f"{name}-{i}".encode(), partition=p,
                           headers=[("n", f"{p}-{name}-{i}".encode())])
        assert tx.flush(30) == 0  # written before an abort: aborting purges what is still queued
        (tx.commit_transaction if commit else tx.abort_transaction)(30)


@pytest.fixture(scope="module")
def env(sandbox_nodes, policy_jar, kafka_lib, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("align-restart")
    u = f"r{time.monotonic_ns() % 10**9}"
    legacy_node, target_node = sandbox_nodes["legacy"], sandbox_nodes["target"]
    legacy, target = legacy_node.client_config(), target_node.client_config()
    _specs(tmp / "specs", u)
    config, conns = localise_flow(tmp, render(tmp / "specs"), (legacy_node, target_node), (SOURCE, TARGET), SECRET)
    admin = AdminClient(dict(legacy))  # kept while the future resolves
    for topic, n in ((f"{u}-r", PARTITIONS), (f"{u}-k", 1)):
        admin.create_topics([NewTopic(topic, n, 1)])[topic].result(15)
    _produce_plain(legacy, f"{u}-r")
    mm2 = MirrorMaker2(f"mm2-{u}", config, clusters=[TARGET], lib_dir=kafka_lib, policy_jar=policy_jar)
    PROCESSES.append(mm2)
    reader = RecordReader(Connections({}, conns, env={}))
    mm2.start()
    try:
        yield Env(u, tmp, legacy, target, conns, mm2, reader)
    finally:
        reader.close()
        mm2.stop()
        PROCESSES.remove(mm2)


def _wait_mirrored(env: Env, ends: Mapping[int, int]) -> None:
    def copied() -> bool:
        env.mm2.check_alive()
        try:
            return end_offsets(env.target, env.new) == dict(ends)
        except (KeyError, KafkaException):  # not created yet, or its leader not known yet
            return False

    wait_until(copied, timeout=120, interval=1, what=f"MirrorMaker 2 copying up to {dict(ends)}")


def test_alignment_is_exact_across_a_mirrormaker_restart(env: Env, timings: dict[str, float]) -> None:
    _wait_mirrored(env, dict.fromkeys(range(PARTITIONS), PLAIN))
    # Fence: the groups stop on legacy. `before` is aligned while MM2 runs.
    commit_offsets(env.legacy, env.group("before"), env.topic, U_BEFORE)
    commit_offsets(env.legacy, env.group("during"), env.topic, U_DURING)
    code, g = env.align("before")
    assert code == 0, json.dumps(g)
    aligned_before = env.assert_exact(U_BEFORE, g)
    assert aligned_before == U_BEFORE and env.target_offsets("before") == U_BEFORE  # copied offset for offset

    # MM2 stops (a clean shutdown); records keep arriving on legacy; `new` stops in them.
    env.mm2.stop()
    stopped = time.monotonic()
    _produce_transactions(env.legacy, env.topic, env.u)
    assert end_offsets(env.legacy, env.topic) == dict.fromkeys(range(PARTITIONS), LEGACY_END)
    commit_offsets(env.legacy, env.group("new"), env.topic, U_NEW)
    code, g = env.align("new")
    assert code == 1 and g["status"] == "refused" and not g["written"], json.dumps(g)
    reasons = {row["partition"]: row["detail"] for row in g["partitions"] if row["status"] == "refused"}
    assert set(reasons) == {0, 1, 2}, reasons
    assert all("wait for MirrorMaker 2" in reason for reason in reasons.values()), reasons
    assert env.target_offsets("new") == {}  # nothing written

    env.mm2.start()
    _wait_mirrored(env, dict.fromkeys(range(PARTITIONS), TARGET_END))
    timings["align restart: MM2 stop to caught up"] = time.monotonic() - stopped
    # What MM2 itself put into the target group by now (its checkpoint translation): never past U.
    mm2_during = env.target_offsets("during")
    assert all(mm2_during[p] <= U_DURING[p] for p in mm2_during), mm2_during

    code, g = env.align("during")
    assert code == 0, json.dumps(g)
    assert env.assert_exact(U_DURING, g) == U_DURING
    code, g = env.align("new")
    assert code == 0, json.dumps(g)
    assert env.assert_exact(U_NEW, g) == T_NEW
    by = {row["partition"]: (row["by_sync"], row["by_content"]) for row in g["partitions"]}
    assert by == {p: (t, t) for p, t in T_NEW.items()}, by  # both anchors, offset sync and content, agree
    # Aligned before the restart: the same answer now, and MM2 did not move it.
    code, again = env.align("before", "--dry-run")
    assert code == 0 and env.assert_exact(U_BEFORE, again) == aligned_before
    print(f"MM2 after its restart had put `during` at {mm2_during} (exact {U_DURING}); `new` aligned to {T_NEW} "
          f"(legacy {U_NEW}); anchors {by}")

    # MM2 keeps running (checkpoints and group-offset syncs every second): nobody moves back, for 6 s.
    expected = {"before": aligned_before, "during": U_DURING, "new": T_NEW}
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        env.mm2.check_alive()
        assert {g: env.target_offsets(g) for g in expected} == expected
        time.sleep(0.5)


def test_after_a_crash_that_copies_twice_alignment_is_exact_or_refused(env: Env, timings: dict[str, float]) -> None:
    legacy_topic, target_topic = f"{env.u}-k", f"shop.killed-{env.u}.created.v1"
    producer = BackgroundProducer(env.legacy, [legacy_topic], tag="kill", rate=200).start()
    try:
        def target_count() -> int:
            env.mm2.check_alive()
            try:
                return end_offsets(env.target, target_topic)[0]
            except (KeyError, KafkaException):
                return 0

        wait_until(lambda: target_count() >= 300, timeout=90, interval=0.5, what="mirroring under way")
        env.mm2.kill()  # no offset commit, no last offset sync: the restart copies some records again
        down_until = producer.count() + 200
        wait_until(lambda: producer.count() >= down_until, timeout=30, what="records produced while MM2 is down")
        env.mm2.start()
        restarted = time.monotonic()
        wait_until(lambda: producer.count() >= down_until + 200, timeout=30, what="records after the restart")
    finally:
        producer.stop()
    legacy = env.contents(SOURCE, legacy_topic, 0, 0)
    wait_until(lambda: target_count() >= len(legacy) and {c[1] for c in env.contents(TARGET, target_topic, 0, 0)}
               >= {c[1] for c in legacy}, timeout=120, interval=1, what="MM2 copying every record after the crash")
    timings["align restart: SIGKILL restart to all mirrored"] = time.monotonic() - restarted
    target = env.contents(TARGET, target_topic, 0, 0)
    values = [c[1] for c in target]
    twice = sorted({v for v in values if values.count(v) > 1})
    first_dup = min((i for i, c in enumerate(legacy) if c[1] in twice), default=len(legacy) // 2)
    last_dup = max((i for i, c in enumerate(legacy) if c[1] in twice), default=len(legacy) // 2)
    # Stopping points (legacy offsets: one producer, no transactions, so offset = index): well before,
    # just before, at, inside and just after the stretch copied twice.
    points = [50, max(first_dup - 2, 0), first_dup, (first_dup + last_dup) // 2, last_dup + 1]
    outcomes = []
    for i, u in enumerate(points):
        group = f"kill{i}"
        commit_offsets(env.legacy, env.group(group), legacy_topic, {0: u})
        code, g = env.align(group)
        (row,) = g["partitions"]
        if code == 1:
            assert g["status"] == "refused" and not g["written"] and row["detail"], json.dumps(g)
            outcomes.append(f"U={u}: refused ({row['detail'][:80]})")
            continue
        assert code == 0 and g["written"], json.dumps(g)
        t = row["target_offset"]
        from_u, from_t = [c[1] for c in legacy[u:]], [c[1] for c in target[t:]]
        # Exact as the consumer sees it: the first record is legacy's at U, every legacy record from U comes,
        # none from before U; a record the crash copied twice may come twice (the mirror's, not the offset's).
        assert from_t[0] == from_u[0] and list(dict.fromkeys(from_t)) == from_u, f"U={u} T={t}"
        outcomes.append(f"U={u}: T={t}, re-delivered by the mirror {len(from_t) - len(from_u)}")
    print(f"after SIGKILL: {len(twice)} record(s) copied twice (legacy {first_dup}..{last_dup}); "
          + "; ".join(outcomes))
