"""The pure cores behind `ferry preflight`'s exact gates and `ferry cutover report`:
exactness against the aligned offset, a partition's drain, MM2's checkpoint format, the gates'
verdicts, and the report's Markdown."""

from __future__ import annotations

import pytest

from compiler.live.align import (
    GroupAlignment,
    OffsetSync,
    PartitionAlignment,
    PartitionFacts,
    Record,
    drain_partition,
    exactness,
)
from compiler.live.checkpoints import Checkpoint, CheckpointFormatError, decode_checkpoint, encode_checkpoint, latest
from compiler.live.facts import GroupFacts
from compiler.live.gates import drained_gate, exact_offset_gate
from compiler.live.report import GroupEvidence, ProducerEvidence, build_report, format_markdown


def aligned(p: int, legacy: int, target: int) -> PartitionAlignment:
    return PartitionAlignment("t", p, "t.v1", "aligned", legacy, target, target, target, "sync and content agree")


def test_exactness_counts_re_read_and_skipped_records() -> None:
    a = aligned(0, 40, 37)
    assert exactness(a, 37).ok and exactness(a, 37).reason == "at 37: exact (0 re-read, 0 skipped)"
    x = exactness(a, 30)
    assert (x.ok, x.re_read, x.skipped, x.reason) == (False, 7, 0, "at 30, exact 37: re-reads 7 record(s)")
    x = exactness(a, 39)
    assert (x.ok, x.re_read, x.skipped) == (False, 0, 2)
    assert not exactness(a, None).ok and "auto.offset.reset" in exactness(a, None).reason
    never = PartitionAlignment("t", 1, "t.v1", "no-commit", None, None, None, None, "never committed")
    assert exactness(never, None).ok and not exactness(never, 5).ok
    refused = PartitionAlignment("t", 2, "t.v1", "refused", 9, None, None, None, "the mirror is not past 9")
    assert exactness(refused, 9).reason == "no exact offset: the mirror is not past 9"


def _drain_facts(legacy: list[Record], target: list[Record], sync: OffsetSync | None) -> PartitionFacts:
    """As cutover.partition_facts reads for U = legacy's end."""
    high = legacy[-1].offset + 1
    legacy_read = [r for r in legacy if sync is None or r.offset >= sync.upstream]
    from_sync = [r for r in target if sync is not None and r.offset >= sync.downstream]
    return PartitionFacts("t", 0, "t.v1", high, legacy[0].offset, high, 0, len(target), sync,
                          tuple(legacy_read), tuple(from_sync), tuple(target[-6:]), True)


def test_drain_counts_what_is_not_mirrored_from_the_nearest_sync() -> None:
    # Legacy 0..29 with a transaction marker at 10 (not copied): 29 copies, target 0..28.
    legacy = [Record(o, b"k", f"v{o}".encode(), 100 + o) for o in range(30) if o != 10]
    target = [Record(i, r.key, r.value, r.timestamp) for i, r in enumerate(legacy)]
    sync = OffsetSync("t", 0, 5, 5)
    d = drain_partition(_drain_facts(legacy, target, sync))
    assert (d.drained, d.not_mirrored, d.legacy_end, d.target_end) == (True, 0, 30, 29)
    d = drain_partition(_drain_facts(legacy, target[:20], sync))
    assert (d.drained, d.not_mirrored) == (False, 9) and "not drained" in d.detail
    # Without a sync: an estimate from the watermarks, said to be one.
    d = drain_partition(_drain_facts(legacy, target[:20], None))
    assert (d.drained, d.not_mirrored) == (False, None) and d.detail.startswith("about 10 record(s)")


def test_checkpoint_codec_round_trips_and_refuses_other_bytes() -> None:
    cp = Checkpoint("billing-ledger", "billing.invoice.created.v1", 3, 42, 40, "")
    key, value = encode_checkpoint(cp)
    assert decode_checkpoint(key, value) == cp
    # Field by field (MM2 4.3.1's Checkpoint): version 0, upstream 42, downstream 40, empty metadata.
    assert value == b"\x00\x00" + (42).to_bytes(8, "big") + (40).to_bytes(8, "big") + b"\x00\x00"
    for bad_key, bad_value in ((key, value[:-1]), (key[:-1], value), (key, b"\x00\x01" + value[2:]), (None, value)):
        with pytest.raises(CheckpointFormatError):
            decode_checkpoint(bad_key, bad_value)
    later = Checkpoint("billing-ledger", "billing.invoice.created.v1", 3, 50, 48)
    other = Checkpoint("other", "billing.invoice.created.v1", 3, 1, 1)
    assert latest([cp, other, later], "billing-ledger") == {("billing.invoice.created.v1", 3): later}


def _group(*parts: PartitionAlignment, refused: str = "") -> GroupAlignment:
    return GroupAlignment("shop/orders", "ledger", "legacy", "governed", parts, refused)


def test_exact_gate_names_each_partition_and_the_fix() -> None:
    g = _group(aligned(0, 40, 37), aligned(1, 8, 8))
    status, detail = exact_offset_gate(g, GroupFacts("Empty", 0, {("t.v1", 0): 30, ("t.v1", 1): 8}))
    assert status == "fail"
    assert detail == ("not exact: t.v1[0] at 30, exact 37: re-reads 7 record(s); run `ferry cutover align "
                      "--group ledger`, then preflight again")
    assert exact_offset_gate(g, GroupFacts("Empty", 0, {("t.v1", 0): 37, ("t.v1", 1): 8})) == (
        "ok", "exact on 2 partition(s): 0 re-read, 0 skipped")
    status, detail = exact_offset_gate(_group(aligned(0, 1, 1), refused="1 member(s) still in the group"), None)
    assert (status, detail) == ("fail", "cannot be exact: 1 member(s) still in the group")


def test_drained_gate_sums_and_lists_partitions() -> None:
    legacy = [Record(o, b"k", f"v{o}".encode(), 100 + o) for o in range(10)]
    target = [Record(i, r.key, r.value, r.timestamp) for i, r in enumerate(legacy)]
    done = drain_partition(_drain_facts(legacy, target, OffsetSync("t", 0, 0, 0)))
    behind = drain_partition(_drain_facts(legacy, target[:6], OffsetSync("t", 0, 0, 0)))
    assert drained_gate("api", [done]) == ("ok", "every legacy record mirrored on 1 partition(s)")
    status, detail = drained_gate("api", [done, behind])
    assert status == "fail" and detail.startswith("4 record(s) on legacy not yet on the target: t[0]: 4 record(s)")
    assert "keep producer 'api' fenced" in detail


def test_report_markdown_is_one_table_per_entry_without_stray_pipes() -> None:
    g = _group(aligned(0, 40, 37))
    ev = GroupEvidence(g, {("t.v1", 0): 30}, {("t.v1", 0): Checkpoint("ledger", "t.v1", 0, 40, 30)}, {})
    legacy = [Record(o, b"k", b"v", 100 + o) for o in range(4)]
    drain = drain_partition(_drain_facts(legacy, [Record(i, b"k", b"v", 100 + i) for i in range(4)], None))
    report = build_report([ev], [ProducerEvidence("shop/orders", "api", [drain])], [], {}, 0.0)
    (row,) = report["groups"][0]["partitions"]
    assert (row["mm2_translated"], row["mm2_translated_from"], row["re_read"], row["mm2_re_read"]) == (30, 40, 7, 7)
    md = format_markdown(report)
    assert md.startswith("## Ferry cutover report (1970-01-01T00:00:00Z)\n")
    assert "### Consumer group `ledger` (shop/orders, legacy → governed): not exact: 7 re-read, 0 skipped" in md
    assert "| t → t.v1 | 0 | 40 | 30 | 30 | 37 | 7 | 0 | - | at 30, exact 37: re-reads 7 record(s) |" in md
    assert "### Producer `api` (shop/orders): drained: every legacy record mirrored" in md
    assert "| t → t.v1 | 0 | 4 | 4 | 0 | every legacy record is on the target |" in md


def test_fenced_entries_include_the_pr_that_lifts_the_fence() -> None:
    """The example specs: billing-ledger is `fence: true`, billing-invoice-mailer `cutover: true`."""
    from compiler.live.gates import fenced_entries
    from compiler.validate import validate_specs
    from ferry_testing import REPO

    specs = validate_specs(REPO / "specs").specs
    assert specs is not None
    mig = next(m for m in specs.migrations if m.name == "billing/invoices")

    def names(routes: dict[str, str]) -> set[str]:
        return {e.name for e in fenced_entries(specs, mig, routes)}

    assert "billing-ledger" in names({}) and "billing-invoice-mailer" not in names({})
    # The committed routes still fence the mailer: this PR lifts its fence, so its gates are the exact ones.
    assert "billing-invoice-mailer" in names({"consumer group billing-invoice-mailer": "fence"})
    assert "billing-ledger" not in names({"consumer group billing-ledger": "target"})
