"""Bad input and faults at the socket level. Each must end the offending connection cleanly
and leave the proxy serving everyone else (checked with a real bootstrap afterwards)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.config import Limits
from proxy.runtime import raise_fd_limit
from proxy_clusters import Cluster
from proxy_harness import EventLoop, RunningProxy, make_table, write_routes
from tests.tools.kafka_frames import encode_api_versions_request
from tests.tools.probe import probe

pytestmark = pytest.mark.kafka

TLS_CLIENT_HELLO = bytes.fromhex("16030100c4010000c00303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"


@pytest.fixture
def routes(tmp_path: Path, kafka: dict[str, Cluster]) -> Path:
    path = tmp_path / "gw.routes.json"
    write_routes(path, make_table({"legacy": [kafka["legacy"].bootstrap]}, default="legacy"))
    return path


@pytest.fixture
def proxy(routes: Path) -> Iterator[RunningProxy]:
    with RunningProxy(routes, limits=Limits(first_frame_timeout=0.6)) as p:
        yield p


def _still_serving(p: RunningProxy, kafka: dict[str, Cluster]) -> None:
    assert probe(p.address, "healthy.client").cluster_id == kafka["legacy"].cluster_id


def _read_all(s: socket.socket, timeout: float = 5.0) -> bytes:
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        (bytes.fromhex("3ab19c07e2d45f10") * 4, "oversized"),  # random bytes read as a length
        (struct.pack(">i", -5) + bytes(16), "negative_length"),
        (struct.pack(">i", 2**31 - 1) + bytes(16), "oversized"),  # 2 GiB
        (struct.pack(">i", 3) + b"abc", "undersized"),
        (struct.pack(">ihhi", 12, 9999, 0, 1) + b"\x00\x00", "unknown_api_key"),
        (TLS_CLIENT_HELLO, "tls"),
        (b"GET /metrics HTTP/1.1\r\nHost: proxy\r\n\r\n", "http"),
        (b"PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\n", "proxy_protocol"),
    ],
    ids=["garbage", "negative", "2GiB", "undersized", "unknown-api", "tls", "http", "proxy-protocol"],
)
def test_malformed_first_bytes_are_refused(
    proxy: RunningProxy, kafka: dict[str, Cluster], data: bytes, cause: str
) -> None:
    with socket.create_connection(proxy.address) as s:
        s.sendall(data)
        answer = _read_all(s)
    if cause == "http":
        assert answer.startswith(b"HTTP/1.1 400 Bad Request") and b"admin port" in answer
    else:
        assert answer == b""
    _still_serving(proxy, kafka)
    assert proxy.metrics.value("ferry_proxy_first_frame_errors_total", cause=cause) == 1
    proxy.wait_for(lambda: len(proxy.records) == 2)
    bad = proxy.records[0]
    assert (bad["outcome"], bad["cause"], bad["upstream"]) == ("malformed", cause, None)


def test_a_truncated_frame_times_out(proxy: RunningProxy, kafka: dict[str, Cluster]) -> None:
    frame = encode_api_versions_request(3, 1, "truncated")
    with socket.create_connection(proxy.address) as s:
        s.sendall(frame[:-4])
        started = time.monotonic()
        assert _read_all(s) == b""
        assert 0.5 < time.monotonic() - started < 3
    _still_serving(proxy, kafka)
    assert proxy.metrics.value("ferry_proxy_first_frame_errors_total", cause="timeout") == 1


def test_a_slowloris_client_is_cut_off_while_others_are_served(proxy: RunningProxy, kafka: dict[str, Cluster]) -> None:
    frame = encode_api_versions_request(3, 1, "slow" * 20)
    with socket.create_connection(proxy.address) as s:
        s.settimeout(0.05)
        started = time.monotonic()
        closed_after = None
        for byte in frame:  # one byte every 50 ms: the whole frame would take ~5 s
            try:
                s.sendall(bytes([byte]))
                if s.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            if time.monotonic() - started > 0.2:
                _still_serving(proxy, kafka)  # meanwhile, others bootstrap
    assert closed_after is not None and closed_after < 2.0
    assert proxy.metrics.value("ferry_proxy_first_frame_errors_total", cause="timeout") == 1


def test_thousands_of_idle_sockets_do_not_stop_bootstraps(routes: Path, kafka: dict[str, Cluster]) -> None:
    count = 3000
    raise_fd_limit(4 * count + 512)
    with RunningProxy(routes, limits=Limits(first_frame_timeout=60)) as p:
        idle = []
        try:
            for _ in range(count):
                idle.append(socket.create_connection(p.address))
            p.wait_for(lambda: p.metrics.value("ferry_proxy_connections_active") == count,
                       what="all idle sockets accepted")
            started = time.monotonic()
            _still_serving(p, kafka)
            assert time.monotonic() - started < 1.0
        finally:
            for s in idle:
                s.close()
        p.wait_for(lambda: p.metrics.value("ferry_proxy_connections_active") == 0, what="idle sockets cleaned up")
    assert p.metrics.value("ferry_proxy_connections_closed_total", outcome="client_closed") == count


def test_the_connection_limit_refuses_the_excess_at_once(routes: Path, kafka: dict[str, Cluster]) -> None:
    with RunningProxy(routes, limits=Limits(max_connections=20, first_frame_timeout=30)) as p:
        held = [socket.create_connection(p.address) for _ in range(20)]
        p.wait_for(lambda: p.metrics.value("ferry_proxy_connections_active") == 20)
        with socket.create_connection(p.address) as extra:
            assert _read_all(extra) == b""
        assert p.metrics.value("ferry_proxy_connections_refused_total", reason="max_connections") == 1
        held.pop().close()
        p.wait_for(lambda: p.metrics.value("ferry_proxy_connections_active") == 19)
        _still_serving(p, kafka)
        for s in held:
            s.close()


def test_an_idle_pipe_is_closed_after_the_idle_timeout(routes: Path) -> None:
    with RunningProxy(routes, limits=Limits(idle_timeout=0.4)) as p, socket.create_connection(p.address) as s:
        s.sendall(encode_api_versions_request(3, 1, "idle.client"))
        (size,) = struct.unpack(">i", s.recv(4))
        started = time.monotonic()
        rest = _read_all(s, timeout=5)
        assert len(rest) == size  # the answer, then the close
        assert 0.35 < time.monotonic() - started < 2.5
        p.wait_for(lambda: bool(p.records))
    assert p.records[0]["outcome"] == "idle_timeout"


def test_a_client_reset_mid_pipe_and_mid_frame_is_cleaned_up(proxy: RunningProxy) -> None:
    for payload in (encode_api_versions_request(3, 1, "reset.client"), b"\x00\x00"):
        s = socket.create_connection(proxy.address)
        s.sendall(payload)
        time.sleep(0.1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST
    proxy.wait_for(lambda: proxy.metrics.value("ferry_proxy_connections_active") == 0 and len(proxy.records) == 2)
    # a reset is the client's ordinary business (client_reset), never a proxy `error`; the proxy
    # may also have seen the cluster's answer go out and the close as clean (forwarded)
    assert sorted(proxy.outcomes()) in (["client_closed", "client_reset"], ["client_closed", "forwarded"])


def test_a_32k_client_id_routes_and_is_logged_truncated(proxy: RunningProxy, kafka: dict[str, Cluster]) -> None:
    long_id = "x" * 32767
    assert probe(proxy.address, long_id).cluster_id == kafka["legacy"].cluster_id
    proxy.wait_for(lambda: bool(proxy.records))
    rec = proxy.records[0]
    assert rec["client_id_truncated"] is True and len(rec["client_id"]) == 256


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_half_close_keeps_the_other_direction_flowing(tmp_path: Path, loop: EventLoop) -> None:
    """A client that sends and then shuts down its write side still gets the reply.

    The peer here is a plain TCP server (Kafka brokers close on EOF, so they cannot show
    this): it reads until EOF, then answers with what it got and closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    got: list[bytes] = []

    def peer() -> None:
        conn, _ = server.accept()
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        got.append(data)
        conn.sendall(b"received %d bytes" % len(data))
        conn.close()

    t = threading.Thread(target=peer)
    t.start()
    path = tmp_path / "r.yaml"
    write_routes(path, make_table({"tcp": [f"127.0.0.1:{server.getsockname()[1]}"]}, default="tcp"))
    frame = encode_api_versions_request(3, 1, "half.close")
    with RunningProxy(path, loop=loop) as p, socket.create_connection(p.address) as s:
        s.sendall(frame + b"tail")
        s.shutdown(socket.SHUT_WR)
        assert _read_all(s) == b"received %d bytes" % (len(frame) + 4)
        p.wait_for(lambda: bool(p.records))
    t.join(5)
    server.close()
    assert got == [frame + b"tail"]
    assert p.records[0]["outcome"] == "forwarded"
