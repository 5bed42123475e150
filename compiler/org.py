"""The validated org, resolved into what the renderers need: route tables per gateway and
mirroring flows per (source, target). Pure functions of `Specs`; inputs sorted."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.routetable import Endpoint, RouteRule, RouteTable, build_table

from .glob import literal_prefix
from .index import KIND_LABEL, Entry, active, entries
from .models import Cluster, Status
from .spec import Migration, Specs


@dataclass(frozen=True)
class Rename:
    legacy: str
    new: str
    migration: str


@dataclass(frozen=True)
class Flow:
    """One MirrorMaker 2 replication flow: legacy cluster -> target cluster."""

    source: str
    target: str
    renames: tuple[Rename, ...]
    groups: tuple[str, ...]
    sources: tuple[str, ...]  # spec files this flow is rendered from

    @property
    def name(self) -> str:
        return f"{self.source}--{self.target}"


@dataclass(frozen=True)
class GatewayRoutes:
    table: RouteTable
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Org:
    specs: Specs
    gateways: tuple[GatewayRoutes, ...]
    flows: tuple[Flow, ...]

    def cluster(self, name: str) -> Cluster:
        return self.specs.clusters.model.clusters[name]


def endpoint(cluster: Cluster) -> Endpoint:
    return Endpoint(bootstrap=tuple(cluster.bootstrap), tls=cluster.security.uses_tls)


def _rule_order(rule: RouteRule) -> tuple[int, str, str, str]:
    # Most specific literal prefix first; patterns never overlap (pass `overlap`), so the
    # order only makes files readable and stable.
    return (-len(literal_prefix(rule.match)), rule.match, rule.migration, rule.entry)


def build_org(specs: Specs) -> Org:
    clusters = specs.clusters.model.clusters
    base = (specs.source_name(specs.clusters),)
    all_entries = list(entries(specs))
    by_gateway: dict[str, list[Entry]] = {}
    for entry in all_entries:
        by_gateway.setdefault(entry.migration.model.gateway, []).append(entry)
    gateways = []
    for gw_name, gw in sorted(specs.clusters.model.gateways.items()):
        rules: list[RouteRule] = []
        sources = set(base)
        for entry in by_gateway.get(gw_name, []):
            mig = entry.migration
            sources.add(specs.source_name(mig))
            moved = entry.spec.cutover or mig.model.status is Status.COMPLETE
            for i, pattern in enumerate(entry.spec.client_ids):
                line = entry.line("client_ids", i)
                rules.append(
                    RouteRule(
                        match=pattern,
                        action="fence" if entry.spec.fence else "route",
                        cluster=None if entry.spec.fence else (mig.model.target if moved else mig.model.source),
                        migration=mig.name,
                        entry=f"{KIND_LABEL[entry.kind]} {entry.name}",
                        source=f"{specs.source_name(mig)}:{line}",
                    )
                )
        rules.sort(key=_rule_order)
        used = {gw.default_cluster, *(r.cluster for r in rules if r.cluster)}
        table = build_table(
            gw_name, gw.listen, gw.default_cluster, {c: endpoint(clusters[c]) for c in used}, rules
        )
        gateways.append(GatewayRoutes(table, tuple(sorted(sources))))

    flows: dict[tuple[str, str], list[Migration]] = {}
    for mig in specs.migrations:
        if active(mig) and mig.model.topics:
            flows.setdefault((mig.model.source, mig.model.target), []).append(mig)
    groups_by_flow: dict[tuple[str, str], list[Entry]] = {}
    for entry in all_entries:
        if entry.is_group:
            groups_by_flow.setdefault(entry.flow, []).append(entry)
    built = []
    for (source, target), migs in sorted(flows.items()):
        renames = sorted(
            (Rename(legacy, mig.model.renamed(legacy).to, mig.name) for mig in migs for legacy in mig.model.topics),
            key=lambda r: r.legacy,
        )
        mirrored = {r.legacy for r in renames}
        groups, sources = set(), {specs.source_name(m) for m in migs}
        for entry in groups_by_flow.get((source, target), []):
            # Cut-over groups stay listed until their migration completes: MM2 never syncs into
            # a group active on the target and only ever moves offsets forward, while a config
            # change restarts MM2 and costs every group still in transition translation
            # precision (seen in tests/e2e: ~3 s of re-reads after a restart).
            if mirrored.intersection(entry.topics()):
                groups.add(entry.name)
                sources.add(specs.source_name(entry.migration))
        built.append(
            Flow(
                source, target, tuple(renames), tuple(sorted(groups)),
                tuple(sorted(sources | {specs.source_name(specs.clusters), specs.source_name(specs.policy)})),
            )
        )
    return Org(specs, tuple(gateways), tuple(built))
