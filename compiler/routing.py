"""Route tables, as the compiler sees them: the contract itself lives in :mod:`proxy.routetable`
(standard library only, so the proxy deploys without the compiler; the dependency points
compiler -> proxy). This module only re-exports it for callers that have not moved yet;
new code imports :mod:`proxy.routetable`.
"""

from __future__ import annotations

from proxy.routetable import (
    ROUTES_FORMAT,
    Decision,
    Endpoint,
    RouteFileError,
    RouteRule,
    RouteTable,
    build_table,
    content_version,
    parse_route_file,
    route_file_text,
)

__all__ = [
    "ROUTES_FORMAT",
    "Decision",
    "Endpoint",
    "RouteFileError",
    "RouteRule",
    "RouteTable",
    "build_table",
    "content_version",
    "parse_route_file",
    "route_file_text",
]
