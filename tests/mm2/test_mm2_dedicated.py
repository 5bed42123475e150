"""Dedicated MirrorMaker 2, started from the file the compiler renders (only the local
bootstrap addresses and the secret folder substituted), with Ferry's rename policy.

One MM2 for the module, started after some records already wait on the legacy topics (so the
fixture measures MM2's start to the first mirrored record)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from kafka_fixtures import TIMINGS
from mm2_harness import (
    PROCESSES,
    TARGET,
    FlowUnderTest,
    TopicReader,
    create_legacy_topics,
    make_flow,
    produce,
    topic_partitions,
)
from mm2_proofs import prove_mirrored, prove_offsets_quiesced, prove_offsets_while_producing
from sandbox.mm2 import MirrorMaker2, connector_states, mm2_running, status_topic, wait_until

pytestmark = pytest.mark.kafka

SEED = 30  # records per topic before MM2 starts
# Dedicated mode flushes MirrorSourceTask's latest offset syncs at the worker's offset commit,
# every offset.flush.interval.ms: Connect's default 60 s, which the rendered file leaves alone.
DEDICATED_OFFSET_FLUSH_SECONDS = 60


@dataclass
class Dedicated:
    flow: FlowUnderTest
    mm2: MirrorMaker2
    before: set[str]
    legacy: dict[str, str]
    target: dict[str, str]


@pytest.fixture(scope="module")
def dedicated(sandbox_nodes, bootstraps, mm2_secrets, policy_jar, kafka_lib, tmp_path_factory):
    legacy_node, target_node = sandbox_nodes["legacy"], sandbox_nodes["target"]
    legacy, target = legacy_node.client_config(), target_node.client_config()
    token = f"d{time.monotonic_ns() % 10**10}"
    flow = make_flow(tmp_path_factory.mktemp("dedicated"), token, bootstraps, mm2_secrets)
    create_legacy_topics(legacy, flow)
    for topic in flow.topics:
        produce(legacy, topic.legacy, "seed", SEED)
    before = set(topic_partitions(target))

    mm2 = MirrorMaker2(f"mm2-{token}", flow.mm2_config, clusters=[TARGET], lib_dir=kafka_lib, policy_jar=policy_jar)
    PROCESSES.append(mm2)
    mm2.start()
    try:
        first = flow.topic("orders")
        with TopicReader(target, first.new) as reader:
            reader.wait_for(1, timeout=90, alive=mm2.check_alive)
        assert mm2.started_at is not None  # start() sets it
        TIMINGS["MM2: start to first mirrored record"] = time.monotonic() - mm2.started_at
        yield Dedicated(flow, mm2, before, legacy, target)
    finally:
        mm2.stop()
        PROCESSES.remove(mm2)


def test_rendered_file_differs_only_in_addresses_and_secret_paths(dedicated: Dedicated) -> None:
    rendered = dedicated.flow.rendered[f"mm2/{dedicated.flow.name}.properties"].splitlines()
    local = dedicated.flow.mm2_config.read_text().splitlines()
    assert len(rendered) == len(local)
    changed = [(a, b) for a, b in zip(rendered, local, strict=True) if a != b]
    assert [a.split("=", 1)[0] for a, _ in changed] == [
        "legacy-service.bootstrap.servers", "governed.bootstrap.servers", "governed.sasl.jaas.config"]


def test_connectors_report_running_in_the_status_topic(dedicated: Dedicated) -> None:
    def running() -> dict[str, str] | None:
        dedicated.mm2.check_alive()
        states = connector_states(dedicated.target, status_topic("legacy-service"))
        return states if mm2_running(states) else None

    states = wait_until(running, timeout=60, what="the three MM2 connectors and their tasks RUNNING")
    assert {k for k in states if k.startswith("connector-")} >= {
        "connector-MirrorSourceConnector", "connector-MirrorCheckpointConnector", "connector-MirrorHeartbeatConnector"}


def test_mirrors_every_record_under_its_new_name(dedicated: Dedicated) -> None:
    # Records that waited before MM2 started, and records produced while it runs.
    for topic in dedicated.flow.topics:
        produce(dedicated.legacy, topic.legacy, "live", 40)
    prove_mirrored(dedicated.flow, dedicated.legacy, dedicated.target, dedicated.before, dedicated.mm2.check_alive)


def test_group_offsets_follow_the_rename_while_producing(dedicated: Dedicated, timings: dict[str, float]) -> None:
    duplicates = prove_offsets_while_producing(dedicated.flow, dedicated.legacy, dedicated.target,
                                               dedicated.mm2.check_alive, timings, "MM2")
    print(f"duplicates per partition after the switch: {duplicates} (offset.lag.max "
          f"{dedicated.flow.offset_lag_max})")


def test_quiesced_group_resumes_on_the_target_without_duplicates(
    dedicated: Dedicated, timings: dict[str, float]
) -> None:
    # Needs the last offset sync of each partition, which waits for the next offset flush.
    prove_offsets_quiesced(dedicated.flow, dedicated.legacy, dedicated.target, dedicated.mm2.check_alive, timings,
                           "MM2", timeout=DEDICATED_OFFSET_FLUSH_SECONDS + 30)
