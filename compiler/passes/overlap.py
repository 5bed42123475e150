"""Pass `overlap`: no client id can match patterns of two different entries.

The proxy routes a connection by the first rule its client id matches; if two entries'
patterns could match one id, which team's route applies would depend on rule order. So
every consumer group and producer owns a disjoint set of ids, across all specs. An overlap
is reported on both patterns, each naming the other: the later file is not always the one
to change. Decided
exactly for Ferry's globs (`*`, `?`) by `compiler.glob`, whose index bounds candidates by
both literal ends, so thousands of patterns stay near-linear even when they share one long
prefix.

Passing::

    consumer_groups: {mailer: {client_ids: ["billing.mailer.*"]}}
    producers:       {api:    {client_ids: ["billing.api.*"]}}

Failing::

    consumer_groups: {mailer: {client_ids: ["billing.mail*"]}}
    producers:       {api:    {client_ids: ["billing.mailer-api.*"]}}   # client-id-overlap, on both
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..glob import OverlapIndex
from ..index import Entry, entries
from ..spec import Specs
from . import Pass

ID = "overlap"


def run(specs: Specs) -> Iterator[Diagnostic]:
    by_key: dict[tuple[str, str, str], tuple[Entry, dict[str, int]]] = {}
    items = []
    for entry in entries(specs):
        key = (entry.migration.file, entry.kind, entry.name)
        index_of: dict[str, int] = {}
        for i, pattern in enumerate(entry.spec.client_ids):
            index_of.setdefault(pattern, i)
            items.append((pattern, key))
        by_key[key] = (entry, index_of)
    for ov in OverlapIndex(items).overlaps():
        (pa, ka), (pb, kb) = ov.first, ov.second
        ea, ia = by_key[ka]
        eb, ib = by_key[kb]
        pos_a, pos_b = ea.at("client_ids", ia[pa]), eb.at("client_ids", ib[pb])
        # Both sides are told, each on its own line: either team may be the one to change.
        for (here, p_here, at_here), (there, p_there, at_there) in (
            ((ea, pa, pos_a), (eb, pb, pos_b)),
            ((eb, pb, pos_b), (ea, pa, pos_a)),
        ):
            where = "this spec" if here.migration is there.migration else f"migration {there.migration.name!r}"
            other_team = there.migration.model.team
            agree = "" if other_team == here.migration.model.team else f"; agree with team {other_team!r} who changes"
            yield Diagnostic(
                at_here,
                "client-id-overlap",
                f"client-id pattern {p_here!r} of {here.label} overlaps {p_there!r} of {there.label} in "
                f"{where}: some client id would match both, so its route would be ambiguous; make the "
                f"patterns disjoint (e.g. a more specific literal part){agree}",
                related=((at_there, f"{p_there!r}"),),
            )

PASS = Pass(ID, run)
