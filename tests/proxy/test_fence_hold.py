"""The fence as clients meet it: a fenced connection is held (answered nothing) and then
closed, the number held is bounded, a reload that lifts the fence and shutdown let them go at
once, and refusals reach the decision log aggregated. Fences dial nothing, so the route file's
one cluster is a port nobody listens on."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from proxy.apiversions import api_versions_answer
from proxy.config import Limits
from proxy.decisionlog import FenceLog
from proxy.routetable import Action, RouteTable
from proxy.session import ClientData, Session
from proxy_harness import RunningProxy, make_table, write_routes
from tests.tools.kafka_frames import encode_api_versions_request


def _table(dead_address: str, fenced: bool = True) -> RouteTable:
    rules: list[tuple[str, Action, str | None]] = [("ledger.*", "fence", None)] if fenced else []
    return make_table({"down": [dead_address]}, rules, default="down")


@pytest.fixture
def routes(tmp_path: Path, dead_address: str) -> Path:
    path = tmp_path / "gw.routes.json"
    write_routes(path, _table(dead_address))
    return path


def _fenced_socket(proxy: RunningProxy, client_id: str = "ledger.1") -> socket.socket:
    """A fenced client: its ApiVersions request is answered as a broker would, then nothing."""
    s = socket.create_connection(proxy.address, timeout=10)
    s.sendall(encode_api_versions_request(3, 1, client_id))
    answer = api_versions_answer(3, 1)
    got = b""
    while len(got) < len(answer):
        chunk = s.recv(len(answer) - len(got))
        assert chunk, f"closed after {len(got)} bytes of the ApiVersions answer"
        got += chunk
    assert got == answer
    return s


def _closed_after(s: socket.socket) -> float:
    """Seconds until the proxy closes ``s`` (after the answer it must send nothing more)."""
    started = time.monotonic()
    with s:
        assert s.recv(100) == b""  # EOF, and not one byte before it
    return time.monotonic() - started


def test_a_fenced_connection_is_held_then_closed(routes: Path) -> None:
    with RunningProxy(routes, limits=Limits(fence_hold=1.5)) as proxy:
        s = _fenced_socket(proxy)
        proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_fence_held") == 1, what="the hold")
        s.sendall(encode_api_versions_request(3, 2, "ledger.1"))  # a retry on the same connection: discarded
        assert 1.0 < _closed_after(s) < 4.0
        proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_fence_held") == 0, what="the release")
        assert proxy.metrics.value("ferry_proxy_connections_closed_total", outcome="fenced") == 1


def test_the_default_hold_outlasts_a_client_request_timeout(routes: Path) -> None:
    assert Limits().fence_hold == 30.0
    with RunningProxy(routes) as proxy:
        s = _fenced_socket(proxy)
        s.settimeout(3)
        with s:
            with pytest.raises(TimeoutError):
                s.recv(100)  # still open, still silent
            assert proxy.metrics.value("ferry_proxy_fence_held") == 1


def test_past_the_bound_a_fenced_connection_is_closed_at_once(routes: Path) -> None:
    with RunningProxy(routes, limits=Limits(fence_hold=30, max_fence_held=2)) as proxy:
        held = [_fenced_socket(proxy, f"ledger.{i}") for i in range(2)]
        proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_fence_held") == 2, what="two held")
        assert _closed_after(_fenced_socket(proxy, "ledger.3")) < 2.0
        assert proxy.metrics.value("ferry_proxy_fence_hold_overflow_total") == 1
        assert proxy.metrics.value("ferry_proxy_fence_held") == 2
        for s in held:
            s.close()
        proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_fence_held") == 0, what="clients leaving")


def test_a_reload_that_lifts_the_fence_releases_the_held_at_once(routes: Path, dead_address: str) -> None:
    with RunningProxy(routes, limits=Limits(fence_hold=30)) as proxy:
        s = _fenced_socket(proxy)
        proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_fence_held") == 1, what="the hold")
        write_routes(routes, _table(dead_address, fenced=False))
        assert _closed_after(s) < 5.0
        assert proxy.metrics.value("ferry_proxy_fence_held") == 0
        lifted = [r for r in proxy.records if r["event"] == "fenced"]
        assert len(lifted) == 1


def test_a_reload_that_keeps_the_fence_keeps_holding(routes: Path, dead_address: str) -> None:
    with RunningProxy(routes, limits=Limits(fence_hold=30)) as proxy:
        s = _fenced_socket(proxy)
        proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_fence_held") == 1, what="the hold")
        write_routes(routes, make_table({"down": [dead_address], "other": [dead_address]},
                                        [("ledger.*", "fence", None)], default="other"))
        proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_route_reloads_total", outcome="applied") == 1,
                       what="the reload")
        s.settimeout(1)
        with s:
            with pytest.raises(TimeoutError):
                s.recv(100)
            assert proxy.metrics.value("ferry_proxy_fence_held") == 1


def test_shutdown_releases_held_connections_without_waiting_for_the_drain(routes: Path) -> None:
    proxy = RunningProxy(routes, limits=Limits(fence_hold=30, drain_timeout=20)).start()
    s = _fenced_socket(proxy)
    proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_fence_held") == 1, what="the hold")
    started = time.monotonic()
    proxy.stop(drain=20)
    assert time.monotonic() - started < 5.0
    assert _closed_after(s) < 1.0


def test_repeated_refusals_are_one_line_per_window_with_a_count(routes: Path) -> None:
    with RunningProxy(routes, limits=Limits(fence_hold=0)) as proxy:  # closed at once: many refusals, fast
        for _ in range(5):
            _closed_after(_fenced_socket(proxy, "ledger.1"))
        _closed_after(_fenced_socket(proxy, "ledger.2"))
        proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_connections_refused_total", reason="fenced") == 6,
                       what="six refusals")
        now = [(r["client_id"], r["count"]) for r in proxy.records if r["event"] == "fenced"]
        assert now == [("ledger.1", 1), ("ledger.2", 1)]  # the first of each, at once
    lines = [r for r in proxy.records if r["event"] == "fenced"]
    assert [(r["client_id"], r["count"]) for r in lines] == [("ledger.1", 1), ("ledger.2", 1), ("ledger.1", 4)]
    assert lines[2]["since"] <= lines[2]["ts"]
    assert all(r["rule"] == "ledger.*" and r["hold_s"] == 0 and r["window_s"] == 60 for r in lines)
    assert proxy.log[0]["event"] == "start" and proxy.log[0]["instance"]


# ------------------------------------------------------------------------------------------
# The pure parts.


def _fenced_session(table: RouteTable, client_id: str) -> Session:
    s = Session(table)
    s.handle(ClientData(encode_api_versions_request(3, 1, client_id)))
    return s


def test_fence_log_windows(dead_address: str) -> None:
    table = _table(dead_address)
    log = FenceLog(window=60, hold=30)
    a, b = _fenced_session(table, "ledger.a"), _fenced_session(table, "ledger.b")
    assert [r["count"] for r in log.refused(a, gateway="gw", peer="p", now=1000.0)] == [1]
    assert log.refused(a, gateway="gw", peer="p", now=1030.0) == []
    assert log.refused(a, gateway="gw", peer="p", now=1050.0) == []
    assert log.flush(1059.0) == []  # the window has not ended
    (line,) = log.flush(1060.0)
    assert (line["client_id"], line["count"], line["since"], line["ts"]) == ("ledger.a", 2, 1030.0, 1050.0)
    assert log.flush(1120.0) == [] and log.keys == 0  # quiet for a window: forgotten
    assert [r["count"] for r in log.refused(a, gateway="gw", peer="p", now=1121.0)] == [1]  # news again
    assert [r["client_id"] for r in log.refused(b, gateway="gw", peer="p", now=1122.0)] == ["ledger.b"]


def test_fence_log_memory_is_bounded(dead_address: str) -> None:
    table = _table(dead_address)
    log = FenceLog(window=60, hold=30, max_keys=3)
    sessions = [_fenced_session(table, f"ledger.{i}") for i in range(4)]
    for s in sessions[:3]:
        log.refused(s, gateway="gw", peer="p", now=1.0)
        log.refused(s, gateway="gw", peer="p", now=2.0)
    lines = log.refused(sessions[3], gateway="gw", peer="p", now=3.0)
    assert [(r["client_id"], r["count"]) for r in lines] == [
        ("ledger.0", 1), ("ledger.1", 1), ("ledger.2", 1), ("ledger.3", 1)
    ]
    assert log.keys == 1
