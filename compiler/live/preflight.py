"""`ferry preflight`: read the clusters the selected migrations touch, then evaluate gates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from proxy.routetable import RouteFileError, RouteTable, parse_route_file

from ..output import read_tree
from ..spec import Migration, Specs
from .connections import Connections
from .facts import ClusterFacts, Reader
from .gates import GateResult, evaluate, groups_about_to_cut_over


def committed_tables(rendered: Path) -> dict[str, RouteTable]:
    """The route tables of a rendered tree by gateway (unreadable files are skipped)."""
    out = {}
    for rel, text in read_tree(rendered).items():
        if rel.startswith("proxy/") and rel.endswith(".routes.json"):
            try:
                table = parse_route_file(text, rel)
            except RouteFileError:
                continue
            out[table.gateway] = table
    return out


def routed_to_target(rendered: Path, specs: Specs) -> set[str]:
    """Group names whose rules in the committed route files already send them to a target."""
    targets = {n for n, c in specs.clusters.model.clusters.items() if c.role.value == "target"}
    out = set()
    for table in committed_tables(rendered).values():
        for rule in table.rules:
            if rule.action == "route" and rule.cluster in targets and rule.entry.startswith("consumer group "):
                out.add(rule.entry.removeprefix("consumer group "))
    return out


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
    results: list[GateResult] = []
    for mig in migrations:
        results.extend(evaluate(specs, mig, facts, already))
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
