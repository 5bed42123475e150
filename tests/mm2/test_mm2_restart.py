"""MirrorMaker 2 killed (SIGKILL) in the middle of mirroring and started again loses nothing."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from mm2_harness import PROCESSES, TARGET, BackgroundProducer, TopicReader, create_legacy_topics, make_flow
from sandbox.cluster import KafkaNode
from sandbox.mm2 import MirrorMaker2, wait_until

pytestmark = pytest.mark.kafka


def test_sigkill_and_restart_in_the_middle_of_mirroring_loses_nothing(
    sandbox_nodes: dict[str, KafkaNode], bootstraps: dict[str, str], mm2_secrets: Path, policy_jar: Path,
    kafka_lib: Path, tmp_path: Path, timings: dict[str, float],
) -> None:
    legacy, target = sandbox_nodes["legacy"].client_config(), sandbox_nodes["target"].client_config()
    token = f"k{time.monotonic_ns() % 10**10}"
    flow = make_flow(tmp_path, token, bootstraps, mm2_secrets)
    create_legacy_topics(legacy, flow)
    mm2 = MirrorMaker2(f"mm2-{token}", flow.mm2_config, clusters=[TARGET], lib_dir=kafka_lib, policy_jar=policy_jar)
    PROCESSES.append(mm2)
    readers = {t.legacy: TopicReader(target, t.new) for t in flow.topics}
    producer = BackgroundProducer(legacy, [t.legacy for t in flow.topics], tag="crash", rate=150).start()
    try:
        mm2.start()

        def mirrored() -> int:
            mm2.check_alive()
            for reader in readers.values():
                reader.poll(0.2)
            return sum(len(r.records) for r in readers.values()) >= 200

        wait_until(mirrored, timeout=90, what="mirroring under way")
        mm2.kill()  # SIGKILL: no offset commit, no last offset syncs
        killed_at = time.monotonic()
        down_until = producer.count() + 150
        wait_until(lambda: producer.count() >= down_until, timeout=30, what="records produced while MM2 is down")
        mm2.start()
        restarted_at = time.monotonic()
        wait_until(lambda: producer.count() >= down_until + 150, timeout=30, what="records produced after restart")
    finally:
        produced = producer.stop()
    try:
        duplicates: Counter[str] = Counter()
        for topic in flow.topics:
            sent = {r.value: r for r in produced[topic.legacy]}
            reader = readers[topic.legacy]
            reader.wait_for_values(set(sent), timeout=90, alive=mm2.check_alive)
            seen = Counter(r.value for r in reader.records)
            duplicates[topic.new] = sum(n - 1 for n in seen.values())
            assert set(seen) == set(sent), f"{topic.new}: records that were never produced"
            # Redelivered, but each where it belongs: the source partition, with key and headers.
            for record in reader.records:
                origin = sent[record.value]
                assert (record.partition, record.key, record.headers) == (origin.partition, origin.key, origin.headers)
        timings["MM2 SIGKILL: restart to all mirrored"] = time.monotonic() - restarted_at
        timings["MM2 SIGKILL: kill to all mirrored"] = time.monotonic() - killed_at
        print(f"redelivered after the crash (at-least-once): {dict(duplicates)}")
    finally:
        for reader in readers.values():
            reader.close()
        mm2.stop()
        PROCESSES.remove(mm2)
