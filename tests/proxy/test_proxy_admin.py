"""Admin HTTP and metrics: endpoints, the Prometheus text format, bounded labels, the
standard process and Python collectors, one registry per proxy."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from proxy.metrics import CONTENT_TYPE, ProxyMetrics
from proxy_harness import RunningProxy, make_table, write_routes
from tests.tools.kafka_frames import encode_api_versions_request

SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="(\\.|[^"\\])*",?)*\})? -?[0-9.e+Inf-]+$')
PROCESS_FAMILIES = {"process_resident_memory_bytes", "process_open_fds", "process_max_fds", "process_cpu_seconds"}


@pytest.fixture
def proxy(tmp_path: Path, dead_address: str) -> Iterator[RunningProxy]:
    path = tmp_path / "gw.routes.json"
    write_routes(path, make_table({"down": [dead_address]}, [("fenced.*", "fence", None)], default="down"))
    with RunningProxy(path) as p:
        yield p


def test_healthz_readyz_routes_and_404(proxy: RunningProxy) -> None:
    assert proxy.admin("/healthz") == (200, "text/plain", "ok\n")
    status, ctype, body = proxy.admin("/readyz")
    ready = json.loads(body)
    assert (status, ctype) == (200, "application/json")
    assert ready["ready"] is True and ready["stale"] is False and ready["gateway"] == "gw-test"
    status, _, body = proxy.admin("/routes")
    routes = json.loads(body)
    assert status == 200
    assert proxy.server is not None
    assert routes["version"] == routes["table"]["version"] == proxy.server.routes.table.version
    assert routes["source"] == str(proxy.routes) and routes["loaded_at"] > 0
    assert routes["table"]["rules"][0]["match"] == "fenced.*"
    assert proxy.admin("/nope")[0] == 404
    assert proxy.admin("/metrics", method="POST")[0] == 405
    assert proxy.admin("/healthz", method="HEAD")[:2] == (200, "text/plain")


def test_a_garbage_or_silent_admin_client_does_not_hurt(proxy: RunningProxy) -> None:
    assert proxy.server is not None and proxy.server.admin_address is not None
    host, port = proxy.server.admin_address.host, proxy.server.admin_address.port
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"\x00" * 10000 + b"\r\n\r\n")
        assert s.recv(100) == b""
    silent = socket.create_connection((host, port))
    assert proxy.admin("/healthz")[0] == 200
    silent.close()


def test_metrics_are_prometheus_text_and_never_carry_client_ids(proxy: RunningProxy) -> None:
    client_ids = [f"secret-client-{i}" for i in range(5)] + ["fenced.one"]
    for cid in client_ids:
        with socket.create_connection(proxy.address, timeout=5) as s:
            s.sendall(encode_api_versions_request(3, 1, cid))
            if not cid.startswith("fenced."):  # a fenced one is held; this client leaves
                assert s.recv(10) == b""
    with socket.create_connection(proxy.address, timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x10")
        s.recv(10)
    proxy.wait_for(lambda: len(proxy.records) == 7)
    status, ctype, text = proxy.admin("/metrics")
    assert status == 200 and ctype == CONTENT_TYPE and ctype.startswith("text/plain; version=")
    for line in text.splitlines():
        assert line.startswith(("# HELP ", "# TYPE ")) or SAMPLE.match(line), line
    for cid in client_ids:
        assert cid not in text
    assert "ferry_proxy_connections_accepted_total 7.0" in text
    assert 'ferry_proxy_routing_decisions_total{action="route",cluster="down",rule="default"} 5.0' in text
    assert 'ferry_proxy_routing_decisions_total{action="fence",cluster="",rule="fenced.*"} 1.0' in text
    assert 'ferry_proxy_upstream_connect_failures_total{cluster="down",reason="refused"} 5.0' in text
    assert 'ferry_proxy_first_frame_errors_total{cause="tls"} 1.0' in text
    assert 'ferry_proxy_connections_closed_total{outcome="upstream_unavailable"} 5.0' in text
    assert re.search(r'ferry_proxy_route_table_info\{gateway="gw-test",version="[0-9a-f]{16}"\} 1.0', text)
    assert "_created" not in text  # one series per counter, no creation timestamps
    # and the decision log does carry them, with everything the issue asks for
    rec = next(r for r in proxy.records if r["client_id"] == "secret-client-0")
    assert {"client_id", "peer", "gateway", "rule", "cluster", "upstream", "table_version", "outcome",
            "duration_ms", "bytes_up", "bytes_down"} <= set(rec)


def test_the_scrape_carries_the_process_and_python_collectors(proxy: RunningProxy) -> None:
    """RSS, open fds, CPU and GC come from prometheus_client's standard collectors, registered on
    the proxy's own registry: they describe this process (the proxy runs in-process here)."""
    _, _, text = proxy.admin("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) >= PROCESS_FAMILIES
    assert {"python_info", "python_gc_objects_collected", "python_gc_collections"} <= set(families)
    rss = families["process_resident_memory_bytes"].samples[0].value
    assert 10e6 < rss < 2e9  # a Python process with the proxy loaded, in bytes
    open_fds = families["process_open_fds"].samples[0].value
    assert open_fds >= 3  # at least the listener, the admin socket and this scrape's connection
    with socket.create_connection(proxy.address, timeout=5):  # one more client: one more fd
        proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_connections_active") == 1)
        _, _, again = proxy.admin("/metrics")
        more = {f.name: f for f in text_string_to_metric_families(again)}
        assert more["process_open_fds"].samples[0].value > open_fds


def test_metric_names_and_label_sets_are_the_documented_ones() -> None:
    families = {
        f.name: f for f in text_string_to_metric_families(ProxyMetrics(standard_collectors=False)
                                                         .exposition().decode())
    }
    documented = (Path(__file__).resolve().parents[2] / "docs" / "proxy.md").read_text()
    for name, family in families.items():
        exposed = f"{name}_total" if family.type == "counter" else name
        assert f"`{exposed}`" in documented, f"{exposed} is exported but not in docs/proxy.md"
    assert set(families) == {
        "ferry_proxy_connections_accepted", "ferry_proxy_connections_active", "ferry_proxy_connections_refused",
        "ferry_proxy_connections_closed", "ferry_proxy_routing_decisions", "ferry_proxy_upstream_connect_failures",
        "ferry_proxy_upstream_connect_seconds", "ferry_proxy_first_frame_errors", "ferry_proxy_bytes",
        "ferry_proxy_route_reloads", "ferry_proxy_route_table_info", "ferry_proxy_route_table_loaded_timestamp_seconds",
        "ferry_proxy_route_table_rules", "ferry_proxy_route_file_stale", "ferry_proxy_draining",
        "ferry_proxy_fence_held", "ferry_proxy_fence_hold_overflow",
    }


def test_histogram_and_label_escaping() -> None:
    m = ProxyMetrics(standard_collectors=False)
    for seconds in (0.0002, 0.003, 9.0):
        m.connect_seconds.labels("k").observe(seconds)
    m.decisions.labels('a"b\\c\nd', "route", "k").inc(2)
    text = m.exposition().decode()
    assert 'ferry_proxy_routing_decisions_total{action="route",cluster="k",rule="a\\"b\\\\c\\nd"} 2.0' in text
    assert 'ferry_proxy_upstream_connect_seconds_bucket{cluster="k",le="0.0005"} 1.0' in text
    assert 'ferry_proxy_upstream_connect_seconds_bucket{cluster="k",le="0.005"} 2.0' in text
    assert 'ferry_proxy_upstream_connect_seconds_bucket{cluster="k",le="+Inf"} 3.0' in text
    assert 'ferry_proxy_upstream_connect_seconds_count{cluster="k"} 3.0' in text
    assert "# TYPE ferry_proxy_upstream_connect_seconds histogram" in text


def test_children_are_resolved_once() -> None:
    m = ProxyMetrics(standard_collectors=False)
    assert m.bytes.labels("upstream", "a") is m.bytes.labels("upstream", "a")
    assert m.bytes.labels("upstream", "a") is not m.bytes.labels("downstream", "a")
    with pytest.raises(ValueError, match="Incorrect label count"):
        m.bytes.labels("upstream")


def test_registries_are_independent() -> None:
    a, b = ProxyMetrics(), ProxyMetrics()  # standard collectors too: no duplicate registration
    a.accepted.inc()
    assert a.value("ferry_proxy_connections_accepted_total") == 1
    assert b.value("ferry_proxy_connections_accepted_total") == 0
    shared = CollectorRegistry()
    c = ProxyMetrics(shared)
    assert c.registry is shared
    with pytest.raises(ValueError, match="Duplicated timeseries"):  # one proxy's families per registry
        ProxyMetrics(shared)


def test_info_gauge_keeps_one_series() -> None:
    m = ProxyMetrics(standard_collectors=False)
    m.set_table("gw", "v1", 1.0, 3)
    m.set_table("gw", "v2", 2.0, 4)
    text = m.exposition().decode()
    assert 'version="v1"' not in text and 'ferry_proxy_route_table_info{gateway="gw",version="v2"} 1.0' in text
    assert m.value("ferry_proxy_route_table_rules") == 4
