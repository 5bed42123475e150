"""`ferry status`: where every migration stands, with live evidence.

Pure: the validated specs, the committed route tables (what the proxy runs) and the proxy's
decision-log records in; one row per consumer group and producer out, plus the client ids
that still reach a legacy cluster through no rule at all ("who still uses legacy").

From the log's events (docs/proxy.md, "Decision log"): ``open`` and ``connection`` lines
count bootstraps and say who is connected right now (opened, not yet closed, and no later
``start`` of a new proxy process in the same log); ``fenced`` lines carry a count of refusals,
and a client refused within its last hold plus one log window is still waiting in a fence.
"""

from __future__ import annotations

import json
import time
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

    def add(self, ts: float, client_id: str | None, count: int = 1) -> None:
        self.connections += count
        self.touch(ts)
        if client_id is not None and len(self.client_ids) < 5:
            self.client_ids.add(client_id)

    def touch(self, ts: float) -> None:
        self.last = ts if self.last is None else max(self.last, ts)


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
    #: Connected right now, by cluster role (``legacy``/``target``).
    connected_now: dict[str, Seen] = field(default_factory=dict)
    #: Client ids refused within their last hold and log window: waiting in a fence now.
    fenced_now: Seen = field(default_factory=Seen)

    def now_text(self) -> str:
        parts = [f"{role} {seen.connections}" for role, seen in sorted(self.connected_now.items())]
        if self.fenced_now.connections:
            parts.append(f"fenced {self.fenced_now.connections}")
        return ", ".join(parts) or "-"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for seen in (d["legacy"], d["target"], d["refused"], d["fenced_now"], *d["connected_now"].values()):
            seen["client_ids"] = sorted(seen["client_ids"])
        return d


EVENTS = ("start", "open", "connection", "fenced")


def read_decision_log(lines: Iterable[str], source: int = 0) -> Iterator[dict[str, Any]]:
    """The decision-log records of one log (``source`` tells logs apart: a ``start`` line ends
    the open connections of earlier proxy processes in the same log only)."""
    for raw in lines:
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("event") in EVENTS:
            rec["_source"] = source
            yield rec


def _stage(entry: Entry, complete: bool) -> str:
    if complete:
        return "complete"
    if entry.spec.fence:
        return "fenced"
    return "cut over" if entry.spec.cutover else "on legacy (mirroring)" if entry.is_group else "on legacy"


def build_status(
    specs: Specs, tables: dict[str, RouteTable], records: Iterable[dict[str, Any]], now: float | None = None
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

    def owner_of(rec: dict[str, Any]) -> EntryStatus | None:
        cid, gw, rule = rec.get("client_id"), rec.get("gateway", ""), rec.get("rule")
        owner = by_pattern.get((gw, rule)) if rule else None
        if owner is None and cid is not None and rule:
            owner = next((r for (g, p), r in by_pattern.items() if g == gw and glob_matches(p, cid)), None)
        return owner

    open_now: dict[tuple[Any, str], dict[str, Any]] = {}
    fences: dict[tuple[str, str | None], tuple[float, dict[str, Any]]] = {}
    for rec in records:
        event, ts, cid = rec.get("event", "connection"), float(rec.get("ts", 0)), rec.get("client_id")
        if event == "start":
            gone = [k for k, r in open_now.items()
                    if k[0] == rec.get("_source") and r.get("gateway") == rec.get("gateway")
                    and not str(r.get("conn", "")).startswith(f"{rec.get('instance')}-")]
            for k in gone:
                del open_now[k]
            continue
        conn = rec.get("conn")
        if event == "connection" and conn is not None and (rec.get("_source"), conn) in open_now:
            del open_now[(rec.get("_source"), conn)]
            owner = owner_of(rec)
            if owner is not None and rec.get("cluster"):
                (owner.legacy if rec["cluster"] in legacy else owner.target).touch(ts)
            continue  # counted when it opened
        if event == "open" and conn is not None:
            open_now[(rec.get("_source"), conn)] = rec
        owner = owner_of(rec)
        if event == "fenced":
            if owner is not None:
                owner.refused.add(ts, cid, int(rec.get("count", 1)))
            key = (rec.get("gateway", ""), cid)
            if key not in fences or fences[key][0] <= ts:
                fences[key] = (ts, rec)
            continue
        if owner is not None:
            if rec.get("action") == "fence":  # a log from before refusals were aggregated
                owner.refused.add(ts, cid)
            elif rec.get("cluster") in legacy:
                owner.legacy.add(ts, cid)
            elif rec.get("cluster"):
                owner.target.add(ts, cid)
        elif rec.get("cluster") in legacy:
            unmatched.setdefault(f"{rec.get('gateway', '')} -> {rec['cluster']}: {cid!r}", Seen()).add(ts, cid)
    for rec in open_now.values():
        owner = owner_of(rec)
        if owner is not None and rec.get("cluster"):
            role = "legacy" if rec["cluster"] in legacy else "target"
            owner.connected_now.setdefault(role, Seen()).add(float(rec.get("ts", 0)), rec.get("client_id"))
    clock = time.time() if now is None else now
    for ts, rec in fences.values():
        owner = owner_of(rec)
        waiting = ts + float(rec.get("hold_s", 0)) + float(rec.get("window_s", 0))
        if owner is not None and waiting >= clock:
            owner.fenced_now.add(ts, rec.get("client_id"))
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
        "MIGRATION", "KIND", "NAME", "STAGE", "ROUTE", "LAST ON LEGACY", "LAST ON TARGET", "REFUSED", "NOW",
        "OFFSET DELTA",
    )
    table = [header] + [
        (r.migration, r.kind, r.name, r.stage, r.route,
         f"{_when(r.legacy.last)} ({r.legacy.connections})" if r.legacy.connections else "-",
         f"{_when(r.target.last)} ({r.target.connections})" if r.target.connections else "-",
         str(r.refused.connections) if r.refused.connections else "-",
         r.now_text(),
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
    waiting = [r for r in rows if r.fenced_now.connections]
    if waiting:
        out.append("")
        out.append("waiting in a fence now (refused within their last hold; they reconnect when the fence lifts):")
        out.extend(f"  {r.migration} {r.kind} {r.name}: {', '.join(sorted(r.fenced_now.client_ids))}" for r in waiting)
    connected = [r for r in rows if r.connected_now]
    if connected:
        out.append("")
        out.append("connected now (through the proxy, not yet closed):")
        for r in connected:
            for role, seen in sorted(r.connected_now.items()):
                ids = ", ".join(sorted(seen.client_ids))
                out.append(f"  {r.migration} {r.kind} {r.name} on {role}: {seen.connections} ({ids})")
    if unmatched:
        out.append("")
        out.append("who still uses legacy through no rule (undeclared clients):")
        for where, seen in sorted(unmatched.items(), key=lambda kv: -(kv[1].last or 0)):
            out.append(f"  {where}: {seen.connections} connection(s), last {_when(seen.last)}")
    return "\n".join(out) + "\n"
