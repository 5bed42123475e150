"""`ferry preflight` gates: pure functions of the specs and the facts read from clusters.

Each gate yields results `ok`, `warn` or `fail` with numbers a human can act on:

* `source-topic`     the legacy topic exists.
* `target-topic`     the renamed topic is absent (MirrorMaker 2 creates it) or has the same
                     partition count and replication factor.
* `mirror-lag`       records on the legacy topic not yet on the renamed one, per partition
                     (counted from each side's low watermark: exact while retention deleted
                     nothing since mirroring began).
* `undeclared-consumers`  groups that commit offsets on a migrating topic but are declared in
                     no spec: stranded when producers move (a failure for a producer cutover,
                     a warning before).
* `offset-sync`      for groups about to cut over (fence or cutover, not yet routed to the
                     target): the translated offset on the target is at the same record as the
                     legacy one (positions counted from each side's low watermark), within
                     `offset.lag.max` per partition. For a *fenced* group (see `fenced_entries`)
                     exactly: equal to what `ferry cutover align` computes (0 re-read, 0 skipped).
* `mirror-drained`   for a fenced producer: every record on its legacy topics is on the target
                     (legacy's end maps to the target's end), so its first direct record on the
                     target comes after the last mirrored one in every partition.
* `target-group-idle` a group about to cut over has no members on the target yet (MM2 only
                     syncs offsets into groups that are empty there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Literal

from ..index import KIND_LABEL, Entry, entries
from ..spec import Migration, Specs
from .align import Drain, GroupAlignment, exactness
from .facts import ClusterFacts, GroupFacts

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class GateResult:
    migration: str
    gate: str
    subject: str
    status: Status
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def groups_about_to_cut_over(specs: Specs, mig: Migration, routed_to_target: set[str]) -> list[str]:
    names = set(mig.model.topics)
    out = []
    for e in entries(specs):
        if (e.is_group and (e.spec.fence or e.spec.cutover) and e.flow == (mig.model.source, mig.model.target)
                and names.intersection(e.topics()) and e.name not in routed_to_target):
            out.append(e.name)
    return sorted(set(out))


def route_key(e: Entry) -> str:
    """How a rendered route rule names its entry (`RouteRule.entry`)."""
    return f"{KIND_LABEL[e.kind]} {e.name}"


def fenced_entries(specs: Specs, mig: Migration, routes_in_force: dict[str, str]) -> list[Entry]:
    """Groups and producers of `mig` in a fence window, not yet routed to the target: the spec
    says `fence: true`, or the spec says `cutover: true` while the committed route tables (what
    the proxy runs) still fence them — the PR that lifts the fence."""
    out = []
    for e in entries(specs):
        if e.migration is not mig:
            continue
        live = routes_in_force.get(route_key(e))
        if live != "target" and (e.spec.fence or (e.spec.cutover and live == "fence")):
            out.append(e)
    return out


@dataclass(frozen=True)
class FenceFacts:
    """What `ferry preflight` read for entries in a fence window (beyond `ClusterFacts`)."""

    alignments: dict[str, GroupAlignment]  # fenced group -> `ferry cutover align`'s computation (dry)
    drains: dict[str, list[Drain]]  # fenced producer -> its topics' partitions


def exact_offset_gate(alignment: GroupAlignment, target: GroupFacts | None) -> tuple[Status, str]:
    """`offset-sync` for a fenced group: the target's committed offsets are the exact ones."""
    fix = f"run `ferry cutover align --group {alignment.group}`, then preflight again"
    if alignment.refused_group:
        return "fail", f"cannot be exact: {alignment.refused_group}"
    committed = target.committed if target is not None else {}
    wrong = []
    for p in alignment.partitions:
        x = exactness(p, committed.get((p.target_topic, p.partition)))
        if not x.ok:
            wrong.append(f"{p.target_topic}[{p.partition}] {x.reason}")
    if wrong:
        return "fail", "not exact: " + "; ".join(wrong) + f"; {fix}"
    return "ok", f"exact on {len(alignment.partitions)} partition(s): 0 re-read, 0 skipped"


def drained_gate(name: str, drains: list[Drain]) -> tuple[Status, str]:
    behind = [d for d in drains if not d.drained]
    if not behind:
        return "ok", f"every legacy record mirrored on {len(drains)} partition(s)"
    parts = []
    for d in behind:
        count = f"{d.not_mirrored} record(s) not mirrored yet" if d.not_mirrored else d.detail
        parts.append(f"{d.topic}[{d.partition}]: {count}")
    total = sum(d.not_mirrored or 0 for d in behind)
    return "fail", (f"{total} record(s) on legacy not yet on the target: " + "; ".join(parts)
                    + f"; keep producer {name!r} fenced until MirrorMaker 2 copied them, then preflight again")


def evaluate(
    specs: Specs, mig: Migration, facts: dict[str, ClusterFacts], routed_to_target: set[str],
    fence: FenceFacts | None = None,
) -> Iterable[GateResult]:
    spec = mig.model
    lag_max = specs.policy.model.mirrormaker.offset_lag_max
    src, tgt = facts[spec.source], facts[spec.target]
    gate = partial(GateResult, mig.name)

    for legacy in sorted(spec.topics):
        renamed = mig.model.renamed(legacy)
        s, t = src.topics.get(legacy), tgt.topics.get(renamed.to)
        if s is None:
            yield gate("source-topic", legacy, "fail",
                       f"{legacy!r} does not exist on {spec.source}; fix the rename map or create the topic")
            continue
        yield gate("source-topic", legacy, "ok",
                   f"{s.partitions} partitions, replication factor {s.replication_factor}")
        want_rf = renamed.target_replication_factor or s.replication_factor
        if t is None:
            yield gate("target-topic", renamed.to, "ok", f"absent on {spec.target}: MirrorMaker 2 will create it")
            yield gate("mirror-lag", legacy, "warn", f"{renamed.to!r} not mirrored yet: is MirrorMaker 2 running?")
            continue
        if t.partitions != s.partitions:
            yield gate("target-topic", renamed.to, "fail",
                       f"{t.partitions} partitions on {spec.target} but {s.partitions} on {spec.source}; MirrorMaker 2 "
                       f"maps partitions one to one: recreate {renamed.to!r} with {s.partitions} partitions")
        elif t.replication_factor != want_rf:
            yield gate("target-topic", renamed.to, "fail",
                       f"replication factor {t.replication_factor} on {spec.target}, expected {want_rf}; alter the "
                       "topic's replicas or declare target_replication_factor")
        else:
            yield gate("target-topic", renamed.to, "ok",
                       f"{t.partitions} partitions, replication factor {t.replication_factor}")
        lags = {p: (s.high[p] - s.low[p]) - (t.high.get(p, 0) - t.low.get(p, 0)) for p in s.high}
        behind = {p: n for p, n in lags.items() if n > 0}
        worst = max(behind.values(), default=0)
        detail = "in sync" if not behind else (
            f"{sum(behind.values())} record(s) behind; worst partition {max(behind, key=behind.__getitem__)}: {worst}"
        )
        yield gate("mirror-lag", legacy, "ok" if worst <= lag_max else "warn", detail)

    # Consumers nobody declared: they keep reading legacy names on the legacy cluster.
    declared = {e.name for e in entries(specs) if e.is_group}
    moving = set(spec.topics)
    producers_cut = any(
        e.spec.cutover and not e.is_group and moving.intersection(e.topics()) for e in entries(specs)
    )
    for gid, g in sorted(src.groups.items()):
        read = sorted({topic for (topic, _) in g.committed} & moving)
        if read and gid not in declared:
            yield gate("undeclared-consumers", gid, "fail" if producers_cut else "warn",
                       f"group {gid!r} reads {', '.join(read)} on {spec.source} but no spec declares it; "
                       + ("producers are cutting over, so it would stop receiving messages: " if producers_cut else "")
                       + "declare it in a migration spec (consumer_groups) so it moves too")

    for gid in groups_about_to_cut_over(specs, mig, routed_to_target):
        gs, gt = src.groups.get(gid), tgt.groups.get(gid)
        if gt is not None and gt.members > 0:
            yield gate("target-group-idle", gid, "fail",
                       f"group {gid!r} already has {gt.members} member(s) on {spec.target}; MirrorMaker 2 does not "
                       "sync offsets into an active group: stop those instances until the cutover")
        else:
            yield gate("target-group-idle", gid, "ok", f"no members on {spec.target}")
        if fence is not None and gid in fence.alignments:
            yield gate("offset-sync", gid, *exact_offset_gate(fence.alignments[gid], gt))
            continue
        if gs is None or not gs.committed:
            yield gate("offset-sync", gid, "warn",
                       f"group {gid!r} has no committed offsets on {spec.source}: nothing to translate")
            continue
        problems, checked = [], 0
        for (topic, p), c_s in sorted(gs.committed.items()):
            if topic not in spec.topics:
                continue
            new = mig.model.renamed(topic).to
            s, t = src.topics.get(topic), tgt.topics.get(new)
            if s is None or t is None:
                continue
            checked += 1
            c_t = gt.committed.get((new, p)) if gt else None
            if c_t is None:
                problems.append(f"{new}[{p}] has no translated offset yet")
                continue
            # Positions counted from each side's low watermark: MM2 copies partition p record by
            # record, so equal positions mean the same record, whatever the mirror lag is.
            delta = (c_s - s.low[p]) - (c_t - t.low.get(p, 0))
            if abs(delta) > lag_max:
                direction = "re-read" if delta > 0 else "SKIP"
                problems.append(f"{new}[{p}]: target would {direction} {abs(delta)} record(s)")
        if problems:
            yield gate("offset-sync", gid, "fail",
                       "; ".join(problems) + f" (limit {lag_max} = offset.lag.max); wait for MirrorMaker 2's "
                       "checkpoint and sync cycle with the group stopped on legacy, then run preflight again")
        elif checked:
            yield gate("offset-sync", gid, "ok", f"translated offsets converged on {checked} partition(s)")

    for name, drains in sorted((fence.drains if fence is not None else {}).items()):
        yield gate("mirror-drained", name, *drained_gate(name, drains))
