"""Pass `mirrorability`: the rename map is one MirrorMaker 2 can run with Ferry's policy.

`dev.ferry.mirror.RenameReplicationPolicy` needs a map that is a bijection with no chains:
a new name that is also a mirrored legacy name of the same flow makes `a -> b`, `b -> c`
ambiguous (and `a -> b`, `b -> a` recurses in MM2 until the stack overflows). MM2's default
`topics.exclude` (Kafka 4.3.1: `mm2.*\\.internal`, `.*\\.replica`, `__.*`) silently drops matching legacy
topics, so such a topic would never be mirrored.

Passing::

    topics: {orders: shop.order.created.v1}

Failing::

    topics: {orders: shop.orders.v1, shop.orders.v1: shop.order.v2}   # rename-cycle (a chain)
    topics: {payments.replica: shop.payment.v1}                       # topic-excluded-by-mm2
    topics: {.orders: shop.order.v1}                                  # topic-leading-dot
    consumer_groups: {connect-billing: {…}}                           # group-excluded-by-mm2
    topics: {orders: orders}                                          # rename-cycle (identity)
    topics: {heartbeats: shop.heartbeat.sent.v1}                      # topic-is-mm2-heartbeats
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..index import active
from ..spec import Migration, Specs
from . import Pass

ID = "mirrorability"

# Kafka 4.3.1's defaults (DefaultTopicFilter, DefaultGroupFilter), verified live.
MM2_DEFAULT_EXCLUDE = re.compile(r"mm2.*\.internal|.*\.replica|__.*")
MM2_DEFAULT_GROUP_EXCLUDE = re.compile(r"console-consumer-.*|connect-.*|__.*")
# MM2's own heartbeat topics (`heartbeats`, `<alias>.heartbeats`): the policy keeps their
# default naming, so a user topic with such a name can be neither renamed nor told apart.
MM2_HEARTBEATS = re.compile(r"(.*\.)?heartbeats")


def run(specs: Specs) -> Iterator[Diagnostic]:
    flows: dict[tuple[str, str], dict[str, tuple[str, Migration]]] = defaultdict(dict)
    for mig in specs.migrations:
        if not active(mig):
            continue
        for legacy in sorted(mig.model.topics):
            flows[(mig.model.source, mig.model.target)][legacy] = (mig.model.renamed(legacy).to, mig)
            if MM2_DEFAULT_EXCLUDE.fullmatch(legacy):
                yield Diagnostic(
                    mig.key_at("topics", legacy),
                    "topic-excluded-by-mm2",
                    f"legacy topic {legacy!r} matches MirrorMaker 2's default topics.exclude "
                    "(mm2.*\\.internal, .*\\.replica, __.*) and would never be mirrored; "
                    "remove it from the rename map (internal topics are recreated by their owners, "
                    "not migrated), or rename the legacy topic first",
                )
            for name, where in ((legacy, "legacy"), (mig.model.renamed(legacy).to, "new")):
                if name.startswith("."):
                    yield Diagnostic(
                        mig.key_at("topics", legacy) if where == "legacy" else mig.at("topics", legacy),
                        "topic-leading-dot",
                        f"{where} topic name {name!r} starts with '.', which the rename policy cannot "
                        "map (MM2 treats '.' as its separator): rename the topic first, or leave it out",
                    )
                if MM2_HEARTBEATS.fullmatch(name):
                    yield Diagnostic(
                        mig.key_at("topics", legacy) if where == "legacy" else mig.at("topics", legacy),
                        "topic-is-mm2-heartbeats",
                        f"{where} topic name {name!r} is MirrorMaker 2's heartbeats topic name; MM2 would "
                        "treat it as its own: pick another name (or leave this topic out of the migration)",
                    )
        for group in sorted(mig.model.consumer_groups):
            if MM2_DEFAULT_GROUP_EXCLUDE.fullmatch(group):
                yield Diagnostic(
                    mig.key_at("consumer_groups", group),
                    "group-excluded-by-mm2",
                    f"consumer group {group!r} matches MirrorMaker 2's default groups.exclude "
                    "(console-consumer-.*, connect-.*, __.*): its offsets would never be synced and it "
                    "would restart from scratch on the target; use another group id before migrating it",
                )
    for (source, target), renames in sorted(flows.items()):
        for legacy, (new, mig) in sorted(renames.items()):
            if new == legacy:
                yield Diagnostic(
                    mig.key_at("topics", legacy),
                    "rename-cycle",
                    f"{legacy!r} is renamed to itself; Ferry's policy needs a new name "
                    "(the target's naming convention) for every mirrored topic",
                )
            elif new in renames:
                yield Diagnostic(
                    mig.key_at("topics", legacy),
                    "rename-cycle",
                    f"{legacy!r} -> {new!r}, but {new!r} is itself a legacy topic mirrored from "
                    f"{source!r} to {target!r} (-> {renames[new][0]!r}); MirrorMaker 2 cannot tell "
                    "the two apart: rename to a name no legacy topic of this flow has",
                    related=((renames[new][1].key_at("topics", new), f"{new!r} mirrored"),),
                )


PASS = Pass(ID, run)
