"""`ferry explain`: which rule decides a client id, on every gateway (or one)."""

from __future__ import annotations

from .org import Org


def explain(org: Org, client_id: str, gateway: str | None = None) -> list[str]:
    lines = []
    for gw in org.gateways:
        table = gw.table
        if gateway and table.gateway != gateway:
            continue
        d = table.decide(client_id)
        if d.rule is None or d.index is None:
            target = table.clusters[table.default_cluster]
            lines.append(
                f"{table.gateway}: {client_id!r} matches no rule -> default cluster {table.default_cluster} "
                f"({', '.join(target.bootstrap)})"
            )
            continue
        matched = (f"{table.gateway}: {client_id!r} matches rule #{d.index + 1} `{d.rule.match}` "
                   f"({d.rule.entry}, migration {d.rule.migration})")
        if d.cluster is None:  # a fence
            lines.append(f"{matched} -> REFUSED (fence); from {d.rule.source}")
        else:
            target = table.clusters[d.cluster]
            lines.append(f"{matched} -> cluster {d.cluster} ({', '.join(target.bootstrap)}); from {d.rule.source}")
    return lines
