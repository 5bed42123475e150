"""Pass `uniqueness`: each topic and consumer group has exactly one owner.

* A spec's rename map is injective: two legacy topics never share a new name.
* A legacy topic is moved by at most one *active* migration (per source cluster).
* A new topic name is used once per target cluster, across all migrations (and no two
  differ only by '.' versus '_', which Kafka refuses).
* A consumer group id is declared once per target cluster (group ids are not renamed, so
  two legacy clusters' `mailer` groups would collide on the target).

Passing::

    topics: {invoices: billing.invoice.created.v1, refunds: billing.refund.created.v1}

Failing::

    topics: {invoices: billing.invoice.v1, invoices-old: billing.invoice.v1}  # rename-not-injective
    # two active specs from legacy-service both list `invoices`             -> topic-claimed-twice
    # two specs rename different topics to `billing.invoice.v1`             -> new-topic-reused
    # two specs declare consumer group `mailer`                             -> group-declared-twice
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, Position
from ..index import active
from ..spec import Migration, Specs
from . import Pass

ID = "uniqueness"


def _to_path(mig: Migration, legacy: str) -> tuple[str, ...]:
    return ("topics", legacy) if isinstance(mig.model.topics[legacy], str) else ("topics", legacy, "to")


def run(specs: Specs) -> Iterator[Diagnostic]:
    claimed: dict[tuple[str, str], tuple[Migration, Position]] = {}
    new_names: dict[tuple[str, str], tuple[Migration, str, Position]] = {}
    # Kafka refuses a topic whose name differs from an existing one only by '.' vs '_'
    # (their metric names collide), so those count as the same name too.
    folded: dict[tuple[str, str], tuple[str, Position]] = {}
    groups: dict[tuple[str, str], tuple[Migration, Position]] = {}
    for mig in specs.migrations:
        spec = mig.model
        local: dict[str, str] = {}
        for legacy in sorted(spec.topics, key=lambda t: mig.key_at("topics", t)):
            new = spec.renamed(legacy).to
            pos = mig.at(*_to_path(mig, legacy))
            if new in local:
                yield Diagnostic(
                    pos,
                    "rename-not-injective",
                    f"legacy topics {local[new]!r} and {legacy!r} are both renamed to {new!r}; "
                    "each legacy topic needs its own new name (MirrorMaker 2 maps names one to one)",
                    related=((mig.at(*_to_path(mig, local[new])), f"{local[new]!r} renamed"),),
                )
                continue
            local[new] = legacy
            if active(mig):
                key = (spec.source, legacy)
                if key in claimed:
                    other, other_pos = claimed[key]
                    yield Diagnostic(
                        mig.key_at("topics", legacy),
                        "topic-claimed-twice",
                        f"legacy topic {legacy!r} on {spec.source!r} is already moved by active migration "
                        f"{other.name!r}; a topic is moved by one migration: coordinate with team "
                        f"{other.model.team!r} and declare your groups against their migration instead",
                        related=((other_pos, "claimed"),),
                    )
                else:
                    claimed[key] = (mig, mig.key_at("topics", legacy))
            nkey = (spec.target, new)
            if nkey in new_names and new_names[nkey][0] is not mig:
                other, other_legacy, other_pos = new_names[nkey]
                yield Diagnostic(
                    pos,
                    "new-topic-reused",
                    f"new topic name {new!r} on {spec.target!r} is already used by migration "
                    f"{other.name!r} (for {other_legacy!r}); pick another name",
                    related=((other_pos, "used"),),
                )
            else:
                new_names.setdefault(nkey, (mig, legacy, pos))
                fkey = (spec.target, new.replace(".", "_"))
                if fkey in folded and folded[fkey][0] != new:
                    other_new, other_pos = folded[fkey]
                    yield Diagnostic(
                        pos,
                        "new-topic-collides",
                        f"new topic name {new!r} differs from {other_new!r} only by '.' versus '_'; "
                        "Kafka refuses the second of such names (their metrics collide): pick another name",
                        related=((other_pos, f"{other_new!r}"),),
                    )
                else:
                    folded.setdefault(fkey, (new, pos))
        for group in sorted(spec.consumer_groups):
            key = (spec.target, group)
            pos = mig.key_at("consumer_groups", group)
            if key in groups:
                other, other_pos = groups[key]
                yield Diagnostic(
                    pos,
                    "group-declared-twice",
                    f"consumer group {group!r} is already declared by migration {other.name!r} for "
                    f"target {spec.target!r}; a group is declared once (group ids are not renamed): "
                    "remove this declaration, or give one of the groups another id",
                    related=((other_pos, "declared"),),
                )
            else:
                groups[key] = (mig, pos)


PASS = Pass(ID, run)
