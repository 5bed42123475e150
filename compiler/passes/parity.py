"""Pass `parity`: partition count and replication factor carry over when declared.

MirrorMaker 2 copies partition p to partition p: a target topic with another partition
count breaks key ordering and offset translation. Where a spec declares the legacy
topic's shape and a target shape, they must agree; a target replication factor must meet
the policy's minimum (`limits.min_replication_factor`). Live parity is `ferry preflight`'s job.

Passing::

    topics: {orders: {to: shop.order.created.v1, partitions: 12, replication_factor: 3}}

Failing::

    topics: {orders: {to: shop.order.created.v1, partitions: 12, target_partitions: 6}}  # partition-parity
    topics: {orders: {to: ..., replication_factor: 3, target_replication_factor: 2}}    # replication-parity
    topics: {orders: {to: ..., replication_factor: 1}}   # below limits.min_replication_factor: 3
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..models import RenamedTopic
from ..spec import Specs
from . import Pass

ID = "parity"


def run(specs: Specs) -> Iterator[Diagnostic]:
    minimum = specs.policy.model.limits.min_replication_factor
    for mig in specs.migrations:
        for legacy, value in sorted(mig.model.topics.items()):
            if not isinstance(value, RenamedTopic):
                continue
            if value.partitions and value.target_partitions and value.partitions != value.target_partitions:
                yield Diagnostic(
                    mig.at("topics", legacy, "target_partitions"),
                    "partition-parity",
                    f"{legacy!r} has {value.partitions} partitions but its target declares "
                    f"{value.target_partitions}; MirrorMaker 2 maps partitions one to one: make them equal",
                )
            target_rf = value.target_replication_factor or value.replication_factor
            if (value.replication_factor and value.target_replication_factor
                    and value.target_replication_factor < value.replication_factor):
                yield Diagnostic(
                    mig.at("topics", legacy, "target_replication_factor"),
                    "replication-parity",
                    f"{legacy!r} has replication factor {value.replication_factor} but its target "
                    f"declares {value.target_replication_factor}; the target must be at least as durable",
                )
            elif target_rf is not None and target_rf < minimum:
                field = "target_replication_factor" if value.target_replication_factor else "replication_factor"
                yield Diagnostic(
                    mig.at("topics", legacy, field),
                    "replication-parity",
                    f"{legacy!r} would get replication factor {target_rf} on the target, below the "
                    f"policy minimum {minimum}; declare target_replication_factor: {minimum} or more",
                )


PASS = Pass(ID, run)
