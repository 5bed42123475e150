"""`ferry preflight`: read the clusters the selected migrations touch, then evaluate gates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..spec import Migration, Specs
from .connections import Connections
from .cutover import FencedGroup, RecordReader, align_group, drain_topics
from .facts import ClusterFacts, Reader
from .gates import FenceFacts, GateResult, evaluate, fenced_entries, groups_about_to_cut_over
from .routes import committed_tables


def routed_to_target(rendered: Path, specs: Specs) -> set[str]:
    """Group names whose rules in the committed route files already send them to a target."""
    targets = {n for n, c in specs.clusters.model.clusters.items() if c.role.value == "target"}
    out = set()
    for table in committed_tables(rendered).values():
        for rule in table.rules:
            if rule.action == "route" and rule.cluster in targets and rule.entry.startswith("consumer group "):
                out.add(rule.entry.removeprefix("consumer group "))
    return out


def routes_in_force(rendered: Path, specs: Specs) -> dict[str, str]:
    """Entries (`RouteRule.entry`, e.g. "consumer group billing-ledger") the committed route
    tables fence ("fence") or send to a target cluster ("target")."""
    targets = {n for n, c in specs.clusters.model.clusters.items() if c.role.value == "target"}
    out: dict[str, str] = {}
    for table in committed_tables(rendered).values():
        for rule in table.rules:
            if rule.action == "fence":
                out.setdefault(rule.entry, "fence")
            elif rule.cluster in targets:  # a route
                out[rule.entry] = "target"
    return out


def read_fence_facts(reader: Reader, rr: RecordReader, specs: Specs, mig: Migration,
                     routes: dict[str, str]) -> FenceFacts:
    """For the entries of `mig` in a fence window: each group's exact alignment (computed as
    `ferry cutover align --dry-run` does, nothing written) and each producer's drain."""
    alignments, drains = {}, {}
    for e in fenced_entries(specs, mig, routes):
        if e.is_group:
            alignments[e.name] = align_group(reader, rr, FencedGroup(mig, e.name, tuple(e.topics())))
        else:
            drains[e.name] = drain_topics(reader, rr, mig, e.topics())
    return FenceFacts(alignments, drains)


def topic_count(migrations: list[Migration]) -> int:
    return sum(2 * len(m.model.topics) for m in migrations)


def run_preflight(
    specs: Specs, migrations: list[Migration], connections: Connections, rendered: Path,
    progress: Callable[[int], None] = lambda n: None,
) -> list[GateResult]:
    reader = Reader(connections)
    already = routed_to_target(rendered, specs)
    facts: dict[str, ClusterFacts] = {}

    def cluster(name: str) -> ClusterFacts:
        return facts.setdefault(name, ClusterFacts())

    for mig in migrations:
        src, tgt = mig.model.source, mig.model.target
        cluster(src).topics.update(reader.topics(src, mig.model.topics, progress))
        cluster(tgt).topics.update(reader.topics(tgt, [mig.model.renamed(t).to for t in mig.model.topics], progress))
        if not cluster(src).groups:
            cluster(src).groups.update(reader.groups(src, reader.group_ids(src)))
        cutting = groups_about_to_cut_over(specs, mig, already)
        present = set(reader.group_ids(tgt))
        cluster(tgt).groups.update(reader.groups(tgt, [g for g in cutting if g in present]))
    routes = routes_in_force(rendered, specs)
    rr = RecordReader(connections)
    try:
        fences = {mig.name: read_fence_facts(reader, rr, specs, mig, routes) for mig in migrations}
    finally:
        rr.close()
    results: list[GateResult] = []
    for mig in migrations:
        results.extend(evaluate(specs, mig, facts, already, fences[mig.name]))
    return results


def format_table(results: list[GateResult]) -> str:
    if not results:
        return "no active migration selected: nothing to check\n"
    header = ("STATUS", "MIGRATION", "GATE", "SUBJECT", "DETAIL")
    rows = [(r.status.upper(), r.migration, r.gate, r.subject, r.detail) for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(col.ljust(widths[i]) for i, col in enumerate(row[:4])) + "  " + row[4])
    fails = sum(r.status == "fail" for r in results)
    warns = sum(r.status == "warn" for r in results)
    lines.append(f"\n{len(results)} check(s): {fails} failed, {warns} warning(s)")
    return "\n".join(lines) + "\n"
