"""Pass `mirrorability`: the rename map is one MirrorMaker 2 can run with Ferry's policy.

`dev.ferry.mirror.RenameReplicationPolicy` needs a map that is a bijection with no chains:
a new name that is also a mirrored legacy name of the same flow makes `a -> b`, `b -> c`
ambiguous (and `a -> b`, `b -> a` recurses in MM2 until the stack overflows). Which names MM2
itself treats as its own, refuses or skips is decided by `compiler/mm2_topics.py` exactly as
Kafka 4.3.1 does (proven against the jars by tests/compiler/test_mm2_topics_jar.py): a name the
policy refuses stops the whole flow; a name `topics.exclude` drops is silently never mirrored.

Passing::

    topics: {orders: shop.order.created.v1, orders.internal: shop.order.audited.v1}

Failing::

    topics: {orders: shop.orders.v1, shop.orders.v1: shop.order.v2}   # rename-cycle (a chain)
    topics: {payments.replica: shop.payment.v1}                       # topic-excluded-by-mm2
    topics: {.orders: shop.order.v1}                                  # topic-internal-to-mm2
    topics: {eu.checkpoints.internal: shop.checkpoint.v1}             # topic-internal-to-mm2
    topics: {orders: __orders}                                        # topic-internal-to-mm2 (new name)
    consumer_groups: {connect-billing: {…}}                           # group-excluded-by-mm2
    topics: {orders: orders}                                          # rename-cycle (identity)
    topics: {heartbeats: shop.heartbeat.sent.v1}                      # topic-is-mm2-heartbeats
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..index import active
from ..mm2_topics import Effect, Verdict, mm2_view
from ..spec import Migration, Specs
from . import Pass

ID = "mirrorability"

# Kafka 4.3.1's DefaultGroupFilter groups.exclude (`console-consumer-.*, connect-.*, __.*`), as prefixes.
MM2_DEFAULT_GROUP_EXCLUDE_PREFIXES = ("console-consumer-", "connect-", "__")

_WHAT = {
    "topic-internal-to-mm2": "is internal to MirrorMaker 2",
    "topic-is-mm2-heartbeats": "is named like MirrorMaker 2's heartbeats topics",
    "topic-excluded-by-mm2": "is skipped by MirrorMaker 2's default topics.exclude",
}


def verdict_message(v: Verdict, source: str, target: str) -> str:
    """What is wrong (the rule, in words), what it does to the flow, how to fix it."""
    title = "legacy topic" if v.side == "legacy" else "new topic name"
    if v.effect is Effect.REFUSED:
        effect = (
            "Ferry's rename policy refuses a rename map that names it, which stops the whole flow "
            f"{source} -> {target} for every team on it"
        )
        if v.side == "legacy" and v.code == "topic-internal-to-mm2":
            effect = "MM2 never mirrors it, and " + effect
    else:
        effect = "MM2 would silently never mirror it"
    if v.side == "new":
        fix = "pick another new name (the target's naming convention)"
    elif v.code == "topic-internal-to-mm2":
        fix = (
            "remove it from `topics` (internal topics are recreated by their owners, not migrated), "
            "or copy its data to an ordinarily named legacy topic and list that one"
        )
    else:
        fix = "copy its data to a legacy topic with another name and list that one, or remove it from `topics`"
    return f"{title} {v.name!r} {_WHAT[v.code]} ({v.rule}: {v.why}): {effect}; {fix}"


def run(specs: Specs) -> Iterator[Diagnostic]:
    flows: dict[tuple[str, str], dict[str, tuple[str, Migration]]] = defaultdict(dict)
    for mig in specs.migrations:
        if not active(mig):
            continue
        source, target = mig.model.source, mig.model.target
        for legacy in sorted(mig.model.topics):
            new = mig.model.renamed(legacy).to
            flows[(source, target)][legacy] = (new, mig)
            for v in mm2_view(legacy, new, source=source, target=target):
                if v.code == "topic-mm2-cycle":
                    continue  # only a self-pair on a flow into its own source: rename-cycle reports it
                yield Diagnostic(
                    mig.key_at("topics", legacy) if v.side == "legacy" else mig.at("topics", legacy),
                    v.code,
                    verdict_message(v, source, target),
                )
        for group in sorted(mig.model.consumer_groups):
            prefix = next((p for p in MM2_DEFAULT_GROUP_EXCLUDE_PREFIXES if group.startswith(p)), None)
            if prefix is not None:
                yield Diagnostic(
                    mig.key_at("consumer_groups", group),
                    "group-excluded-by-mm2",
                    f"consumer group {group!r} starts with {prefix!r}, which MirrorMaker 2's default "
                    "groups.exclude skips (console-consumer-, connect- and __ prefixes): its offsets would "
                    "never be synced and it would restart from scratch on the target; use another group id "
                    "before migrating it",
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
