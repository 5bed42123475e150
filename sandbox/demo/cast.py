"""Who the demo moves, read from the specs: the example org's migration in the mirroring stage,
one of its consumer groups and the producer of that group's topics, plus another team's group
and producer on the same gateway that stay where they are. Pure: specs in, a ``Cast`` out, or
a SandboxError saying why these specs cannot be walked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compiler.models import MigrationSpec
from compiler.spec import Migration, Specs
from sandbox.demo.spec_edits import Attestation
from sandbox.errors import SandboxError

# The example org's migration in the mirroring stage, with a consumer group and the producer
# of the same topics (specs/migrations/search/catalog-index.yaml).
MIGRATION = "search/catalog-index"
GROUP = "search-indexer"
PRODUCER = "catalog-api"
ATTESTATION = Attestation(by="demo@example.com", ref="DEMO-1")
# Another team's clients on the same gateway that are not moving today (chat's archiver and the
# chat server that feeds it): their conforming ids match rules that still say legacy-service.
BYSTANDER_MIGRATION = "chat/listing-alerts"
BYSTANDER_GROUP = "chat-history-archiver"
BYSTANDER_PRODUCER = "chat-server"


@dataclass(frozen=True)
class Bystanders:
    """A group and its producer of another migration on the same gateway that stay put."""

    migration: str
    group: str
    group_id: str
    producer: str
    producer_id: str
    topics: tuple[str, ...]  # legacy names (they stay on legacy)


@dataclass(frozen=True)
class Cast:
    """Who moves and how: names, topics before and after, client ids before and after."""

    migration: str
    spec_file: Path                      # relative to the specs directory
    source: str
    target: str
    gateway: str
    group: str
    group_topics: tuple[str, ...]        # legacy names
    group_topics_new: tuple[str, ...]
    group_partitions: tuple[int, ...]    # of each topic (the spec's count, or 1 as the sandbox creates it)
    producer: str
    producer_topics: tuple[str, ...]
    producer_topics_new: tuple[str, ...]
    group_ids: tuple[str, str]           # (legacy client id, conforming client id)
    producer_ids: tuple[str, str]
    bystanders: Bystanders


def conforming_id(pattern: str) -> str:
    """An instance id a client-id glob matches: every wildcard becomes ``0``."""
    return pattern.replace("*", "0").replace("?", "0")


def _topics(declared: list[str] | None, spec: MigrationSpec) -> list[str]:
    """An entry's topics: as declared, or every topic of its migration."""
    return list(declared) if declared is not None else sorted(spec.topics)


def _migration(specs: Specs, name: str) -> Migration:
    mig = next((m for m in specs.migrations if m.name == name), None)
    if mig is None:
        raise SandboxError(f"the specs have no migration {name!r} (the demo walks the example org's)")
    return mig


def bystanders_of(specs: Specs, gateway: str, source: str, migration: str = BYSTANDER_MIGRATION,
                  group: str = BYSTANDER_GROUP, producer: str = BYSTANDER_PRODUCER) -> Bystanders:
    spec = _migration(specs, migration).model
    g, p = spec.consumer_groups.get(group), spec.producers.get(producer)
    if g is None or p is None or g.cutover or g.fence or p.cutover:
        raise SandboxError(f"migration {migration}: the demo's bystanders need consumer group {group!r} and "
                           f"producer {producer!r}, neither cut over nor fenced")
    if (spec.gateway, spec.source) != (gateway, source) or set(_topics(g.topics, spec)) != set(_topics(p.topics, spec)):
        raise SandboxError(f"migration {migration}: {group!r} must read exactly what {producer!r} writes, "
                           f"through gateway {gateway} on {source}")
    return Bystanders(migration, group, conforming_id(g.client_ids[0]), producer, conforming_id(p.client_ids[0]),
                      tuple(_topics(p.topics, spec)))


def cast_of(specs: Specs, migration: str = MIGRATION, group: str = GROUP, producer: str = PRODUCER) -> Cast:
    """The cast for ``migration``; SandboxError unless it is in the mirroring stage (nothing cut
    over or fenced) and the producer's topics are read by ``group`` alone."""
    mig = _migration(specs, migration)
    spec = mig.model
    g, p = spec.consumer_groups.get(group), spec.producers.get(producer)
    if g is None or p is None:
        raise SandboxError(f"migration {migration} has no consumer group {group!r} or no producer {producer!r}")
    moved = [*(n for n, e in spec.consumer_groups.items() if e.cutover or e.fence),
             *(n for n, e in spec.producers.items() if e.cutover)]
    if spec.status.value != "active" or moved:
        raise SandboxError(f"migration {migration} is not in the mirroring stage "
                           f"(status {spec.status.value}; cut over or fenced: {', '.join(moved) or 'none'})")
    group_topics, producer_topics = _topics(g.topics, spec), _topics(p.topics, spec)
    if not set(group_topics + producer_topics) <= set(spec.topics):
        raise SandboxError(f"migration {migration}: {group!r} and {producer!r} must use only its own topics")
    readers = sorted(n for n, e in spec.consumer_groups.items() if set(_topics(e.topics, spec)) & set(producer_topics))
    if readers != [group]:
        raise SandboxError(f"producer {producer!r}'s topics are read by {', '.join(readers)}; "
                           f"the demo moves {group!r} alone")
    return Cast(
        migration=migration, spec_file=Path(mig.doc.path).resolve().relative_to(specs.root.resolve()),
        source=spec.source, target=spec.target, gateway=spec.gateway,
        group=group, group_topics=tuple(group_topics),
        group_topics_new=tuple(spec.renamed(t).to for t in group_topics),
        group_partitions=tuple(spec.renamed(t).partitions or 1 for t in group_topics),
        producer=producer, producer_topics=tuple(producer_topics),
        producer_topics_new=tuple(spec.renamed(t).to for t in producer_topics),
        group_ids=(f"{group}-1", conforming_id(g.client_ids[0])),
        producer_ids=(f"{producer}-1", conforming_id(p.client_ids[0])),
        bystanders=bystanders_of(specs, spec.gateway, spec.source),
    )


@dataclass(frozen=True)
class Scope:
    """The part of the org the demo runs: the walk's gateway, the migrations routed through it and
    the clusters they use. Other gateways' migrations (and their clusters) would only add JVMs to
    start on a small machine; they have sandboxes of their own (`ferry sandbox up`)."""

    gateway: str
    clusters: tuple[str, ...]
    kept: tuple[str, ...]       # migration names
    dropped: tuple[Path, ...]   # migration files on other gateways, relative to the specs directory


def scope_of(specs: Specs, gateway: str) -> Scope:
    gw = specs.clusters.model.gateways.get(gateway)
    if gw is None:
        raise SandboxError(f"clusters.yaml has no gateway {gateway!r}")
    kept = [m for m in specs.migrations if m.model.gateway == gateway]
    clusters = {gw.default_cluster} | {c for m in kept for c in (m.model.source, m.model.target)}
    root = specs.root.resolve()
    dropped = [Path(m.doc.path).resolve().relative_to(root) for m in specs.migrations if m.model.gateway != gateway]
    return Scope(gateway, tuple(sorted(clusters)), tuple(sorted(m.name for m in kept)), tuple(sorted(dropped)))
