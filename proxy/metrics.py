"""A tiny Prometheus registry and the proxy's metrics, declared once.

No dependency: the proxy needs counters, gauges and one histogram in the text exposition
format (https://prometheus.io/docs/instrumenting/exposition_formats/), which is a page of
code. A :class:`Registry` is an ordinary object, so every test (and every proxy in one
process) gets its own and nothing collides.

Label values are bounded by construction (STYLE.md 9): rule patterns and cluster names come
from the route file, causes and outcomes from closed enums. A raw client id is never a label;
it goes to the decision log only.

Hot-path cost: ``family.labels(...)`` resolves a child once; callers keep the child and call
``inc`` on it (an attribute add), so counting bytes per chunk stays cheap.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["Counter", "Gauge", "Histogram", "ProxyMetrics", "Registry"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _label_text(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Value:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: float = 0

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = value


class _Family:
    kind: str = ""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], object] = {}

    def _new_child(self) -> object:
        return _Value()

    def labels(self, *values: str):  # noqa: ANN201 - the child type depends on the family
        child = self._children.get(values)
        if child is not None:
            return child
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        if not all(isinstance(v, str) for v in values):
            raise TypeError(f"{self.name}: label values must be str, got {values!r}")
        child = self._children[values] = self._new_child()
        return child

    def clear(self) -> None:
        self._children.clear()

    def samples(self) -> Iterable[str]:
        for key, child in sorted(self._children.items()):
            yield f"{self.name}{_label_text(self.labelnames, key)} {_number(child.value)}"  # type: ignore[attr-defined]

    def expose(self) -> str:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}", *self.samples()]
        return "\n".join(lines) + "\n"

    def value(self, *values: str) -> float:
        """The current value of one child (tests)."""
        child = self._children.get(tuple(values))
        return 0 if child is None else child.value  # type: ignore[attr-defined]


class Counter(_Family):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name} must end in _total")
        super().__init__(name, help_text, labelnames)
        if not self.labelnames:
            self.labels()

    def inc(self, amount: float = 1) -> None:
        self.labels().inc(amount)


class Gauge(_Family):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        if not self.labelnames:
            self.labels()

    def set(self, value: float) -> None:
        self.labels().set(value)

    def inc(self, amount: float = 1) -> None:
        self.labels().inc(amount)

    def dec(self, amount: float = 1) -> None:
        self.labels().dec(amount)

    def set_only(self, *values: str) -> None:
        """An info-style gauge: exactly one child, with these labels, set to 1."""
        self.clear()
        self.labels(*values).set(1)


class _HistogramChild:
    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1


class Histogram(_Family):
    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = ()
    ) -> None:
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted(buckets))

    def _new_child(self) -> object:
        return _HistogramChild(self.buckets)

    def samples(self) -> Iterable[str]:
        for key, child in sorted(self._children.items()):
            assert isinstance(child, _HistogramChild)
            running = 0
            for bound, count in zip((*self.buckets, math.inf), child.counts):
                running += count
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_label_text(self.labelnames, key, le)} {running}"
            yield f"{self.name}_sum{_label_text(self.labelnames, key)} {_number(child.sum)}"
            yield f"{self.name}_count{_label_text(self.labelnames, key)} {child.count}"

    def value(self, *values: str) -> float:
        child = self._children.get(tuple(values))
        return 0 if child is None else child.count  # type: ignore[attr-defined]


class Registry:
    """Families in declaration order; ``expose()`` renders them all."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}

    def register(self, family: _Family) -> _Family:
        if family.name in self._families:
            raise ValueError(f"metric {family.name} declared twice")
        self._families[family.name] = family
        return family

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        return self.register(Counter(name, help_text, labelnames))  # type: ignore[return-value]

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self.register(Gauge(name, help_text, labelnames))  # type: ignore[return-value]

    def histogram(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = ()
    ) -> Histogram:
        return self.register(Histogram(name, help_text, labelnames, buckets))  # type: ignore[return-value]

    def expose(self) -> str:
        return "".join(f.expose() for f in self._families.values())


CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

# Loopback dials take ~0.1 ms, cross-zone ones a few ms; a dial near the connect timeout
# (seconds) is the interesting tail.
CONNECT_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ProxyMetrics:
    """Every metric the proxy exports, declared once. Names follow Prometheus conventions:
    ``ferry_proxy_`` prefix, ``_total`` counters, base units (seconds, bytes)."""

    def __init__(self, registry: Registry | None = None) -> None:
        r = self.registry = registry if registry is not None else Registry()
        self.accepted = r.counter(
            "ferry_proxy_connections_accepted_total", "Client connections accepted on the Kafka listener.")
        self.active = r.gauge(
            "ferry_proxy_connections_active", "Client connections open now (any phase).")
        self.refused = r.counter(
            "ferry_proxy_connections_refused_total",
            "Connections refused on purpose, by reason (fenced, max_connections).", ["reason"])
        self.closed = r.counter(
            "ferry_proxy_connections_closed_total", "Connections closed, by outcome.", ["outcome"])
        self.decisions = r.counter(
            "ferry_proxy_routing_decisions_total",
            "Routing decisions by rule pattern (or 'default'), action and cluster.", ["rule", "action", "cluster"])
        self.connect_failures = r.counter(
            "ferry_proxy_upstream_connect_failures_total",
            "Failed dials of a bootstrap server, by cluster and reason.", ["cluster", "reason"])
        self.connect_seconds = r.histogram(
            "ferry_proxy_upstream_connect_seconds",
            "Time to establish an upstream connection (TCP, and TLS when configured).", ["cluster"],
            CONNECT_BUCKETS)
        self.first_frame_errors = r.counter(
            "ferry_proxy_first_frame_errors_total",
            "Connections whose first request could not be routed, by cause.", ["cause"])
        self.bytes = r.counter(
            "ferry_proxy_bytes_total",
            "Bytes forwarded, by direction (upstream = client to cluster) and cluster.", ["direction", "cluster"])
        self.reloads = r.counter(
            "ferry_proxy_route_reloads_total",
            "Route file reload attempts by outcome (applied, unchanged, invalid, missing).", ["outcome"])
        self.table_info = r.gauge(
            "ferry_proxy_route_table_info", "The route table in use (value 1; labels say which).",
            ["gateway", "version"])
        self.table_loaded = r.gauge(
            "ferry_proxy_route_table_loaded_timestamp_seconds", "Unix time the route table in use was loaded.")
        self.table_rules = r.gauge("ferry_proxy_route_table_rules", "Rules in the route table in use.")
        self.table_stale = r.gauge(
            "ferry_proxy_route_file_stale",
            "1 when the route file on disk could not be used and the last good table is still serving.")
        self.draining = r.gauge("ferry_proxy_draining", "1 while shutting down (not accepting).")
