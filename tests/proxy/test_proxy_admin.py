"""Admin HTTP and metrics: endpoints, the Prometheus text format, bounded labels."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from proxy.codec import encode_api_versions_request
from proxy.metrics import Counter, ProxyMetrics, Registry
from proxy_harness import RunningProxy, make_table, write_routes

SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="(\\.|[^"\\])*",?)*\})? -?[0-9.e+Inf-]+$')


@pytest.fixture
def proxy(tmp_path: Path, dead_address: str):
    path = tmp_path / "gw.routes.yaml"
    write_routes(path, make_table({"down": [dead_address]}, [("fenced.*", "fence", None)], default="down"))
    with RunningProxy(path) as p:
        yield p


def test_healthz_readyz_routes_and_404(proxy) -> None:
    assert proxy.admin("/healthz") == (200, "text/plain", "ok\n")
    status, ctype, body = proxy.admin("/readyz")
    ready = json.loads(body)
    assert (status, ctype) == (200, "application/json")
    assert ready["ready"] is True and ready["stale"] is False and ready["gateway"] == "gw-test"
    status, _, body = proxy.admin("/routes")
    routes = json.loads(body)
    assert status == 200
    assert routes["version"] == routes["table"]["version"] == proxy.server.routes.table.version
    assert routes["source"] == str(proxy.routes) and routes["loaded_at"] > 0
    assert routes["table"]["rules"][0]["match"] == "fenced.*"
    assert proxy.admin("/nope")[0] == 404
    assert proxy.admin("/metrics", method="POST")[0] == 405
    assert proxy.admin("/healthz", method="HEAD")[:2] == (200, "text/plain")


def test_a_garbage_or_silent_admin_client_does_not_hurt(proxy) -> None:
    host, port = proxy.server.admin_address.host, proxy.server.admin_address.port
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"\x00" * 10000 + b"\r\n\r\n")
        assert s.recv(100) == b""
    silent = socket.create_connection((host, port))
    assert proxy.admin("/healthz")[0] == 200
    silent.close()


def test_metrics_are_prometheus_text_and_never_carry_client_ids(proxy) -> None:
    client_ids = [f"secret-client-{i}" for i in range(5)] + ["fenced.one"]
    for cid in client_ids:
        with socket.create_connection(proxy.address, timeout=5) as s:
            s.sendall(encode_api_versions_request(3, 1, cid))
            assert s.recv(10) == b""
    with socket.create_connection(proxy.address, timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x10")
        s.recv(10)
    proxy.wait_for(lambda: len(proxy.records) == 7)
    status, ctype, text = proxy.admin("/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line
    for cid in client_ids:
        assert cid not in text
    assert "ferry_proxy_connections_accepted_total 7" in text
    assert 'ferry_proxy_routing_decisions_total{rule="default",action="route",cluster="down"} 5' in text
    assert 'ferry_proxy_routing_decisions_total{rule="fenced.*",action="fence",cluster=""} 1' in text
    assert 'ferry_proxy_upstream_connect_failures_total{cluster="down",reason="refused"} 5' in text
    assert 'ferry_proxy_first_frame_errors_total{cause="tls"} 1' in text
    assert 'ferry_proxy_connections_closed_total{outcome="upstream_unavailable"} 5' in text
    assert re.search(r'ferry_proxy_route_table_info\{gateway="gw-test",version="[0-9a-f]{16}"\} 1', text)
    # and the decision log does carry them, with everything the issue asks for
    rec = next(r for r in proxy.records if r["client_id"] == "secret-client-0")
    assert {"client_id", "peer", "gateway", "rule", "cluster", "upstream", "table_version", "outcome",
            "duration_ms", "bytes_up", "bytes_down"} <= set(rec)


def test_registry_text_format() -> None:
    r = Registry()
    c = r.counter("x_total", "Things.", ["rule"])
    c.labels('a"b\\c\nd').inc(2)
    g = r.gauge("g", "A gauge.")
    g.set(1.5)
    h = r.histogram("h_seconds", "Latency.", ["cluster"], [0.1, 1])
    for v in (0.05, 0.5, 5):
        h.labels("k").observe(v)
    text = r.expose()
    assert 'x_total{rule="a\\"b\\\\c\\nd"} 2' in text
    assert "g 1.5" in text
    assert 'h_seconds_bucket{cluster="k",le="0.1"} 1' in text
    assert 'h_seconds_bucket{cluster="k",le="1"} 2' in text
    assert 'h_seconds_bucket{cluster="k",le="+Inf"} 3' in text
    assert 'h_seconds_count{cluster="k"} 3' in text
    assert "# TYPE h_seconds histogram" in text
    with pytest.raises(ValueError):
        r.counter("x_total", "again")
    with pytest.raises(ValueError):
        Counter("no_suffix", "bad name")
    with pytest.raises(ValueError):
        c.labels("a", "b")


def test_registries_are_independent() -> None:
    a, b = ProxyMetrics(), ProxyMetrics()
    a.accepted.inc()
    assert a.accepted.value() == 1 and b.accepted.value() == 0


def test_info_gauge_keeps_one_series() -> None:
    m = ProxyMetrics()
    m.table_info.set_only("gw", "v1")
    m.table_info.set_only("gw", "v2")
    text = m.registry.expose()
    assert 'version="v1"' not in text and 'ferry_proxy_route_table_info{gateway="gw",version="v2"} 1' in text
