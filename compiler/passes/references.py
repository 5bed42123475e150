"""Pass `references`: every name a spec uses resolves.

Passing::

    # clusters.yaml: clusters {legacy-service: {role: legacy}, governed: {role: target}},
    #                gateways {gw-service: {default_cluster: legacy-service}}
    source: legacy-service
    target: governed
    gateway: gw-service
    consumer_groups: {g: {topics: [orders]}}    # `orders` moved by some migration from legacy-service

Failing::

    source: legacy-servce          # unknown-cluster (did you mean legacy-service?)
    target: legacy-ads             # wrong-role: the target must have role `target`
    gateway: gw-ads                # gateway-source-mismatch: gw-ads sends unmatched clients to legacy-ads
    consumer_groups: {g: {topics: [ordrs]}}   # unknown-topic
    consumer_groups: {g: {topics: [shop.order.placed.v1]}}   # unknown-topic: the new name of `orders`
    # file migrations/ads/x.yaml with `team: billing`   -> team-folder-mismatch
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..index import entries, topic_owners
from ..models import Role
from ..spec import Specs
from ..suggest import did_you_mean
from . import Pass

ID = "references"


def run(specs: Specs) -> Iterator[Diagnostic]:
    clusters = specs.clusters.model.clusters
    gateways = specs.clusters.model.gateways
    names = sorted(clusters)
    gateway_names = sorted(gateways)
    for gw_name, gw in sorted(gateways.items()):
        if gw.default_cluster not in clusters:
            yield Diagnostic(
                specs.clusters.at("gateways", gw_name, "default_cluster"),
                "unknown-cluster",
                f"gateway {gw_name!r} defaults to unknown cluster {gw.default_cluster!r}; "
                f"{did_you_mean(gw.default_cluster, names)}known clusters: {', '.join(names)}",
            )

    for mig in specs.migrations:
        spec = mig.model
        if spec.team != mig.folder_team:
            yield Diagnostic(
                mig.at("team"),
                "team-folder-mismatch",
                f"team {spec.team!r} does not match the folder {mig.folder_team!r}; "
                f"move the file to specs/migrations/{spec.team}/ or fix `team`",
            )
        for field, role in (("source", Role.LEGACY), ("target", Role.TARGET)):
            name = getattr(spec, field)
            if name not in clusters:
                yield Diagnostic(
                    mig.at(field),
                    "unknown-cluster",
                    f"{field} cluster {name!r} is not in clusters.yaml; "
                    f"{did_you_mean(name, names)}known clusters: {', '.join(names)}",
                )
            elif clusters[name].role is not role:
                yield Diagnostic(
                    mig.at(field),
                    "wrong-role",
                    f"{field} cluster {name!r} has role {clusters[name].role.value!r}; "
                    f"a migration's {field} must be a cluster with role {role.value!r}",
                )
        if spec.gateway not in gateways:
            yield Diagnostic(
                mig.at("gateway"),
                "unknown-gateway",
                f"gateway {spec.gateway!r} is not in clusters.yaml; "
                f"{did_you_mean(spec.gateway, gateway_names)}known gateways: {', '.join(gateway_names) or 'none'}",
            )
        elif (
            spec.source in clusters
            and gateways[spec.gateway].default_cluster in clusters
            and gateways[spec.gateway].default_cluster != spec.source
        ):
            yield Diagnostic(
                mig.at("gateway"),
                "gateway-source-mismatch",
                f"gateway {spec.gateway!r} sends unmatched clients to "
                f"{gateways[spec.gateway].default_cluster!r}, but this migration's clients come from "
                f"{spec.source!r}; use the gateway whose default_cluster is {spec.source!r}",
            )

    owners = topic_owners(specs)
    # Topics of migrations whose source is unknown cannot be resolved: already reported.
    unresolved = {t for m in specs.migrations if m.model.source not in clusters for t in m.model.topics}
    moved_from: dict[str, list[str]] = defaultdict(list)
    for s, t in sorted(owners):
        moved_from[s].append(t)
    # (source, new name) -> legacy name: entries list legacy names, and a new name is a common slip.
    renamed_to: dict[tuple[str, str], str] = {}
    for (s, legacy), migs in sorted(owners.items()):
        for mig in migs:
            new = mig.model.renamed(legacy).to
            if new != legacy:
                renamed_to.setdefault((s, new), legacy)
    for entry in entries(specs):
        if entry.spec.topics is None or entry.migration.model.source not in clusters:
            continue  # an unknown source is reported once, above
        source = entry.migration.model.source
        for i, topic in enumerate(entry.spec.topics):
            if (source, topic) not in owners and topic not in unresolved:
                old_name = renamed_to.get((source, topic))
                if old_name is not None:
                    yield Diagnostic(
                        entry.at("topics", i),
                        "unknown-topic",
                        f"{entry.label} lists {topic!r}, which is the new name of {old_name!r}; `topics` "
                        f"takes legacy names: replace it with {old_name!r}",
                    )
                    continue
                moved = moved_from[source]
                yield Diagnostic(
                    entry.at("topics", i),
                    "unknown-topic",
                    f"{entry.label} reads or writes {topic!r}, which no migration from {source!r} moves; "
                    f"{did_you_mean(topic, moved)}add it to a migration's `topics` rename map first",
                )


PASS = Pass(ID, run)
