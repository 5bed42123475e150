"""Pass `addresses`: each gateway has addresses of its own.

Every `host:port` already parses (schema: port 1-65535, IPv6 in brackets). Here, across
values: a gateway's Kafka listener and its admin HTTP server need two ports, and no two
gateways listen on one address — `ferry proxy --routes` listens where the route file says, so
two gateways on one host (a VM, host networking, `ferry sandbox`) would fight for the port,
and a client's bootstrap address would not say which gateway it means. `0.0.0.0` (or `[::]`)
is every address of the host, so it collides with any host on the same port.

Admin ports are not compared across gateways: every gateway's admin server defaults to 9100
in its own pod.

Passing::

    gw-service: {listen: 0.0.0.0:9092, admin_port: 9100}
    gw-ads:     {listen: 0.0.0.0:9093, admin_port: 9100}

Failing::

    gw-service: {listen: 0.0.0.0:9100}                  # admin-port-is-listen-port (default 9100)
    gw-ads:     {listen: 10.0.0.5:9092}                 # gateway-address-collision with 0.0.0.0:9092
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, Position
from ..hostport import HostPort, parse_host_port
from ..spec import Specs
from . import Pass

ID = "addresses"


def _collide(a: HostPort, b: HostPort) -> bool:
    return a.port == b.port and (a.host == b.host or a.wildcard or b.wildcard)


def run(specs: Specs) -> Iterator[Diagnostic]:
    clusters = specs.clusters
    seen: list[tuple[str, HostPort, Position]] = []
    for name, gw in clusters.model.gateways.items():
        listen = parse_host_port(gw.listen)
        pos = clusters.at("gateways", name, "listen")
        if listen.port == gw.admin_port:
            explicit = "admin_port" in gw.model_fields_set
            yield Diagnostic(
                clusters.at("gateways", name, "admin_port") if explicit else pos,
                "admin-port-is-listen-port",
                f"gateway {name!r} listens for Kafka clients on port {listen.port} and its admin HTTP server "
                f"{'is set to' if explicit else 'defaults to'} the same port; one port cannot serve both: "
                f"{'change' if explicit else 'set'} `admin_port` (or the listen port) so that they differ",
            )
        for other, other_listen, other_pos in seen:
            if _collide(listen, other_listen):
                yield Diagnostic(
                    pos,
                    "gateway-address-collision",
                    f"gateway {name!r} listens on {listen}, the address gateway {other!r} listens on "
                    f"({other_listen}{', every interface' if other_listen.wildcard or listen.wildcard else ''}); "
                    "two gateways cannot share an address: move one of them to another port",
                    related=((other_pos, f"{other!r} listens"),),
                )
                break
        seen.append((name, listen, pos))


PASS = Pass(ID, run)
