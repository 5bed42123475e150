"""`ferry cutover report`: the evidence of a cutover, as JSON and Markdown (pure).

Built from what `cutover.py` read (each group's alignment as `ferry cutover align --dry-run`
computes it, the group's committed offsets on the target, MirrorMaker 2's last checkpoints,
each partition's drain) and what `status.py` made of the proxy's decision logs. Per group and
partition: the legacy committed offset, MM2's translation, the offset committed on the target
now, the exact offset, what a consumer starting at the target's offset would re-read or skip,
and the mirror lag; per producer: legacy's end against what is mirrored; and who was still
seen on legacy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .align import Drain, GroupAlignment, exactness
from .checkpoints import Checkpoint
from .status import EntryStatus, Seen

TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True)
class GroupEvidence:
    alignment: GroupAlignment
    target_committed: Mapping[TopicPartitionKey, int]  # (target topic, partition) -> offset
    checkpoints: Mapping[TopicPartitionKey, Checkpoint]  # MM2's last, by (target topic, partition)
    drains: Mapping[TopicPartitionKey, Drain]  # by (legacy topic, partition)


@dataclass(frozen=True)
class ProducerEvidence:
    migration: str
    producer: str
    drains: Sequence[Drain]


def _seen(seen: Seen) -> dict[str, Any]:
    return {"connections": seen.connections, "last": seen.last, "client_ids": sorted(seen.client_ids)}


def _legacy_presence(row: EntryStatus | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"stage": row.stage, "route": row.route, "seen_on_legacy": _seen(row.legacy),
            "connected_on_legacy_now": _seen(row.connected_now.get("legacy", Seen())),
            "waiting_in_fence_now": _seen(row.fenced_now)}


def group_rows(ev: GroupEvidence) -> list[dict[str, Any]]:
    rows = []
    for p in ev.alignment.partitions:
        key = (p.target_topic, p.partition)
        current = ev.target_committed.get(key)
        now = exactness(p, current)
        cp = ev.checkpoints.get(key)
        mm2 = exactness(p, cp.downstream) if cp is not None and p.status == "aligned" else None
        drain = ev.drains.get((p.topic, p.partition))
        rows.append({
            "topic": p.topic, "partition": p.partition, "target_topic": p.target_topic,
            "legacy_committed": p.legacy_offset,
            "mm2_translated": None if cp is None else cp.downstream,
            "mm2_translated_from": None if cp is None else cp.upstream,
            "target_committed": current,
            "aligned": p.target_offset, "status": p.status,
            "re_read": now.re_read, "skipped": now.skipped, "exact": now.ok,
            "mm2_re_read": None if mm2 is None else mm2.re_read,
            "mm2_skipped": None if mm2 is None else mm2.skipped,
            "mirror_lag": None if drain is None else drain.not_mirrored,
            "detail": now.reason if now.ok or p.status != "refused" else p.detail,
        })
    return rows


def build_report(
    groups: Sequence[GroupEvidence], producers: Sequence[ProducerEvidence], rows: Sequence[EntryStatus],
    unmatched: Mapping[str, Seen], now: float,
) -> dict[str, Any]:
    """The report as plain data (what `--format json` prints and the JSON file holds)."""
    by_entry = {(r.migration, r.kind, r.name): r for r in rows}
    out_groups = []
    for ev in groups:
        a = ev.alignment
        parts = group_rows(ev)
        out_groups.append({
            "migration": a.migration, "group": a.group, "source": a.source, "target": a.target,
            "exact": not a.refused_group and all(r["exact"] for r in parts),
            "refused": a.refused_group or None,
            "re_read": sum(r["re_read"] for r in parts), "skipped": sum(r["skipped"] for r in parts),
            "mm2_re_read": sum(r["mm2_re_read"] or 0 for r in parts),
            "partitions": parts,
            "proxy": _legacy_presence(by_entry.get((a.migration, "group", a.group))),
        })
    out_producers = []
    for pe in producers:
        out_producers.append({
            "migration": pe.migration, "producer": pe.producer,
            "drained": all(d.drained for d in pe.drains),
            "not_mirrored": sum(d.not_mirrored or 0 for d in pe.drains),
            "partitions": [d.as_dict() for d in pe.drains],
            "proxy": _legacy_presence(by_entry.get((pe.migration, "producer", pe.producer))),
        })
    return {
        "generated_at": _when(now),
        "groups": out_groups,
        "producers": out_producers,
        "unmatched_on_legacy": {k: _seen(v) for k, v in sorted(unmatched.items())},
    }


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(value: Any) -> str:
    text = "-" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _presence_line(proxy: dict[str, Any] | None) -> str:
    if proxy is None:
        return "Proxy: no decision-log row for this entry."
    seen, now, fenced = proxy["seen_on_legacy"], proxy["connected_on_legacy_now"], proxy["waiting_in_fence_now"]
    legacy = (f"{seen['connections']} bootstrap(s) to legacy, last {_when(seen['last'])} "
              f"({', '.join(seen['client_ids'])})" if seen["connections"] else "never seen on legacy")
    extra = []
    if now["connections"]:
        extra.append(f"**{now['connections']} still connected to legacy** ({', '.join(now['client_ids'])})")
    if fenced["connections"]:
        extra.append(f"{fenced['connections']} waiting in the fence ({', '.join(fenced['client_ids'])})")
    return f"Stage {proxy['stage']}, route {proxy['route']}; {legacy}" + "".join(f"; {e}" for e in extra) + "."


GROUP_HEADER = ("| topic → target | p | legacy committed | MM2 translated | target committed | exact offset "
                "| re-read | skipped | mirror lag | detail |")


def format_markdown(report: dict[str, Any]) -> str:
    """For a pull-request comment or a GitHub job summary."""
    lines = [f"## Ferry cutover report ({report['generated_at']})", ""]
    if not report["groups"] and not report["producers"]:
        lines.append("No consumer group or producer in a fence or cut over: nothing to report.")
    for g in report["groups"]:
        refused = f"; {g['refused']}" if g["refused"] else ""
        verdict = ("exact: 0 re-read, 0 skipped" if g["exact"]
                   else f"not exact: {g['re_read']} re-read, {g['skipped']} skipped{refused}")
        lines += [f"### Consumer group `{g['group']}` ({g['migration']}, {g['source']} → {g['target']}): {verdict}",
                  "", _presence_line(g["proxy"]),
                  f"MirrorMaker 2's translation alone would re-read {g['mm2_re_read']} record(s).", "",
                  GROUP_HEADER,
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
        for r in g["partitions"]:
            lines.append("| " + " | ".join(_cell(v) for v in (
                f"{r['topic']} → {r['target_topic']}", r["partition"], r["legacy_committed"], r["mm2_translated"],
                r["target_committed"], r["aligned"], r["re_read"], r["skipped"], r["mirror_lag"], r["detail"])) + " |")
        lines.append("")
    for p in report["producers"]:
        verdict = "drained: every legacy record mirrored" if p["drained"] else (
            f"not drained: {p['not_mirrored']} record(s) not mirrored yet")
        lines += [f"### Producer `{p['producer']}` ({p['migration']}): {verdict}", "", _presence_line(p["proxy"]), "",
                  "| topic → target | p | legacy end | target end | not mirrored | detail |",
                  "|---|--:|--:|--:|--:|---|"]
        for d in p["partitions"]:
            lines.append("| " + " | ".join(_cell(v) for v in (
                f"{d['topic']} → {d['target_topic']}", d["partition"], d["legacy_end"], d["target_end"],
                d["not_mirrored"], d["detail"])) + " |")
        lines.append("")
    if report["unmatched_on_legacy"]:
        lines += ["### Still on legacy through no rule", ""]
        for where, seen in report["unmatched_on_legacy"].items():
            lines.append(f"- {_cell(where)}: {seen['connections']} connection(s), last {_when(seen['last'])}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
