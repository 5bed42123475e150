"""The proxy's metrics, declared once, on ``prometheus_client``.

Each :class:`ProxyMetrics` owns its own :class:`~prometheus_client.CollectorRegistry`
(injectable), so every test - and every proxy in one process - counts on its own and nothing
collides with the library's global registry, which the proxy never touches. Besides the
proxy's own families the registry carries the library's standard collectors: ``process_*``
(resident memory, CPU seconds, open and maximum file descriptors, start time),
``python_info``, and ``python_gc_*`` (collections, collected and uncollectable objects per
generation).

Label values are bounded by construction (STYLE.md 9): rule patterns and cluster names come
from the route file, causes and outcomes from closed enums. A raw client id is never a label;
it goes to the decision log only.

Hot path. ``.labels(...)`` in prometheus_client validates and locks (~10x a dict look-up), so
the labelled families the shell touches per connection are wrapped in :class:`Children`,
which resolves each label tuple once and hands back the same child afterwards; callers that
count per chunk (bytes) keep the child itself.

``_created`` series are switched off (process-wide: the proxy's process is ours): they would
double the number of counter series for a timestamp nobody scrapes for.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

__all__ = ["CONNECT_BUCKETS", "CONTENT_TYPE", "Children", "ProxyMetrics"]

disable_created_metrics()

#: What ``/metrics`` answers with (the text exposition format the library writes).
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# Loopback dials take ~0.1 ms, cross-zone ones a few ms; a dial near the connect timeout
# (seconds) is the interesting tail.
CONNECT_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

M = TypeVar("M", Counter, Gauge, Histogram)


class Children(Generic[M]):
    """A labelled family whose children are resolved once per label tuple."""

    __slots__ = ("_children", "family")

    def __init__(self, family: M) -> None:
        self.family: M = family
        self._children: dict[tuple[str, ...], M] = {}

    def labels(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.family.labels(*values)
        return child


class ProxyMetrics:
    """Every metric the proxy exports, declared once. Names follow Prometheus conventions:
    ``ferry_proxy_`` prefix, ``_total`` counters, base units (seconds, bytes)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, standard_collectors: bool = True) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        if standard_collectors:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        self.accepted = Counter(
            "ferry_proxy_connections_accepted_total", "Client connections accepted on the Kafka listener.",
            registry=r)
        #: The server sets its function (the size of its connection registry), read at scrape.
        self.active = Gauge(
            "ferry_proxy_connections_active", "Client connections open now (any phase).", registry=r)
        self.refused = Children(Counter(
            "ferry_proxy_connections_refused_total",
            "Connections refused on purpose, by reason (fenced, max_connections, shutting_down).", ["reason"],
            registry=r))
        self.closed = Children(Counter(
            "ferry_proxy_connections_closed_total", "Connections closed, by outcome.", ["outcome"], registry=r))
        self.decisions = Children(Counter(
            "ferry_proxy_routing_decisions_total",
            "Routing decisions by rule pattern (or 'default'), action and cluster.", ["rule", "action", "cluster"],
            registry=r))
        self.connect_failures = Children(Counter(
            "ferry_proxy_upstream_connect_failures_total",
            "Failed dials of a bootstrap server, by cluster and reason.", ["cluster", "reason"], registry=r))
        self.connect_seconds = Children(Histogram(
            "ferry_proxy_upstream_connect_seconds",
            "Time to establish an upstream connection (TCP, and TLS when configured).", ["cluster"],
            buckets=CONNECT_BUCKETS, registry=r))
        self.first_frame_errors = Children(Counter(
            "ferry_proxy_first_frame_errors_total",
            "Connections whose first request could not be routed, by cause.", ["cause"], registry=r))
        self.bytes = Children(Counter(
            "ferry_proxy_bytes_total",
            "Bytes forwarded, by direction (upstream = client to cluster) and cluster.", ["direction", "cluster"],
            registry=r))
        self.reloads = Children(Counter(
            "ferry_proxy_route_reloads_total",
            "Route file reload attempts by outcome (applied, unchanged, invalid, missing).", ["outcome"],
            registry=r))
        self.table_info = Gauge(
            "ferry_proxy_route_table_info", "The route table in use (value 1; labels say which).",
            ["gateway", "version"], registry=r)
        self.table_loaded = Gauge(
            "ferry_proxy_route_table_loaded_timestamp_seconds", "Unix time the route table in use was loaded.",
            registry=r)
        self.table_rules = Gauge("ferry_proxy_route_table_rules", "Rules in the route table in use.", registry=r)
        self.table_stale = Gauge(
            "ferry_proxy_route_file_stale",
            "1 when the route file on disk could not be used and the last good table is still serving.",
            registry=r)
        self.fence_held = Gauge(
            "ferry_proxy_fence_held", "Fenced connections held open right now (see --fence-hold).", registry=r)
        self.fence_hold_overflow = Counter(
            "ferry_proxy_fence_hold_overflow_total",
            "Fenced connections closed at once because --max-fence-held were already held.", registry=r)
        self.draining = Gauge("ferry_proxy_draining", "1 while shutting down (not accepting).", registry=r)

    def set_table(self, gateway: str, version: str, loaded_at: float, rules: int) -> None:
        """Publish the route table in use: exactly one ``_info`` series, for this version."""
        self.table_info.clear()
        self.table_info.labels(gateway, version).set(1)
        self.table_loaded.set(loaded_at)
        self.table_rules.set(rules)

    def exposition(self) -> bytes:
        """The registry in the text format of :data:`CONTENT_TYPE` (what ``/metrics`` serves)."""
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """One sample's current value, 0 when it has not been counted yet (tests, the bench)."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

