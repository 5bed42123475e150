"""Pass `cutover`: clients move in a safe order.

* `fence` and `cutover` are not both set (a fence refuses the clients a cutover routes).
* A consumer group cuts over only with both attestations (`idempotent`, `unordered_ok`),
  and only while its topics are mirrored on its own flow (moved by a migration with the
  same source and target).
* A producer cuts over only when every consumer group (in any spec) declared for its
  topics has cut over: otherwise its new messages land where those groups never read.
* A migration is `complete` only when every group and producer of its topics cut over.

Passing::

    consumer_groups:
      mailer: {client_ids: [...], cutover: true,
               attestations: {idempotent: {by: a@x, ref: T-1}, unordered_ok: {by: a@x, ref: T-1}}}
    producers: {api: {client_ids: [...], cutover: true}}

Failing::

    consumer_groups: {mailer: {cutover: true, fence: true}}       # fence-and-cutover
    consumer_groups: {mailer: {cutover: true}}                    # missing-attestation (x2)
    producers: {api: {cutover: true}}  # while group `ledger` still reads -> producer-cutover-before-consumers
    status: complete                   # with a group not cut over     -> complete-with-pending
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..index import Entry, Kind, entries, topic_owners
from ..models import ConsumerGroup, Status
from ..spec import Specs
from . import Pass

ID = "cutover"


def run(specs: Specs) -> Iterator[Diagnostic]:
    owners = topic_owners(specs)
    all_entries = list(entries(specs))
    groups_by_topic: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    users_by_topic: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in all_entries:
        for topic in entry.topics():
            key = (entry.migration.model.source, topic)
            users_by_topic[key].append(entry)
            if entry.is_group:
                groups_by_topic[key].append(entry)

    for entry in all_entries:
        spec = entry.spec
        if spec.fence and spec.cutover:
            yield Diagnostic(
                entry.key_at("fence"),
                "fence-and-cutover",
                f"{entry.label} sets both `fence` and `cutover`; fence first (clients refused while "
                "offsets converge), then replace `fence: true` with `cutover: true`",
            )
        if not spec.cutover:
            continue
        if isinstance(spec, ConsumerGroup):
            for att in ("idempotent", "unordered_ok"):
                if getattr(spec.attestations, att) is None:
                    yield Diagnostic(
                        entry.key_at("cutover"),
                        "missing-attestation",
                        f"{entry.label} cuts over without the `{att}` attestation; add "
                        f"attestations.{att}: {{by: <who>, ref: <ticket>}} once its consumers are "
                        "reviewed (duplicates and interleaving happen during the switch)",
                    )
        for topic in entry.topics():
            for mig in owners.get((entry.migration.model.source, topic), []):
                if (mig.model.source, mig.model.target) != entry.flow:
                    yield Diagnostic(
                        entry.key_at("cutover"),
                        "cutover-not-mirrored",
                        f"{entry.label} cuts over to {entry.flow[1]!r}, but {topic!r} is mirrored to "
                        f"{mig.model.target!r} by migration {mig.name!r}, so its data would not be there; "
                        f"declare this {entry.label.split(' ')[0]} in a migration from {mig.model.source!r} to "
                        f"{mig.model.target!r}, or drop {topic!r} from its topics",
                    )
        if not entry.is_group and entry.migration.model.status is not Status.COMPLETE:
            # (a complete migration's pending groups are reported once, as complete-with-pending)
            pending: dict[str, Entry] = {}
            for topic in entry.topics():
                for group in groups_by_topic[(entry.migration.model.source, topic)]:
                    if not group.spec.cutover:
                        pending.setdefault(group.name, group)
            for name, group in sorted(pending.items()):
                yield Diagnostic(
                    entry.key_at("cutover"),
                    "producer-cutover-before-consumers",
                    f"{entry.label} cuts over while consumer group {name!r} (migration "
                    f"{group.migration.name!r}) has not; its messages would go where {name!r} does not "
                    f"read: cut over {name!r} first",
                    related=((group.key_at("client_ids"), f"group {name!r} declared"),),
                )

    for mig in specs.migrations:
        if mig.model.status is not Status.COMPLETE:
            continue
        not_cut_over: dict[tuple[Kind, str], Entry] = {}
        for legacy in mig.model.topics:
            for user in users_by_topic[(mig.model.source, legacy)]:
                if not user.spec.cutover:
                    not_cut_over.setdefault((user.kind, user.name), user)
        for _, user in sorted(not_cut_over.items()):
            yield Diagnostic(
                mig.at("status"),
                "complete-with-pending",
                f"migration is marked complete but {user.label} (migration {user.migration.name!r}) "
                "has not cut over; cut it over first, or keep `status: active`",
                related=((user.key_at("client_ids"), f"{user.label} declared"),),
            )


PASS = Pass(ID, run, requires=("references",))
