"""The pure core of `ferry cutover align`: OffsetSync decoding and the exact target offset,
with gaps anywhere on legacy (compaction, transaction markers) and identical payloads."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.live.align import (
    WINDOW,
    OffsetSync,
    OffsetSyncFormatError,
    PartitionFacts,
    Record,
    align_partition,
    decode_offset_sync,
    encode_offset_sync,
    nearest_sync,
)


def test_offset_sync_format_is_mm2s_struct() -> None:
    # Key: INT16 length, "orders", INT32 partition 3; value: INT64 upstream 42, INT64 offset 7.
    key = b"\x00\x06orders\x00\x00\x00\x03"
    value = (42).to_bytes(8, "big") + (7).to_bytes(8, "big")
    assert decode_offset_sync(key, value) == OffsetSync("orders", 3, 42, 7)
    assert encode_offset_sync(OffsetSync("orders", 3, 42, 7)) == (key, value)
    for bad_key, bad_value in [(b"\x00\x09orders\x00\x00\x00\x03", value), (key, value[:8]), (None, value)]:
        with pytest.raises(OffsetSyncFormatError):
            decode_offset_sync(bad_key, bad_value)


def test_nearest_sync_prefers_the_last_written_copy() -> None:
    syncs = [OffsetSync("t", 0, 0, 0), OffsetSync("t", 0, 10, 8), OffsetSync("t", 0, 10, 30),
             OffsetSync("t", 0, 20, 40)]
    assert nearest_sync(syncs, 15) == OffsetSync("t", 0, 10, 30)
    assert nearest_sync(syncs, 20) == OffsetSync("t", 0, 20, 40)
    assert nearest_sync(syncs[1:], 5) is None
    # After a crash MM2 copies 2518.. again (the sync for its first copy, 2518 -> 2589, written last): an
    # older sync above 2518 would count from the first copies.
    crashed = [OffsetSync("t", 0, 0, 0), OffsetSync("t", 0, 2540, 2540), OffsetSync("t", 0, 2518, 2589)]
    assert nearest_sync(crashed, 2553) == OffsetSync("t", 0, 2518, 2589)
    assert nearest_sync(crashed, 2530) == OffsetSync("t", 0, 2518, 2589)
    assert nearest_sync(crashed, 2500) == OffsetSync("t", 0, 0, 0)


def _facts(legacy: list[Record], target: list[Record], u: int, high: int, sync: OffsetSync | None) -> PartitionFacts:
    """What cutover.py would read: legacy from the sync (or U), target from the sync and from
    the first target record at or after the first legacy record's timestamp."""
    start = sync.upstream if sync else u
    legacy_read = [r for r in legacy if r.offset >= start]
    from_sync = [r for r in target if sync and r.offset >= sync.downstream]
    after = [r for r in legacy if r.offset >= u]
    if after:
        scanned = [r for r in target if r.timestamp >= after[0].timestamp]
        scanned = target[target.index(scanned[0]):] if scanned else []
    else:
        scanned = target[-(WINDOW + 1):]
        if not sync:
            legacy_read = [r for r in legacy if r.offset < u] + legacy_read
    t_high = target[-1].offset + 1 if target else 0
    return PartitionFacts("t", 0, "t.v1", u, legacy[0].offset if legacy else high, high, 0, t_high, sync,
                          tuple(legacy_read), tuple(from_sync), tuple(scanned), True)


@st.composite
def partitions(draw: st.DrawFn) -> tuple[list[Record], list[Record], int, int, OffsetSync | None, int]:
    """A legacy partition with gaps anywhere, its exact copy on the target, a committed offset
    U, maybe a sync at or below it, and the expected T."""
    high = draw(st.integers(1, 60))
    kept = sorted(draw(st.sets(st.integers(0, high - 1), min_size=1)))
    values = draw(st.lists(st.sampled_from([b"a", b"b"]), min_size=len(kept), max_size=len(kept)))
    legacy = [Record(o, b"k", v, 1000 + o // 3) for o, v in zip(kept, values, strict=True)]
    target = [Record(i, r.key, r.value, r.timestamp) for i, r in enumerate(legacy)]
    u = draw(st.integers(kept[0], high))
    below = [i for i, r in enumerate(legacy) if r.offset <= u]
    sync = None
    use_sync: bool = draw(st.booleans())
    if below and use_sync:
        i = draw(st.sampled_from(below))
        sync = OffsetSync("t", 0, legacy[i].offset, i)
    expected = next((i for i, r in enumerate(legacy) if r.offset >= u), len(target))
    return legacy, target, u, high, sync, expected


@settings(max_examples=400, deadline=None)
@given(partitions())
def test_aligned_offset_is_the_copy_of_the_first_record_at_or_after_u(case: Any) -> None:
    legacy, target, u, high, sync, expected = case
    result = align_partition(_facts(legacy, target, u, high, sync))
    if result.status == "aligned":
        assert result.target_offset == expected, result
    else:
        # Only identical payloads with identical timestamps can make it ambiguous, never wrong.
        assert "ambiguous" in result.detail, result


def test_gaps_shift_nothing_sync_and_content_agree() -> None:
    # Legacy 0..9 with 3, 4 compacted away and 7 a transaction marker: copies at 0..6.
    kept = [0, 1, 2, 5, 6, 8, 9]
    legacy = [Record(o, f"k{o}".encode(), b"v", 100 + o) for o in kept]
    target = [Record(i, r.key, r.value, r.timestamp) for i, r in enumerate(legacy)]
    r = align_partition(_facts(legacy, target, 4, 10, OffsetSync("t", 0, 1, 1)))
    assert (r.status, r.target_offset, r.by_sync, r.by_content) == ("aligned", 3, 3, 3)
    r = align_partition(_facts(legacy, target, 7, 10, OffsetSync("t", 0, 5, 3)))
    assert (r.status, r.target_offset) == ("aligned", 5)
    # At legacy's end, drained: the target's end; not drained: refused.
    assert align_partition(_facts(legacy, target, 10, 10, OffsetSync("t", 0, 8, 5))).target_offset == 7
    r = align_partition(_facts(legacy, target[:-1], 10, 10, OffsetSync("t", 0, 8, 5)))
    assert r.status == "refused" and "not drained" in r.detail


def test_refusals_say_why_and_what_the_nearest_choice_costs() -> None:
    legacy = [Record(o, b"k", f"v{o}".encode(), 100 + o) for o in range(5, 10)]
    target = [Record(i, r.key, r.value, r.timestamp) for i, r in enumerate(legacy)]
    r = align_partition(_facts(legacy, target, 2, 10, None))
    assert r.status == "refused" and "retention deleted" in r.detail and "skips the 3 offset(s)" in r.detail
    r = align_partition(_facts(legacy, target[:2], 8, 10, OffsetSync("t", 0, 5, 0)))
    assert r.status == "refused" and "mirror is not past legacy offset 8" in r.detail
    # The target holds an extra copy (MM2 redelivered after a crash): the sync's count disagrees.
    doubled = target[:2] + [Record(2 + i, r.key, r.value, r.timestamp) for i, r in enumerate(target[1:])]
    r = align_partition(_facts(legacy, doubled, 8, 10, OffsetSync("t", 0, 5, 0)))
    assert r.status == "refused" and "re-read up to" in r.detail
    never = PartitionFacts("t", 1, "t.v1", None, 0, 10, 0, 10, None, (), (), (), False)
    assert align_partition(never).status == "no-commit"
