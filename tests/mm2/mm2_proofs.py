"""The mirroring and offset-sync proofs, shared by dedicated MirrorMaker 2 and Kafka Connect.

Each takes the flow under test, client settings of both clusters and ``alive`` (raises with
the process's log if MirrorMaker 2 / the worker died, so a crash fails fast instead of as a
timeout). Offsets on a fresh target topic equal the source offsets (MM2 writes every record
in order and nothing else), which ``prove_mirrored`` checks; the group proofs count
duplicates and losses by record content, not by offsets.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping

from mm2_harness import (
    BackgroundProducer,
    FlowUnderTest,
    TopicReader,
    at_end,
    by_partition,
    end_offsets,
    group_offsets,
    is_mirror_internal,
    produce,
    read_all,
    run_group,
    topic_partitions,
)
from sandbox.mm2 import wait_until

Alive = Callable[[], None]


def prove_mirrored(flow: FlowUnderTest, legacy: Mapping[str, str], target: Mapping[str, str],
                   before: set[str], alive: Alive, timeout: float = 60.0) -> None:
    """Every legacy record is on the renamed topic: same partition, offset, key, value, headers,
    timestamp; target topics have the legacy partition counts; no un-renamed name appears."""
    for topic in flow.topics:
        source = read_all(legacy, topic.legacy)
        assert source, f"nothing produced to {topic.legacy}"
        with TopicReader(target, topic.new) as reader:
            reader.wait_for(len(source), timeout, alive)
            mirrored = reader.records
        assert {r.topic for r in mirrored} == {topic.new}
        assert sorted(r.placed() for r in mirrored) == sorted(r.placed() for r in source), topic

    target_topics = topic_partitions(target)
    legacy_topics = topic_partitions(legacy)
    for topic in flow.topics:
        assert target_topics.get(topic.new) == legacy_topics[topic.legacy] == topic.partitions, topic
    new_names = {t.new for t in flow.topics}
    appeared = set(target_topics) - before
    assert new_names <= set(target_topics)
    assert {n for n in appeared if n not in new_names and not is_mirror_internal(n)} == set()
    for topic in flow.topics:
        stray = [n for n in target_topics if n == topic.legacy or n.endswith(f".{topic.legacy}")]
        assert stray == [], f"{topic.legacy} mirrored under a name the map does not give: {stray}"
    # MM2's own topics (heartbeats, offset syncs, checkpoints, its Connect topics) are all on the
    # target: --clusters <target>, offset-syncs.topic.location=target, the worker on the target.
    assert {"heartbeats", "mm2-offset-syncs.legacy-service.internal", "legacy-service.checkpoints.internal"} <= set(
        target_topics)
    assert [n for n in legacy_topics if is_mirror_internal(n) and not n.startswith("__")] == []


def _translated(target: Mapping[str, str], group: str, topic: str, partitions: int) -> dict[int, int]:
    return {p: o for p, o in group_offsets(target, group, topic, partitions).items() if o >= 0}


def prove_offsets_while_producing(flow: FlowUnderTest, legacy: Mapping[str, str], target: Mapping[str, str],
                                  alive: Alive, timings: dict[str, float], label: str,
                                  rate: float = 15.0) -> dict[int, int]:
    """A legacy group known to MirrorMaker 2 reads while a producer writes, commits and leaves;
    its offsets appear on the *renamed* topic; a member on the target resumes there with
    nothing lost and at most ``offset.lag.max`` duplicates per partition. Returns the
    duplicates per partition."""
    topic = flow.topic("payments")
    group = flow.group("payments-reader")
    lag_max = flow.offset_lag_max
    producer = BackgroundProducer(legacy, [topic.legacy], tag=f"{flow.token}-groups", rate=rate).start()
    try:
        # The group has been consuming on the legacy cluster for a while: MM2 knows it.
        started = time.monotonic()
        first = run_group(legacy, [topic.legacy], group, done=lambda recs, _c: len(recs) >= 5, commit_every=5)
        def first_offsets() -> dict[int, int]:
            alive()
            return _translated(target, group, topic.new, topic.partitions)

        wait_until(first_offsets, timeout=60, what=f"first offsets of {group} on {topic.new}")
        timings[f"{label}: new group's offsets on target"] = time.monotonic() - started

        # Its legacy instance reads near the head for a while, committing, then stops.
        stop_at = time.monotonic() + 3.0
        on_legacy = run_group(legacy, [topic.legacy], group, commit_every=5,
                              done=lambda recs, _c: time.monotonic() > stop_at and len(recs) > 0)
        left_at = time.monotonic()
        committed = {p: o for (_t, p), o in on_legacy.committed.items()}

        def converged() -> dict[int, int] | None:
            alive()
            offsets = _translated(target, group, topic.new, topic.partitions)
            ok = all(committed[p] - lag_max <= offsets.get(p, -1) <= committed[p] for p in committed)
            return offsets if ok else None

        translated = wait_until(
            converged, timeout=30, what=f"{group}: offsets on {topic.new} within offset.lag.max of {committed}",
            describe=lambda: str(_translated(target, group, topic.new, topic.partitions)),
        )
        timings[f"{label}: in lag.max after group left"] = time.monotonic() - left_at

        # A member of the group on the target resumes while the producer still writes.
        resumed = run_group(target, [topic.new], group, done=lambda recs, _c: len(recs) >= 10, commit_every=5)
    finally:
        produced = producer.stop()
    assert produced[topic.legacy], "the background producer delivered nothing"

    # Drain: once everything is mirrored the target member reads to the end.
    legacy_ends = end_offsets(legacy, topic.legacy)
    def caught_up() -> bool:
        alive()
        return end_offsets(target, topic.new) == legacy_ends

    wait_until(caught_up, timeout=60, what=f"{topic.new} caught up with {legacy_ends}")
    rest = run_group(target, [topic.new], group, done=at_end({(topic.new, p): e for p, e in legacy_ends.items()}))

    on_target = by_partition(resumed.records + rest.records)
    for p, records in on_target.items():
        # It resumed where MM2 put the group (which may only have moved closer to the commit).
        assert translated.get(p, 0) <= records[0].offset <= committed.get(p, 0), (p, records[0].offset)
    everything = {r.value for r in read_all(legacy, topic.legacy)}
    consumed = {r.value for r in first.records + on_legacy.records + resumed.records + rest.records}
    lost = everything - consumed
    assert lost == set(), f"{len(lost)} records never reached the group, e.g. {sorted(map(repr, lost))[:3]}"
    read_on_legacy = {r.value for r in first.records + on_legacy.records}
    duplicates = {p: sum(r.value in read_on_legacy for r in records) for p, records in on_target.items()}
    assert all(count <= lag_max for count in duplicates.values()), (duplicates, lag_max)
    return duplicates


def prove_offsets_quiesced(flow: FlowUnderTest, legacy: Mapping[str, str], target: Mapping[str, str],
                           alive: Alive, timings: dict[str, float], label: str, timeout: float) -> None:
    """Producers stopped; the legacy group reads to the end and leaves; once the last offset sync
    is flushed the target holds exactly the end offsets on the renamed topics, and a member on
    the target reads only what is produced afterwards: zero duplicates, zero lost."""
    group = flow.group("orders-reader")
    topics = [flow.topic(s) for s in ("orders", "shipments")]
    ends = {(t.legacy, p): e for t in topics for p, e in end_offsets(legacy, t.legacy).items()}
    assert all(e > 0 for e in ends.values()), f"produce to every partition first: {ends}"
    run_group(legacy, [t.legacy for t in topics], group, done=at_end(ends), timeout=60)
    quiesced_at = time.monotonic()
    expected = {(t.new, p): ends[(t.legacy, p)] for t in topics for p in range(t.partitions)}

    def exact() -> bool:
        alive()
        return all(_translated(target, group, t.new, t.partitions)
                   == {p: expected[(t.new, p)] for p in range(t.partitions)} for t in topics)

    wait_until(exact, timeout=timeout, interval=0.5, what=f"{group}: exact end offsets on the renamed topics",
               describe=lambda: str({t.new: _translated(target, group, t.new, t.partitions) for t in topics}))
    timings[f"{label}: quiesced group exact on target"] = time.monotonic() - quiesced_at

    # Resume on the target: the first record of every partition must be one produced now.
    fresh = {t.legacy: produce(legacy, t.legacy, f"{flow.token}-after", 8 * t.partitions) for t in topics}
    count = sum(len(v) for v in fresh.values())
    resumed = run_group(target, [t.new for t in topics], group, done=lambda recs, _c: len(recs) >= count,
                        timeout=60)
    assert Counter(r.value for r in resumed.records) == Counter(r.value for v in fresh.values() for r in v)
