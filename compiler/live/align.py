"""Exact alignment of a fenced consumer group (`ferry cutover align`): the pure core.

A fenced group is stopped on legacy at committed offset U (per partition) and nobody consumes it
on the target. The target offset T that corresponds *exactly* to U on the renamed topic is the
target offset of MirrorMaker 2's copy of the first legacy record at or after U that MM2 copies.

What MM2 copies: its source consumer reads with Kafka's default isolation level,
read_uncommitted (Kafka 4.3.1's `MirrorSourceConfig.sourceConsumerConfig` sets none, and Ferry
renders no `consumer.isolation.level`), so it copies every data record, aborted transactions
included, and never a transaction marker; offsets a compaction removed before the copy are not
copied either. Legacy offsets and target offsets therefore do not line up one to one, and a
record's copy keeps its key, value, timestamp and headers. A consumer reading legacy with
read_uncommitted sees exactly the records MM2 copies, in the same order: `Record`s here are
what such a consumer delivered.

Two anchors, cross-checked (either alone when the other is not available):

* sync: the offset sync (u_s, d_s) nearest below U (MM2 writes one per copied record it chooses:
  legacy offset u_s was copied to target offset d_s). Counting the copied legacy records in
  [u_s, U) gives n; T is the offset of the n-th target record read from d_s (0-based), and
  that record must carry the content of the first copied record at or after U.
* content: that legacy record and the next few (a window, to tell identical payloads apart) are
  looked for on the target from the first target offset whose timestamp is at or after the
  first record's (`offsets_for_times`; MM2 keeps timestamps, so the copy is not before it).

When nothing is left to read on legacy from U (the end, or only transaction markers), T is
the target's end offset, provided the copy of legacy's last copied record below U is the
target's last record (the mirror is drained up to U).

Everything here is a function of data already read (`compiler/live/cutover.py` reads it).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..errors import CompilerError

#: Records compared after the first one, to tell identical payloads apart.
WINDOW = 5

Header = tuple[str, bytes | None]


@dataclass(frozen=True)
class Record:
    """A data record as a read_uncommitted consumer delivers it."""

    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: tuple[Header, ...] = ()

    def content(self) -> tuple[bytes | None, bytes | None, int, tuple[Header, ...]]:
        return (self.key, self.value, self.timestamp, self.headers)


@dataclass(frozen=True)
class OffsetSync:
    """MM2's record of one copy: legacy `topic`[`partition`] offset `upstream` -> target `downstream`."""

    topic: str
    partition: int
    upstream: int
    downstream: int


class OffsetSyncFormatError(CompilerError, ValueError):
    """A record of the offset-sync topic that is not MM2's OffsetSync format."""


def decode_offset_sync(key: bytes | None, value: bytes | None) -> OffsetSync:
    """MM2's `OffsetSync` (Kafka 4.3.1, connect/mirror): key = Struct(topic STRING,
    partition INT32), value = Struct(upstreamOffset INT64, offset INT64), big-endian, a STRING
    being an INT16 length and UTF-8 bytes."""
    if key is None or value is None or len(key) < 2 or len(value) != 16:
        raise OffsetSyncFormatError(f"not an offset sync: key {key!r}, value {value!r}")
    (length,) = struct.unpack_from(">h", key, 0)
    if length < 0 or len(key) != 2 + length + 4:
        raise OffsetSyncFormatError(f"not an offset sync key: {key!r}")
    try:
        topic = key[2 : 2 + length].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OffsetSyncFormatError(f"offset sync topic is not UTF-8: {key!r}") from exc
    (partition,) = struct.unpack_from(">i", key, 2 + length)
    upstream, downstream = struct.unpack(">qq", value)
    return OffsetSync(topic, partition, upstream, downstream)


def encode_offset_sync(sync: OffsetSync) -> tuple[bytes, bytes]:
    """The inverse of `decode_offset_sync` (for tests and for symmetry)."""
    topic = sync.topic.encode("utf-8")
    return (struct.pack(">h", len(topic)) + topic + struct.pack(">i", sync.partition),
            struct.pack(">qq", sync.upstream, sync.downstream))


def nearest_sync(syncs: Iterable[OffsetSync], committed: int) -> OffsetSync | None:
    """Of the syncs at or below `committed`, the one written last: the largest target offset
    (target offsets grow with write time). Without a re-copy that is also the largest legacy
    offset. After a crash MM2 copies again from its last committed position r and writes a sync
    for its first copy (r -> d, d past every earlier copy): an older sync between r and
    `committed` would count from the first copies, and a consumer starting there would get the
    records from r again when it reaches the second ones; counting from the run that copied last
    avoids that (the earlier copies then make the content anchor ambiguous: refused)."""
    best: OffsetSync | None = None
    for sync in syncs:
        if sync.upstream <= committed and (best is None or sync.downstream >= best.downstream):
            best = sync
    return best


def copied_before(records: Sequence[Record], start: int, committed: int) -> int:
    """How many of `records` (legacy, ascending offsets) lie in [start, committed)."""
    return sum(1 for r in records if start <= r.offset < committed)


def first_at_or_after(records: Sequence[Record], committed: int) -> int | None:
    """Index of the first record at or after `committed`, None when there is none."""
    for i, r in enumerate(records):
        if r.offset >= committed:
            return i
    return None


def window_matches(window: Sequence[Record], target: Sequence[Record], *, reached_end: bool) -> list[int]:
    """Target offsets where `window` (legacy records, by content) starts in `target`. A match
    that runs into the end of `target` counts only when `target` reaches the topic's end (the
    mirror has not copied the rest yet)."""
    want = [r.content() for r in window]
    out = []
    for i in range(len(target)):
        got = [r.content() for r in target[i : i + len(want)]]
        if got == want or (reached_end and got and got == want[: len(got)]):
            out.append(target[i].offset)
    return out


Status = Literal["aligned", "refused", "no-commit"]


@dataclass(frozen=True)
class PartitionFacts:
    """What was read for one partition of a fenced group."""

    topic: str
    partition: int
    target_topic: str
    committed: int | None  # U on legacy; None: the group never committed here
    legacy_low: int
    legacy_high: int
    target_low: int
    target_high: int
    sync: OffsetSync | None  # the nearest sync at or below U
    #: legacy records from min(sync.upstream, U) (or the last few below U at the end) up to
    #: WINDOW + 1 records at or after U
    legacy: tuple[Record, ...]
    #: target records from sync.downstream (enough to step over the copies of `legacy`)
    from_sync: tuple[Record, ...]
    #: target records from the first offset timestamped at or after the first record at or
    #: after U (or the last records of the target, at the end)
    scanned: tuple[Record, ...]
    scan_reached_end: bool


@dataclass(frozen=True)
class PartitionAlignment:
    topic: str
    partition: int
    target_topic: str
    status: Status
    legacy_offset: int | None
    target_offset: int | None  # the exact T (aligned only)
    by_sync: int | None
    by_content: int | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _result(f: PartitionFacts, status: Status, detail: str, *, t: int | None = None,
            by_sync: int | None = None, by_content: int | None = None) -> PartitionAlignment:
    return PartitionAlignment(f.topic, f.partition, f.target_topic, status, f.committed, t, by_sync, by_content,
                              detail)


def _choice_cost(a: int, b: int) -> str:
    lo, hi = sorted((a, b))
    return (f"starting at {lo} would re-read up to {hi - lo} record(s), at {hi} skip up to {hi - lo}")


def align_partition(f: PartitionFacts) -> PartitionAlignment:
    u = f.committed
    if u is None:
        return _result(f, "no-commit", "never committed on legacy: left unset on the target (the group starts "
                       "there by its auto.offset.reset, as it would on legacy)")
    if u < f.legacy_low:
        return _result(f, "refused", f"legacy offset {u} is below legacy's first offset {f.legacy_low}: retention "
                       f"deleted the records the group had not read, so they are on neither side to match; the nearest "
                       f"safe choice, the copy of legacy offset {f.legacy_low}, skips the {f.legacy_low - u} offset(s) "
                       "retention deleted")
    if u > f.legacy_high:
        return _result(f, "refused", f"legacy offset {u} is past legacy's end {f.legacy_high}: was the topic "
                       "recreated? nothing to align to")
    at = first_at_or_after(f.legacy, u)
    if at is None:
        return _align_at_end(f, u)
    return _align_mid(f, u, at)


def _align_mid(f: PartitionFacts, u: int, at: int) -> PartitionAlignment:
    first = f.legacy[at]
    window = f.legacy[at : at + 1 + WINDOW]
    by_sync: int | None = None
    sync_problem = ""
    if f.sync is not None:
        n = copied_before(f.legacy, f.sync.upstream, u)
        if n >= len(f.from_sync):
            copied = len(f.from_sync)
            sync_problem = (f"the mirror is not past legacy offset {u} yet: {n + 1} copied record(s) from the sync at "
                            f"legacy {f.sync.upstream} are needed, the target has {copied}; wait for MirrorMaker 2")
        elif f.from_sync[n].content() != first.content():
            by_sync = f.from_sync[n].offset
            sync_problem = (f"target offset {by_sync} (counted from the sync {f.sync.upstream}->{f.sync.downstream}) "
                            f"does not hold legacy offset {first.offset}'s record")
        else:
            by_sync = f.from_sync[n].offset
    matches = window_matches(window, f.scanned, reached_end=f.scan_reached_end)
    if by_sync is not None and not sync_problem:
        # Only matches up to the sync's answer matter: an identical window before it is ambiguous.
        matches = [m for m in matches if m <= by_sync]
    by_content = matches[0] if matches else None
    if not matches:
        if by_sync is None and sync_problem.startswith("the mirror is not past"):
            return _result(f, "refused", sync_problem)
        if f.scan_reached_end and (f.sync is None or by_sync is None):
            return _result(f, "refused", f"legacy offset {first.offset}'s record is not on the target yet: the "
                           f"mirror is not past legacy offset {u}; wait for MirrorMaker 2"
                           + (f" ({sync_problem})" if sync_problem else ""), by_sync=by_sync)
        return _result(f, "refused", f"legacy offset {first.offset}'s record was not found on the target by content "
                       f"(scanned {len(f.scanned)} record(s))" + (f"; {sync_problem}" if sync_problem else ""),
                       by_sync=by_sync)
    if len(matches) > 1:
        return _result(f, "refused", f"ambiguous: legacy offset {first.offset} and the {len(window) - 1} record(s) "
                       f"after it match the target at offsets {', '.join(map(str, matches[:5]))}; "
                       + _choice_cost(matches[0], matches[-1]), by_sync=by_sync, by_content=by_content)
    if f.sync is None:
        return _result(f, "aligned", f"legacy offset {first.offset} found by content (no offset sync at or below "
                       f"{u}: older than the syncs MirrorMaker 2 keeps)", t=by_content, by_content=by_content)
    if by_sync != by_content:
        assert by_content is not None
        other = by_sync if by_sync is not None else by_content
        return _result(f, "refused", f"anchors disagree: {sync_problem or f'the sync says {by_sync}'}, content says "
                       f"{by_content}; " + _choice_cost(by_content, other), by_sync=by_sync, by_content=by_content)
    return _result(f, "aligned", f"legacy offset {first.offset}; sync and content agree", t=by_sync,
                   by_sync=by_sync, by_content=by_content)


def _align_at_end(f: PartitionFacts, u: int) -> PartitionAlignment:
    """Nothing at or after U on legacy: T is the target's end once the mirror holds everything below U."""
    before = [r for r in f.legacy if r.offset < u]
    if not before:
        return _result(f, "aligned", f"legacy has no record to copy below {u}: the target's end", t=f.target_high,
                       by_content=f.target_high)
    by_sync: int | None = None
    if f.sync is not None:
        n = copied_before(f.legacy, f.sync.upstream, u)
        copied = len(f.from_sync)
        if copied < n:
            return _result(f, "refused", f"not drained: the mirror has copied {copied} of the {n} record(s) from the "
                           f"sync at legacy {f.sync.upstream} to legacy's end; wait for MirrorMaker 2")
        if copied > n:
            extra = copied - n
            return _result(f, "refused", f"the target holds {extra} record(s) after the copy of legacy's last record "
                           "(copied twice, or written directly); the target's end would skip them, the copy's "
                           f"next offset {f.from_sync[n].offset} would re-read {extra}")
        by_sync = f.target_high
    tail = before[-(WINDOW + 1):]
    if [r.content() for r in f.scanned[-len(tail):]] != [r.content() for r in tail]:
        return _result(f, "refused", f"not drained: the target's last record(s) are not the copies of legacy's last "
                       f"record(s) below {u} (legacy offset {tail[-1].offset}); wait for MirrorMaker 2 (or the "
                       "target holds records written otherwise)", by_sync=by_sync)
    detail = "legacy's end, mirror drained: the target's end" + ("" if f.sync is not None else " (by content only)")
    return _result(f, "aligned", detail, t=f.target_high, by_sync=by_sync, by_content=f.target_high)


@dataclass(frozen=True)
class Exactness:
    """A target group's committed offset against the exact one, for one partition. Counts are
    target offsets, one per record: MirrorMaker 2 writes the renamed topic without transactions,
    so its offsets have no markers between them."""

    topic: str
    partition: int
    target_topic: str
    exact: int | None  # None: align refused (no exact offset known) or never committed on legacy
    current: int | None  # the target group's committed offset now; None: unset
    re_read: int
    skipped: int
    ok: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def exactness(p: PartitionAlignment, current: int | None) -> Exactness:
    """Whether a consumer starting at `current` on the target gets exactly what legacy would
    have given it from the group's committed offset (what `align_partition` computed)."""
    def result(ok: bool, reason: str, re_read: int = 0, skipped: int = 0) -> Exactness:
        return Exactness(p.topic, p.partition, p.target_topic, p.target_offset, current, re_read, skipped, ok, reason)

    if p.status == "no-commit":
        if current is None:
            return result(True, "never committed on legacy, unset on the target")
        return result(False, f"never committed on legacy, but the target group has offset {current}: it would start "
                      "there instead of by its auto.offset.reset")
    if p.status == "refused" or p.target_offset is None:
        return result(False, f"no exact offset: {p.detail}")
    t = p.target_offset
    if current is None:
        return result(False, f"no offset on the target (exact: {t}): the group would start by its auto.offset.reset")
    if current < t:
        return result(False, f"at {current}, exact {t}: re-reads {t - current} record(s)", re_read=t - current)
    if current > t:
        return result(False, f"at {current}, exact {t}: skips {current - t} record(s)", skipped=current - t)
    return result(True, f"at {t}: exact (0 re-read, 0 skipped)")


@dataclass(frozen=True)
class Drain:
    """Whether everything on a legacy partition is on the target (a fenced producer's switch)."""

    topic: str
    partition: int
    target_topic: str
    legacy_end: int
    target_end: int
    #: records on legacy not yet copied; None when it cannot be counted (no offset sync kept)
    not_mirrored: int | None
    drained: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def drain_partition(f: PartitionFacts) -> Drain:
    """`f` read for U = legacy's end offset: drained exactly when the alignment of legacy's end
    is the target's end (the copy of legacy's last record is the target's last record), so a
    record written to the target directly comes after every mirrored one."""
    assert f.committed == f.legacy_high, "drain facts are read at legacy's end"
    a = align_partition(f)
    if a.status == "aligned":
        return Drain(f.topic, f.partition, f.target_topic, f.legacy_high, f.target_high, 0, True,
                     "every legacy record is on the target")
    behind: int | None = None
    if f.sync is not None:
        behind = max(copied_before(f.legacy, f.sync.upstream, f.legacy_high) - len(f.from_sync), 0)
    else:  # positions from each side's first offset: exact unless legacy has gaps (markers, compaction)
        estimate = (f.legacy_high - f.legacy_low) - (f.target_high - f.target_low)
        if estimate > 0:
            return Drain(f.topic, f.partition, f.target_topic, f.legacy_high, f.target_high, None, False,
                         f"about {estimate} record(s) not mirrored yet (no offset sync to count from): {a.detail}")
    return Drain(f.topic, f.partition, f.target_topic, f.legacy_high, f.target_high, behind, False, a.detail)


@dataclass(frozen=True)
class GroupAlignment:
    migration: str
    group: str
    source: str
    target: str
    partitions: tuple[PartitionAlignment, ...]
    refused_group: str = ""  # a reason that refuses the whole group (members still active)
    written: bool = False
    read_back: dict[tuple[str, int], int] | None = None

    @property
    def refused(self) -> bool:
        return bool(self.refused_group) or any(p.status == "refused" for p in self.partitions)

    def refusals(self) -> list[str]:
        """Why nothing was written: the group's reason, or each refused partition's."""
        if self.refused_group:
            return [self.refused_group]
        return [f"{p.topic}[{p.partition}]: {p.detail}" for p in self.partitions if p.status == "refused"]

    def to_write(self) -> dict[tuple[str, int], int]:
        return {(p.target_topic, p.partition): p.target_offset for p in self.partitions
                if p.status == "aligned" and p.target_offset is not None}

    def as_dict(self) -> dict[str, Any]:
        back = None if self.read_back is None else [
            {"topic": t, "partition": p, "offset": o} for (t, p), o in sorted(self.read_back.items())]
        return {"migration": self.migration, "group": self.group, "source": self.source, "target": self.target,
                "status": "refused" if self.refused else "aligned", "refused": self.refused_group or None,
                "written": self.written, "read_back": back, "partitions": [p.as_dict() for p in self.partitions]}


def _cell(v: int | None) -> str:
    return "-" if v is None else str(v)


def format_alignment(groups: Sequence[GroupAlignment], dry_run: bool) -> str:
    if not groups:
        return "no fenced group (fence: true, not cut over) selected: nothing to align\n"
    header = ("GROUP", "TOPIC", "P", "LEGACY", "TARGET", "BY SYNC", "BY CONTENT", "STATUS", "DETAIL")
    rows: list[tuple[str, ...]] = []
    for g in groups:
        for p in g.partitions:
            status = "REFUSED" if g.refused_group else p.status.upper()
            rows.append((g.group, f"{p.topic}->{p.target_topic}", str(p.partition), _cell(p.legacy_offset),
                         _cell(p.target_offset), _cell(p.by_sync), _cell(p.by_content), status,
                         g.refused_group or p.detail))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:-1])) + "  " + r[-1] for r in [header, *rows]]
    lines.append("")
    for g in groups:
        if g.refused:
            lines.append(f"{g.group}: refused, nothing written" + (f" ({g.refused_group})" if g.refused_group else "")
                         + f"; once that is resolved, run `ferry cutover align --group {g.group}` again")
        elif dry_run:
            lines.append(f"{g.group}: would write {len(g.to_write())} offset(s) to {g.target} (dry run)")
        else:
            lines.append(f"{g.group}: wrote {len(g.to_write())} offset(s) to {g.target}, read back equal")
    return "\n".join(lines) + "\n"
