"""MirrorMaker 2 timings on this machine, with the intervals the compiler renders.

Starts its own two single-node clusters (legacy PLAINTEXT, governed SCRAM-SHA-512), renders
tests/mm2/specs (1 s checkpoints and group-offset syncs, 2 s topic/group refresh,
offset.lag.max 20), runs dedicated MirrorMaker 2 from the rendered file (only addresses and
the secret folder substituted) and measures:

* cluster start (format + launch + ready, both side by side);
* MM2 start to the first mirrored record (records already waiting);
* record latency, produce on legacy -> read on governed under the new name (p50/p95/max);
* offset sync: a group's first offsets on the target; a quiesced group's exact end offsets
  (bounded by the worker's offset.flush.interval.ms, 60 s by default, which the rendered file
  does not set).

    python bench/mm2_latency.py          # a table, and last a machine-readable line:
    mm2_latency cluster_s=… first_record_s=… p50_ms=… p95_ms=… group_first_s=… quiesced_exact_s=…
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "mm2")]

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

from mm2_harness import (  # noqa: E402
    SECRET,
    TARGET,
    TopicReader,
    at_end,
    create_legacy_topics,
    end_offsets,
    group_offsets,
    make_flow,
    produce,
    run_group,
)
from sandbox.brokerconfig import SecurityMode  # noqa: E402
from sandbox.cluster import KafkaNode, start_all  # noqa: E402
from sandbox.mm2 import MirrorMaker2, wait_until, write_secret  # noqa: E402


def record_latencies(legacy: dict[str, Any], target: dict[str, Any], source_topic: str, new_topic: str,
                     count: int = 200, rate: float = 50.0) -> list[float]:
    """Produce ``count`` records at ``rate``/s; seconds from send to read on the target, each."""
    sent: dict[bytes, float] = {}
    received: dict[bytes, float] = {}
    consumer = Consumer({**target, "group.id": "bench-latency", "enable.auto.commit": False})
    partitions = consumer.list_topics(new_topic, timeout=10).topics[new_topic].partitions
    ends = end_offsets(target, new_topic)
    consumer.assign([TopicPartition(new_topic, p, ends[p]) for p in partitions])
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for message in consumer.consume(100, timeout=0.1):
                value = message.value()
                if not message.error() and value is not None:
                    received.setdefault(value, time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    producer = Producer({**legacy, "linger.ms": 0})
    started = time.monotonic()
    for i in range(count):
        value = f"latency-{i}".encode()
        sent[value] = time.monotonic()
        producer.produce(source_topic, key=f"k{i % 7}".encode(), value=value)
        producer.poll(0)
        delay = started + (i + 1) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    producer.flush(30)
    wait_until(lambda: len(received) >= count, timeout=60, what="latency records on the target")
    stop.set()
    reader.join(5)
    consumer.close()
    return [received[v] - sent[v] for v in sent]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="ferry-mm2-bench-"))
    results: dict[str, float] = {}
    legacy_node = KafkaNode("bench-legacy", base_dir=work / "legacy", log_dir=work / "logs")
    target_node = KafkaNode("bench-target", base_dir=work / "target", security=SecurityMode.SCRAM,
                            log_dir=work / "logs")
    mm2 = None
    try:
        t0 = time.monotonic()
        start_all([legacy_node, target_node])
        results["cluster_s"] = time.monotonic() - t0
        legacy, target = legacy_node.client_config(), target_node.client_config()
        secrets = work / "secrets"
        write_secret(secrets, SECRET, "ferry", target_node.users["ferry"])
        flow = make_flow(work / "flow", "bench", {"legacy-service": legacy_node.bootstrap,
                                                  TARGET: target_node.bootstrap}, secrets)
        create_legacy_topics(legacy, flow)
        for topic in flow.topics:
            produce(legacy, topic.legacy, "seed", 50)

        mm2 = MirrorMaker2("bench-mm2", flow.mm2_config, clusters=[TARGET], log_dir=work / "logs").start()
        orders = flow.topic("orders")
        with TopicReader(target, orders.new) as reader:
            reader.wait_for(1, timeout=120, alive=mm2.check_alive)
        assert mm2.started_at is not None  # start() sets it
        results["first_record_s"] = time.monotonic() - mm2.started_at

        payments = flow.topic("payments")
        latencies = sorted(record_latencies(legacy, target, payments.legacy, payments.new))
        results["p50_ms"] = statistics.median(latencies) * 1000
        results["p95_ms"] = latencies[int(len(latencies) * 0.95) - 1] * 1000
        results["max_ms"] = latencies[-1] * 1000

        # A group reads to the end of the (now quiet) topic and leaves.
        group = flow.group("payments-reader")
        ends = end_offsets(legacy, payments.legacy)
        run_group(legacy, [payments.legacy], group, done=at_end({(payments.legacy, p): e for p, e in ends.items()}))
        left = time.monotonic()
        wait_until(
            lambda: any(o >= 0 for o in group_offsets(target, group, payments.new, payments.partitions).values()),
            timeout=60, what="first offsets on the target",
        )
        results["group_first_s"] = time.monotonic() - left
        wait_until(lambda: group_offsets(target, group, payments.new, payments.partitions) == ends, timeout=120,
                   interval=0.5, what="exact end offsets on the target")
        results["quiesced_exact_s"] = time.monotonic() - left
    finally:
        if mm2 is not None:
            mm2.stop()
        legacy_node.stop()
        target_node.stop()
        shutil.rmtree(work, ignore_errors=True)

    labels = {
        "cluster_s": "two clusters, format + start to ready (s)",
        "first_record_s": "MM2 start to first mirrored record (s)",
        "p50_ms": "record latency legacy -> governed, p50 (ms)",
        "p95_ms": "record latency, p95 (ms)",
        "max_ms": "record latency, max (ms)",
        "group_first_s": "group left -> first offsets on the target (s)",
        "quiesced_exact_s": "group left -> exact end offsets on the target (s)",
    }
    for key, label in labels.items():
        print(f"{label:<52} {results[key]:8.2f}")
    print("mm2_latency " + " ".join(f"{k}={results[k]:.2f}" for k in labels))


if __name__ == "__main__":
    main()
