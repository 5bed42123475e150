"""The committed route tables: what the proxy runs (read from a rendered tree)."""

from __future__ import annotations

from pathlib import Path

from proxy.routetable import RouteFileError, RouteTable, parse_route_file

from ..output import read_tree


def committed_tables(rendered: Path) -> dict[str, RouteTable]:
    """The route tables of a rendered tree by gateway (unreadable files are skipped)."""
    out = {}
    for rel, text in read_tree(rendered).items():
        if rel.startswith("proxy/") and rel.endswith(".routes.json"):
            try:
                table = parse_route_file(text, rel)
            except RouteFileError:
                continue
            out[table.gateway] = table
    return out
