"""`ferry status`: where every migration stands, with live evidence.

Pure: the validated specs, the committed route tables (what the proxy runs) and the proxy's
decision-log records in; one row per consumer group and producer out, plus the client ids
that still reach a legacy cluster through no rule at all ("who still uses legacy").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from proxy.routetable import RouteTable

from ..glob import glob_matches
from ..index import Entry, entries
from ..models import Status
from ..spec import Specs

if TYPE_CHECKING:  # the reader talks to Kafka; status itself needs no client library
    from .facts import Reader


@dataclass
class Seen:
    connections: int = 0
    last: float | None = None
    client_ids: set[str] = field(default_factory=set)

    def add(self, ts: float, client_id: str | None) -> None:
        self.connections += 1
        self.last = ts if self.last is None else max(self.last, ts)
        if client_id is not None and len(self.client_ids) < 5:
            self.client_ids.add(client_id)


@dataclass
class EntryStatus:
    migration: str
    kind: str
    name: str
    stage: str
    route: str
    legacy: Seen
    target: Seen
    refused: Seen
    offset_delta: int | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("legacy", "target", "refused"):
            d[k]["client_ids"] = sorted(d[k]["client_ids"])
        return d


def read_decision_log(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for raw in lines:
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "connection":
            yield rec


def _stage(entry: Entry, complete: bool) -> str:
    if complete:
        return "complete"
    if entry.spec.fence:
        return "fenced"
    return "cut over" if entry.spec.cutover else "on legacy (mirroring)" if entry.is_group else "on legacy"


def build_status(
    specs: Specs, tables: dict[str, RouteTable], records: Iterable[dict[str, Any]]
) -> tuple[list[EntryStatus], dict[str, Seen]]:
    rows: list[EntryStatus] = []
    by_pattern: dict[tuple[str, str], EntryStatus] = {}
    for e in entries(specs):
        mig = e.migration.model
        table = tables.get(mig.gateway)
        route = "not rendered"
        if table is not None:
            rules = [r for r in table.rules if r.match in e.spec.client_ids]
            routes = {"refused (fence)" if r.action == "fence" else str(r.cluster) for r in rules}
            route = ", ".join(sorted(routes)) or "default"
        row = EntryStatus(
            e.migration.name, "group" if e.is_group else "producer", e.name,
            _stage(e, mig.status is Status.COMPLETE), route, Seen(), Seen(), Seen(),
        )
        rows.append(row)
        for pattern in e.spec.client_ids:
            by_pattern[(mig.gateway, pattern)] = row
    legacy = {n for n, c in specs.clusters.model.clusters.items() if c.role.value == "legacy"}
    unmatched: dict[str, Seen] = {}
    for rec in records:
        ts, cid, gw = float(rec.get("ts", 0)), rec.get("client_id"), rec.get("gateway", "")
        rule = rec.get("rule")
        owner = by_pattern.get((gw, rule)) if rule else None
        if owner is None and cid is not None and rule:
            owner = next((r for (g, p), r in by_pattern.items() if g == gw and glob_matches(p, cid)), None)
        if owner is not None:
            if rec.get("action") == "fence":
                owner.refused.add(ts, cid)
            elif rec.get("cluster") in legacy:
                owner.legacy.add(ts, cid)
            elif rec.get("cluster"):
                owner.target.add(ts, cid)
        elif rec.get("cluster") in legacy:
            unmatched.setdefault(f"{gw} -> {rec['cluster']}: {cid!r}", Seen()).add(ts, cid)
    return rows, unmatched


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def offset_deltas(specs: Specs, rows: list[EntryStatus], reader: Reader) -> None:
    """Fill `offset_delta` for groups in transition (fenced or cut over, mirroring active):
    over all partitions, how far the target's translated position differs from legacy's
    (records a restarted consumer would re-read or skip)."""
    migs = {m.name: m for m in specs.migrations}
    for row in rows:
        mig = migs[row.migration]
        if row.kind != "group" or row.stage not in ("fenced", "cut over") or mig.model.status is not Status.ACTIVE:
            continue
        spec = mig.model
        src = reader.groups(spec.source, [row.name]).get(row.name)
        on_target = row.name in reader.group_ids(spec.target)
        tgt = reader.groups(spec.target, [row.name]).get(row.name) if on_target else None
        if src is None or tgt is None:
            continue
        topics = sorted({t for (t, _) in src.committed if t in spec.topics})
        s_facts = reader.topics(spec.source, topics)
        t_facts = reader.topics(spec.target, [spec.renamed(t).to for t in topics])
        delta = 0
        for (topic, p), c_s in src.committed.items():
            if topic not in spec.topics:
                continue
            new = spec.renamed(topic).to
            s, t = s_facts.get(topic), t_facts.get(new)
            if s is None or t is None or (new, p) not in tgt.committed:
                continue
            delta += abs((c_s - s.low[p]) - (tgt.committed[(new, p)] - t.low.get(p, 0)))
        row.offset_delta = delta


def format_status(rows: list[EntryStatus], unmatched: dict[str, Seen]) -> str:
    header = (
        "MIGRATION", "KIND", "NAME", "STAGE", "ROUTE", "LAST ON LEGACY", "LAST ON TARGET", "REFUSED", "OFFSET DELTA"
    )
    table = [header] + [
        (r.migration, r.kind, r.name, r.stage, r.route,
         f"{_when(r.legacy.last)} ({r.legacy.connections})" if r.legacy.connections else "-",
         f"{_when(r.target.last)} ({r.target.connections})" if r.target.connections else "-",
         str(r.refused.connections) if r.refused.connections else "-",
         "-" if r.offset_delta is None else str(r.offset_delta))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    out = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in table]
    still = [r for r in rows if r.legacy.connections and r.stage in ("cut over", "complete")]
    if still:
        out.append("")
        out.append("cut over but still seen on legacy (restart these instances with the new client ids):")
        out.extend(f"  {r.migration} {r.kind} {r.name}: {', '.join(sorted(r.legacy.client_ids))}" for r in still)
    if unmatched:
        out.append("")
        out.append("who still uses legacy through no rule (undeclared clients):")
        for where, seen in sorted(unmatched.items(), key=lambda kv: -(kv[1].last or 0)):
            out.append(f"  {where}: {seen.connections} connection(s), last {_when(seen.last)}")
    return "\n".join(out) + "\n"
