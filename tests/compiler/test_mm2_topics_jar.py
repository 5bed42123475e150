"""The compiler's view of topic names (compiler/mm2_topics.py) against Kafka 4.3.1's own classes.

One JVM (tests/compiler/java/Mm2Topics.java, run with the source launcher on the cached Kafka
jars and Ferry's rename-policy jar) answers every query of a corpus of names: for Kafka's
DefaultReplicationPolicy and for Ferry's RenameReplicationPolicy, whether the policy refuses its
config, whether MirrorSourceConnector.shouldReplicateTopic mirrors the topic (with the `topics`
value the compiler renders), and each predicate the compiler names. No broker is started, but
Java and the jars are needed, so it carries the `kafka` mark.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from compiler.mm2_topics import (
    Effect,
    excluded_by_default,
    is_checkpoints_topic,
    is_cycle,
    is_heartbeats_topic,
    is_internal_topic,
    is_mm2_internal_topic,
    looks_like_heartbeats,
    mm2_view,
)
from compiler.render import literal_regex

pytestmark = pytest.mark.kafka

PROGRAM = Path(__file__).resolve().parent / "java" / "Mm2Topics.java"
SOURCE, TARGET = "legacy-service", "governed"
NEW = "ferry.renamed.v1"  # an ordinary new name for queries about a legacy name
LEGACY = "orders"  # an ordinary legacy name for queries about a new name

ORDINARY = [
    "orders", "payments", "shop.order.created.v1", "a", "A", "0", "-", "_", "x_y", "chat-messages",
    "orders.v1", "legacy-service.orders", "internal", "a" * 249,
]
# 4.3.1 no longer treats a bare `.internal` / `-internal` suffix as internal (older releases did).
INTERNAL_LOOKALIKES = ["orders.internal", "orders-internal", "orders_internal", "x.heartbeats.internal"]
MM2_PREFIX = [
    "mm2", "mm2-offsets", "mm2.internal", "mm2-offset-syncs.legacy-service.internal", "mm2-configs.governed.internal",
    "mm2-status.x.internal", "mm2x.internal", "mm2..internal", "mm2internal", "mm2.internalx",
    "mm2-offset-syncs.x.internal.v2", "MM2-offset-syncs.x.internal", "Mm2.internal", "xmm2.internal",
    "mm2.heartbeats", "mm2" + "x" * 237 + ".internal",
]
CHECKPOINTS = [
    "legacy-service.checkpoints.internal", "governed.checkpoints.internal", "x.checkpoints.internal",
    "a.b.checkpoints.internal", "checkpoints.internal", ".checkpoints.internal", "x.checkpoints.internal.bak",
    "x-checkpoints.internal", "x.checkpoints-internal", "x..checkpoints.internal", "checkpoints",
]
UNDERSCORES = [
    "__consumer_offsets", "__transaction_state", "__cluster_metadata", "__share_group_state", "__", "___x",
    "_x", "_schemas", "x__", "a__b", "__.replica",
]
# `.` and `..` are not legal topic names (Kafka refuses them, so does the policy, for that reason): the
# naming pass reports them; mm2_view assumes a legal name.
DOTS = [".x", "...", "x.", "x..", "a..b", ".hidden.topic", "..x", ".-", "x.y.z"]
REPLICA = ["x.replica", "replica", ".replica", "x-replica", "x.replica.v1", "a.b.replica", "replica.x", "x.REPLICA",
           "x..replica", "heartbeats.replica"]
HEARTBEATS = [
    "heartbeats", "x.heartbeats", "legacy-service.heartbeats", "governed.heartbeats", "a.b.heartbeats",
    "app-heartbeats", "heartbeats-v2", "heartbeats.v2", "heartbeats.", ".heartbeats", "a..heartbeats",
    "Heartbeats", "xheartbeats", "heartbeat", "heartbeats..",
]
CYCLES = [
    "governed.orders", "governed.x.y", "legacy-service.governed.orders", "x.governed.orders", "governed",
    "governed.", "governed-orders", "governedx.orders", "a.b.governed", "governed..orders", ".governed.x",
]
CORPUS = sorted(set(
    ORDINARY + INTERNAL_LOOKALIKES + MM2_PREFIX + CHECKPOINTS + UNDERSCORES + DOTS + REPLICA + HEARTBEATS + CYCLES
))
# Self-pairs (`x:x`): the policy names the source cluster for x, a cycle when source == target.
SELF_PAIRS = ["orders", "governed.orders", "x.replica"]

CASES = Path(__file__).resolve().parents[1] / "cases"


def case_renames() -> list[tuple[str, str, str]]:
    """(case, legacy, new) of every rename in the acceptance cases about MM2's names."""
    out: list[tuple[str, str, str]] = []
    for path in sorted(CASES.glob("*/*/specs/migrations/*/*.yaml")):
        case = path.parents[3].name
        if case.startswith(("mirrorability-topic", "mm2-")):
            topics = YAML(typ="safe").load(path.read_text()).get("topics") or {}
            out.extend((case, legacy, new) for legacy, new in sorted(topics.items()))
    return out


Query = tuple[str, str, str, str, str]  # policy, source, target, legacy, new ("" for the default policy)


def queries() -> list[Query]:
    out: list[Query] = []
    for name in CORPUS:
        out.append(("default", SOURCE, TARGET, name, ""))
        out.append(("rename", SOURCE, TARGET, name, NEW if name != NEW else "other.v1"))
        out.append(("rename", SOURCE, TARGET, LEGACY, name))
        out.append(("rename", SOURCE, TARGET, name, name))
    for name in SELF_PAIRS:
        out.append(("rename", "same", "same", name, name))
    out.append(("default", "same", "same", "same.orders", ""))
    for _case, legacy, new in case_renames():
        out.append(("rename", SOURCE, TARGET, legacy, new))
    return sorted(set(out))


@pytest.fixture(scope="module")
def answers() -> dict[Query, dict[str, Any]]:
    from sandbox.jars import ensure_kafka_lib, ensure_policy_jar, require_tool

    java = require_tool("java")  # Java 17 is part of the setup: missing it fails, it never skips
    classpath = f"{ensure_kafka_lib()}/*:{ensure_policy_jar()}"
    asked = queries()
    lines = "".join("\t".join([*q, literal_regex(q[3])]) + "\n" for q in asked)
    done = subprocess.run(
        [java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classpath, str(PROGRAM)],
        input=lines, capture_output=True, text=True, timeout=180,
    )
    results = [json.loads(ln[len("RESULT "):]) for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and len(results) == len(asked), done.stdout[-2000:] + done.stderr[-3000:]
    out = {}
    for q, r in zip(asked, results, strict=True):
        assert (r["policy"], r["source"], r["target"], r["legacy"], r["new"]) == q
        out[q] = r
    return out


def test_corpus_covers_every_rule() -> None:
    assert len(CORPUS) >= 100
    codes = {v.code for q in queries() for v in mm2_view(q[3], q[4] or None, source=q[1], target=q[2])}
    assert codes == {"topic-internal-to-mm2", "topic-is-mm2-heartbeats", "topic-excluded-by-mm2", "topic-mm2-cycle"}


def test_acceptance_cases_ask_kafka_too(answers: dict[Query, dict[str, Any]]) -> None:
    """Every rename of the MM2 cases is in the corpus; the valid look-alikes are mirrored by Kafka."""
    renames = case_renames()
    assert len({case for case, _, _ in renames}) >= 10
    for case, legacy, new in renames:
        r = answers[("rename", SOURCE, TARGET, legacy, new)]
        if case.startswith("mm2-"):
            assert r["replicated"] is True, f"{case}: {legacy}:{new}: {r}"


def test_the_compiler_decides_like_kafka(answers: dict[Query, dict[str, Any]]) -> None:
    wrong = []
    for (policy, source, target, legacy, new), r in answers.items():
        verdicts = mm2_view(legacy, new or None, source=source, target=target)
        refused = any(v.effect is Effect.REFUSED for v in verdicts)
        said = "refused" if refused else "skipped" if verdicts else "mirrored"
        java = "refused" if r["refused"] else "mirrored" if r["replicated"] else "skipped"
        if said != java:
            wrong.append(f"{policy} {legacy}:{new} ({source}->{target}): compiler {said} {verdicts}, Kafka {java}")
            continue
        for v in verdicts:
            # The rule the compiler names holds in Kafka's classes for the name it blames ...
            if not r["predicates"][v.name][v.predicate]:
                wrong.append(f"{policy} {legacy}:{new}: compiler blames {v.predicate}({v.name!r}), Kafka says false")
            # ... and a refusal is the one Ferry's policy reports, side by side.
            if v.effect is Effect.REFUSED and f"{v.side} name '{v.name}' is an internal or heartbeats topic" not in (
                r["error"] or ""
            ):
                wrong.append(f"{policy} {legacy}:{new}: compiler refuses the {v.side} side, Kafka: {r['error']}")
        if refused and r["error"].count("is an internal or heartbeats topic") != len(verdicts):
            wrong.append(f"{policy} {legacy}:{new}: compiler {verdicts}, Kafka: {r['error']}")
    assert not wrong, "\n".join(wrong)


def test_each_predicate_matches_kafka(answers: dict[Query, dict[str, Any]]) -> None:
    ours = {
        "isInternalTopic": is_internal_topic,
        "isMM2InternalTopic": is_mm2_internal_topic,
        "isCheckpointsTopic": is_checkpoints_topic,
        "isHeartbeatsTopic": is_heartbeats_topic,
        "looksLikeHeartbeats": looks_like_heartbeats,
        "excluded": excluded_by_default,
    }
    wrong = []
    for (policy, _source, target, legacy, _new), r in answers.items():
        if policy != "default":
            continue
        java = r["predicates"][legacy]
        for predicate, decide in ours.items():
            if decide(legacy) != java[predicate]:
                wrong.append(f"{predicate}({legacy!r}): compiler {decide(legacy)}, Kafka {java[predicate]}")
        if is_cycle(legacy, target) != java["isCycle"]:
            wrong.append(f"isCycle({legacy!r}, target={target!r}): compiler {is_cycle(legacy, target)}, Kafka {java}")
    assert not wrong, "\n".join(wrong)
