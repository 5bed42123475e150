"""`ferry cutover align`: read what the exact alignment needs from the clusters
(confluent-kafka), decide with the pure core (`align.py`), write the target group's offsets.

Per fenced group (spec `fence: true`, not yet `cutover: true`) and partition of its topics:
the group's members and committed offsets on both clusters, both topics' watermarks, MM2's
offset syncs (`mm2-offset-syncs.<source>.internal` on the target: Ferry renders
`offset-syncs.topic.location=target`), and the records themselves, read with
read_uncommitted (what MirrorMaker 2's source consumer reads). Every read is bounded.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition

from ..index import KIND_LABEL, Entry, entries
from ..spec import Migration, Specs
from .align import (
    WINDOW,
    Drain,
    GroupAlignment,
    OffsetSync,
    OffsetSyncFormatError,
    PartitionAlignment,
    PartitionFacts,
    Record,
    align_partition,
    copied_before,
    decode_offset_sync,
    drain_partition,
    first_at_or_after,
    nearest_sync,
)
from .checkpoints import Checkpoint, CheckpointFormatError, checkpoints_topic, decode_checkpoint, latest
from .connections import ClusterConnectionError, Connections
from .facts import TIMEOUT, Reader, TopicFacts
from .report import GroupEvidence, ProducerEvidence, build_report, format_markdown
from .routes import committed_tables
from .status import build_status, read_decision_log

#: Records read from the target by content when no offset sync bounds the search: beyond, the
#: partition is refused rather than read without end.
MAX_SCAN = 200_000
#: How far back (in offsets) to look for legacy's last records below U when U is legacy's end.
TAIL_LOOKBACK = 1_000


def sync_topic(source_alias: str) -> str:
    """Where MM2 writes offset syncs with offset-syncs.topic.location=target."""
    return f"mm2-offset-syncs.{source_alias}.internal"


@dataclass(frozen=True)
class FencedGroup:
    migration: Migration
    name: str
    topics: tuple[str, ...]


def fenced_groups(specs: Specs, group: str | None = None) -> list[FencedGroup]:
    """Groups in a fence window: `fence: true` and not yet `cutover: true`, of active migrations."""
    out = []
    for e in entries(specs):
        if (e.is_group and e.spec.fence and not e.spec.cutover and e.migration.model.status.value == "active"
                and (group is None or e.name == group)):
            out.append(FencedGroup(e.migration, e.name, tuple(e.topics())))
    return out


def entered_fence(groups: Iterable[FencedGroup], before: Mapping[str, str]) -> list[FencedGroup]:
    """Those of `groups` that an earlier rendered tree did not fence: the groups a change (a
    merge, a `ferry sandbox sync`) put into the fence window. `before` is that tree's routes in
    force (`preflight.routes_in_force`: rule entry -> "fence" or "target"). A tree without route
    files fenced nobody, so then every group entered; aligning one twice writes the same offsets."""
    return [g for g in groups if before.get(f"{KIND_LABEL['consumer_groups']} {g.name}") != "fence"]


def _record(message: object) -> Record:
    headers = message.headers() or ()  # type: ignore[attr-defined]
    return Record(message.offset(), message.key(), message.value(),  # type: ignore[attr-defined]
                  message.timestamp()[1], tuple((k, v) for k, v in headers))  # type: ignore[attr-defined]


class RecordReader:
    """Assign-only consumers (one per cluster, no group membership), read_uncommitted."""

    def __init__(self, connections: Connections):
        self.connections = connections
        self._consumers: dict[str, Consumer] = {}

    def consumer(self, cluster: str) -> Consumer:
        if cluster not in self._consumers:
            self._consumers[cluster] = Consumer({
                **self.connections.get(cluster).config, "group.id": f"ferry-align-{uuid.uuid4().hex}",
                "enable.auto.commit": False, "enable.partition.eof": True, "isolation.level": "read_uncommitted",
                "auto.offset.reset": "earliest", "log_level": 0,
            })
        return self._consumers[cluster]

    def close(self) -> None:
        for c in self._consumers.values():
            c.close()

    def read(self, cluster: str, topic: str, partition: int, start: int, high: int, *,
             until: Callable[[list[Record]], bool] = lambda records: False) -> tuple[list[Record], bool]:
        """Records of topic[partition] from `start` until `until(records)` or the end (`high`, or
        end of partition). Returns (records, reached the end)."""
        if start >= high:
            return [], True
        consumer = self.consumer(cluster)
        consumer.assign([TopicPartition(topic, partition, start)])
        records: list[Record] = []
        deadline = time.monotonic() + TIMEOUT
        try:
            while True:
                batch = consumer.consume(500, timeout=0.5)
                if batch:
                    deadline = time.monotonic() + TIMEOUT
                for message in batch:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            return records, True
                        raise ClusterConnectionError(
                            f"cluster {cluster!r}: reading {topic}[{partition}] failed: {error.str()}")
                    records.append(_record(message))
                    if message.offset() + 1 >= high:  # type: ignore[operator]
                        return records, True
                    if until(records):
                        return records, False
                if time.monotonic() > deadline:
                    raise ClusterConnectionError(
                        f"cluster {cluster!r} ({self.connections.get(cluster).bootstrap}): reading "
                        f"{topic}[{partition}] from offset {start} made no progress in {TIMEOUT:.0f}s")
        finally:
            consumer.unassign()

    def offset_for_time(self, cluster: str, topic: str, partition: int, timestamp: int, high: int) -> int:
        """The first offset whose timestamp is at or after `timestamp` (`high` when none)."""
        try:
            (tp,) = self.consumer(cluster).offsets_for_times([TopicPartition(topic, partition, timestamp)],
                                                             timeout=TIMEOUT)
        except KafkaException as exc:
            raise ClusterConnectionError(f"cluster {cluster!r}: offsets for times of {topic}[{partition}]: "
                                         f"{exc}") from exc
        return high if tp.offset < 0 else tp.offset

    def offset_syncs(self, cluster: str, source_alias: str, topics: set[str],
                     facts: TopicFacts | None) -> dict[tuple[str, int], list[OffsetSync]]:
        """Every offset sync kept on the target for `topics` (legacy names), by legacy partition."""
        out: dict[tuple[str, int], list[OffsetSync]] = defaultdict(list)
        if facts is None:
            return out
        for p in sorted(facts.high):
            records, _ = self.read(cluster, sync_topic(source_alias), p, facts.low[p], facts.high[p])
            for r in records:
                try:
                    sync = decode_offset_sync(r.key, r.value)
                except OffsetSyncFormatError:
                    continue
                if sync.topic in topics:
                    out[(sync.topic, sync.partition)].append(sync)
        return out


def partition_facts(
    rr: RecordReader, src: str, tgt: str, topic: str, new: str, p: int, committed: int | None,
    s: TopicFacts, t: TopicFacts, syncs: list[OffsetSync],
) -> PartitionFacts:
    base = PartitionFacts(topic, p, new, committed, s.low[p], s.high[p], t.low.get(p, 0), t.high.get(p, 0),
                          None, (), (), (), False)
    u = committed
    if u is None or u < base.legacy_low or u > base.legacy_high:
        return base
    sync = nearest_sync(syncs, u)
    # A sync whose records retention deleted on either side cannot be counted from.
    if sync is not None and (sync.upstream < base.legacy_low or sync.downstream < base.target_low):
        sync = None
    start = sync.upstream if sync is not None else u

    def enough(records: list[Record]) -> bool:
        return sum(r.offset >= u for r in records) > WINDOW

    legacy, _ = rr.read(src, topic, p, start, base.legacy_high, until=enough)
    at = first_at_or_after(legacy, u)
    if at is None and sync is None:  # U is legacy's end: the last records below it, for content
        back = max(base.legacy_low, u - TAIL_LOOKBACK)
        legacy, _ = rr.read(src, topic, p, back, u)
        if not legacy and back > base.legacy_low:
            legacy, _ = rr.read(src, topic, p, base.legacy_low, u)
    from_sync: list[Record] = []
    if sync is not None:
        n = copied_before(legacy, sync.upstream, u)
        from_sync, _ = rr.read(tgt, new, p, sync.downstream, base.target_high,
                               until=lambda records: len(records) > n)
    if at is None:  # the target's last records
        scanned, _ = rr.read(tgt, new, p, max(base.target_low, base.target_high - TAIL_LOOKBACK), base.target_high)
        return replace(base, sync=sync, legacy=tuple(legacy), from_sync=tuple(from_sync),
                       scanned=tuple(scanned[-(WINDOW + 1):]), scan_reached_end=True)
    first = legacy[at]
    lower = rr.offset_for_time(tgt, new, p, first.timestamp, base.target_high)
    n_sync = copied_before(legacy, sync.upstream, u) if sync is not None else 0
    bound = from_sync[n_sync].offset + WINDOW if sync is not None and len(from_sync) > n_sync else None

    def scanned_enough(records: list[Record]) -> bool:
        return records[-1].offset > bound if bound is not None else len(records) >= MAX_SCAN

    scanned, reached_end = rr.read(tgt, new, p, lower, base.target_high, until=scanned_enough)
    return replace(base, sync=sync, legacy=tuple(legacy), from_sync=tuple(from_sync), scanned=tuple(scanned),
                   scan_reached_end=reached_end)


def align_group(reader: Reader, rr: RecordReader, fg: FencedGroup) -> GroupAlignment:
    spec = fg.migration.model
    src, tgt = spec.source, spec.target
    legacy_group = reader.groups(src, [fg.name])[fg.name]
    on_target = fg.name in reader.group_ids(tgt)
    target_group = reader.groups(tgt, [fg.name])[fg.name] if on_target else None
    s_facts = reader.topics(src, fg.topics)
    renamed = {t: spec.renamed(t).to for t in fg.topics}
    t_facts = reader.topics(tgt, renamed.values())
    syncs_facts = reader.topics(tgt, [sync_topic(src)])[sync_topic(src)]
    syncs = rr.offset_syncs(tgt, src, set(fg.topics), syncs_facts)
    refused = []
    if legacy_group.members:
        refused.append(f"{legacy_group.members} member(s) still in the group on {src} (state {legacy_group.state}): "
                       "stop its legacy instances (the fence refuses restarted ones) and run again")
    if target_group is not None and target_group.members:
        refused.append(f"{target_group.members} member(s) already in the group on {tgt}: stop them until the "
                       "cutover and run again")
    results: list[PartitionAlignment] = []
    for topic in fg.topics:
        s, t = s_facts.get(topic), t_facts.get(renamed[topic])
        if s is None or t is None:
            missing = f"{topic!r} on {src}" if s is None else f"{renamed[topic]!r} on {tgt}"
            refused.append(f"{missing} does not exist" + ("" if s is None else ": is MirrorMaker 2 running?"))
            continue
        for p in sorted(s.high):
            facts = partition_facts(rr, src, tgt, topic, renamed[topic], p,
                                    legacy_group.committed.get((topic, p)), s, t, syncs.get((topic, p), []))
            results.append(align_partition(facts))
    return GroupAlignment(fg.migration.name, fg.name, src, tgt, tuple(results), "; ".join(refused))


def drain_topics(reader: Reader, rr: RecordReader, mig: Migration, topics: Iterable[str]) -> list[Drain]:
    """Per partition of `topics` (legacy names): is everything on legacy mirrored to the target?
    (The alignment of legacy's end offset, `align.drain_partition`.)"""
    spec = mig.model
    src, tgt = spec.source, spec.target
    wanted = sorted(set(topics) & set(spec.topics))
    renamed = {t: spec.renamed(t).to for t in wanted}
    s_facts = reader.topics(src, wanted)
    t_facts = reader.topics(tgt, renamed.values())
    syncs = rr.offset_syncs(tgt, src, set(wanted), reader.topics(tgt, [sync_topic(src)])[sync_topic(src)])
    out = []
    for topic in wanted:
        s, t = s_facts.get(topic), t_facts.get(renamed[topic])
        if s is None:
            continue  # the source-topic gate says so
        for p in sorted(s.high):
            if t is None:
                count = s.high[p] - s.low[p]
                out.append(Drain(topic, p, renamed[topic], s.high[p], 0, count, count == 0,
                                 f"{renamed[topic]!r} does not exist on {tgt} yet: is MirrorMaker 2 running?"))
                continue
            facts = partition_facts(rr, src, tgt, topic, renamed[topic], p, s.high[p], s, t,
                                    syncs.get((topic, p), []))
            out.append(drain_partition(facts))
    return out


def read_checkpoints(reader: Reader, rr: RecordReader, mig: Migration) -> list[Checkpoint]:
    """Every checkpoint MirrorMaker 2 kept for this migration's flow, in the topic's order."""
    src, tgt = mig.model.source, mig.model.target
    topic = checkpoints_topic(src)
    facts = reader.topics(tgt, [topic])[topic]
    out: list[Checkpoint] = []
    if facts is None:
        return out
    for p in sorted(facts.high):
        records, _ = rr.read(tgt, topic, p, facts.low[p], facts.high[p])
        for r in records:
            try:
                out.append(decode_checkpoint(r.key, r.value))
            except CheckpointFormatError:
                continue
    return out


def write_offsets(reader: Reader, alignment: GroupAlignment) -> GroupAlignment:
    """Write the aligned offsets to the target group, then read them back."""
    offsets = alignment.to_write()
    if not offsets:
        return replace(alignment, written=True, read_back={})
    admin = reader.admin(alignment.target)
    request = ConsumerGroupTopicPartitions(
        alignment.group, [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())])
    futures = admin.alter_consumer_group_offsets([request], request_timeout=TIMEOUT)
    result = reader._wait(alignment.target, futures[alignment.group], f"write offsets of group {alignment.group!r}")
    failed = [tp for tp in result.topic_partitions or [] if tp.error is not None]
    if failed:
        raise ClusterConnectionError(f"cluster {alignment.target!r}: writing offsets of group {alignment.group!r} "
                                     f"failed for {', '.join(f'{tp.topic}[{tp.partition}]' for tp in failed)}: "
                                     f"{failed[0].error}")
    back = reader.groups(alignment.target, [alignment.group])[alignment.group].committed
    read_back = {k: back[k] for k in offsets if k in back}
    if read_back != offsets:
        raise ClusterConnectionError(f"cluster {alignment.target!r}: group {alignment.group!r} reads back "
                                     f"{read_back}, not the {offsets} written; is something else committing?")
    return replace(alignment, written=True, read_back=read_back)


def run_align(connections: Connections, groups: Iterable[FencedGroup], dry_run: bool) -> list[GroupAlignment]:
    """`ferry cutover align` for `groups` (`fenced_groups`, maybe `entered_fence`): each aligned,
    and written unless refused or `dry_run`."""
    reader, rr = Reader(connections), RecordReader(connections)
    out = []
    try:
        for fg in groups:
            alignment = align_group(reader, rr, fg)
            if not alignment.refused and not dry_run:
                alignment = write_offsets(reader, alignment)
            out.append(alignment)
    finally:
        rr.close()
    return out


def in_transition(specs: Specs, groups: Iterable[str] = (), producers: Iterable[str] = ()) -> list[Entry]:
    """Groups and producers of active migrations that are fenced or cut over (the entries a
    cutover report covers); only the named ones when any is named."""
    named_groups, named_producers = set(groups), set(producers)
    out = []
    for e in entries(specs):
        if e.migration.model.status.value != "active" or not (e.spec.fence or e.spec.cutover):
            continue
        if (named_groups or named_producers) and e.name not in (named_groups if e.is_group else named_producers):
            continue
        out.append(e)
    return out


def gather_report(
    specs: Specs, connections: Connections, selected: list[Entry],
) -> tuple[list[GroupEvidence], list[ProducerEvidence]]:
    """Read what `ferry cutover report` shows for `selected` (nothing is written)."""
    reader, rr = Reader(connections), RecordReader(connections)
    groups: list[GroupEvidence] = []
    producers: list[ProducerEvidence] = []
    try:
        by_migration: dict[str, list[Entry]] = defaultdict(list)
        for e in selected:
            by_migration[e.migration.name].append(e)
        for chosen in by_migration.values():
            mig = chosen[0].migration
            tgt = mig.model.target
            topics = sorted({t for e in chosen for t in e.topics()})
            drains = {(d.topic, d.partition): d for d in drain_topics(reader, rr, mig, topics)}
            checkpoints = read_checkpoints(reader, rr, mig)
            present = set(reader.group_ids(tgt))
            for e in chosen:
                if e.is_group:
                    alignment = align_group(reader, rr, FencedGroup(mig, e.name, tuple(e.topics())))
                    committed = reader.groups(tgt, [e.name])[e.name].committed if e.name in present else {}
                    groups.append(GroupEvidence(alignment, committed, latest(checkpoints, e.name), drains))
                else:
                    producers.append(ProducerEvidence(
                        mig.name, e.name, [d for (t, _), d in sorted(drains.items()) if t in e.topics()]))
    finally:
        rr.close()
    return groups, producers


def run_report(
    specs: Specs, connections: Connections, rendered: Path, logs: Sequence[Path],
    groups: Iterable[str] = (), producers: Iterable[str] = (), now: float | None = None,
) -> dict[str, Any]:
    """`ferry cutover report`'s data: the clusters read now, the decision logs read through
    `status.py` (who was still seen on legacy)."""
    opened = [p.open(encoding="utf-8", errors="replace") for p in logs]
    try:
        records = itertools.chain.from_iterable(read_decision_log(fh, source=i) for i, fh in enumerate(opened))
        rows, unmatched = build_status(specs, committed_tables(rendered), records, now)
    finally:
        for fh in opened:
            fh.close()
    selected = in_transition(specs, groups, producers)
    group_ev, producer_ev = gather_report(specs, connections, selected)
    return build_report(group_ev, producer_ev, rows, unmatched, time.time() if now is None else now)


def write_report(report: dict[str, Any], state_dir: Path) -> tuple[Path, Path]:
    """Both forms into `<state_dir>/reports/` (the run's state folder), named by the time."""
    folder = state_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"cutover-{report['generated_at'].replace(':', '')}"
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(format_markdown(report), encoding="utf-8")
    return json_path, md_path
