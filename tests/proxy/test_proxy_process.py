"""The proxy as a real process (``sandbox.proxyproc``, ``python -m proxy``): startup errors,
the three entry points agreeing, and SIGTERM with open pipes (stop accepting -> drain with a
bounded wait -> close the rest -> exit 0)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from proxy.main import main
from proxy_clusters import Cluster
from proxy_harness import make_table, write_routes
from sandbox.proxyproc import ProxyProcess, start_proxy
from tests.tools.probe import KafkaConnection, probe

BIN = Path(sys.executable).parent
Spawn = Callable[..., ProxyProcess]
ENTRY_POINTS = {
    "python -m proxy": [sys.executable, "-m", "proxy"],
    "ferry-proxy": [str(BIN / "ferry-proxy")],
    "ferry proxy": [sys.executable, "-m", "ferry", "proxy"],
}


def get(p: ProxyProcess, path: str) -> tuple[int, str]:
    assert p.admin is not None
    conn = http.client.HTTPConnection(*p.admin, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def records(p: ProxyProcess) -> list[dict]:
    """The closing lines of the decision log (how each connection ended)."""
    assert p.decision_log is not None
    lines = [json.loads(line) for line in p.decision_log.read_text().splitlines()]
    return [r for r in lines if r["event"] == "connection"]


@pytest.fixture
def routes(tmp_path: Path, kafka: dict[str, Cluster]) -> Path:
    path = tmp_path / "gw.routes.json"
    write_routes(path, make_table({"legacy": [kafka["legacy"].bootstrap]}, default="legacy"))
    return path


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    procs: list[ProxyProcess] = []

    def start(routes: Path, *extra: str) -> ProxyProcess:
        n = len(procs)
        p = start_proxy(routes, log=tmp_path / f"proxy-{n}.log", decision_log=tmp_path / f"decisions-{n}.jsonl",
                        extra=extra)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stop(timeout=5)


def _refused(address: tuple[str, int]) -> bool:
    """True when a new connection is not accepted. A connect() that fails with a reset counts too: a SYN
    caught in the backlog while the proxy closes its listening socket is reset by the kernel (the
    handshake never completes, so the proxy accepted nothing)."""
    try:
        socket.create_connection(address, timeout=1).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


@pytest.mark.kafka
def test_sigterm_stops_accepting_and_drains_open_pipes(routes: Path, kafka: dict[str, Cluster], spawn: Spawn) -> None:
    p = spawn(routes, "--drain-timeout", "10")
    assert probe(p.listen, "before.term").cluster_id == kafka["legacy"].cluster_id
    pipe = KafkaConnection(p.listen)
    pipe.api_versions("open.pipe")
    p.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while not _refused(p.listen):  # 1. stop accepting
        assert time.monotonic() < deadline, "still accepting after SIGTERM"
        time.sleep(0.02)
    assert get(p, "/readyz")[0] == 503  # and say so, while draining
    # 2. the open pipe keeps working during the drain
    assert pipe.metadata("open.pipe", []).cluster_id == kafka["legacy"].cluster_id
    assert p.running()
    pipe.close()  # the last connection ends: the drain is over early
    started = time.monotonic()
    assert p.wait(timeout=10) == 0
    assert time.monotonic() - started < 3
    # (records without a client id are this test's own "still accepting?" connections)
    outcomes = {r["client_id"]: r["outcome"] for r in records(p) if r["client_id"]}
    assert outcomes == {"before.term": "forwarded", "open.pipe": "forwarded"}
    assert "shut down" in p.output()


@pytest.mark.kafka
def test_sigterm_closes_what_is_still_open_after_the_drain_timeout(routes: Path, kafka: dict[str, Cluster],
                                                                   spawn: Spawn) -> None:
    p = spawn(routes, "--drain-timeout", "1")
    pipe = KafkaConnection(p.listen)
    pipe.api_versions("idle.pipe")
    silent = socket.create_connection(p.listen)  # never sends its first frame
    started = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    pipe.sock.settimeout(10)
    assert pipe.sock.recv(10) == b""  # 3. closed by the proxy after the drain
    closed_after = time.monotonic() - started
    assert p.wait(timeout=10) == 0
    assert 0.9 < closed_after < 4
    outcomes = sorted(r["outcome"] for r in records(p))
    assert outcomes == ["shutdown", "shutdown"]
    silent.close()
    pipe.close()


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_a_missing_route_file_is_a_clear_startup_error(tmp_path: Path, name: str) -> None:
    done = subprocess.run([*ENTRY_POINTS[name], "--routes", str(tmp_path / "nope.yaml")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.startswith(f"{name}: ") and "cannot read the route file" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_an_invalid_route_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": "ferry.routes/v1", "gateway": "x"}\n')
    done = subprocess.run([sys.executable, "-m", "proxy", "--routes", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and str(path) in done.stderr and "version" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_busy_listen_address_is_a_clear_startup_error(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    path = tmp_path / "r.yaml"
    write_routes(path, make_table({"c": ["127.0.0.1:1"]}, default="c"))
    done = subprocess.run(
        [sys.executable, "-m", "proxy", "--routes", str(path), "--admin", "off",
         "--listen", f"127.0.0.1:{taken.getsockname()[1]}"],
        capture_output=True, text=True, timeout=30,
    )
    taken.close()
    assert done.returncode == 1 and "address already in use" in done.stderr.lower()


@pytest.mark.parametrize(("args", "message"), [
    (["--listen", "nohost"], "argument --listen: 'nohost': expected host:port"),
    (["--admin", "x:99999"], "argument --admin: 'x:99999': port must be 0-65535"),
    (["--first-frame-timeout", "0"], "first_frame_timeout must be positive"),
    (["--idle-timeout", "-1"], "idle_timeout must be 0 (never) or positive"),
    (["--max-connections", "0"], "argument --max-connections: 0 is not in the range x>=1"),
    (["--max-first-frame-bytes", "3"], "max_first_frame_bytes must be between 8 and"),
    (["--tls-cert", "{routes}"], "TLS termination needs both a certificate and a key"),
    (["--tls-key", "{routes}.missing"], "argument --tls-key: file '{routes}.missing' does not exist"),
    (["--event-loop", "trio"], "argument --event-loop: invalid choice: 'trio'"),
    (["--routes", "{dir}"], "argument --routes: file '{dir}' is a directory"),
    (["--rout", "x"], "unrecognized arguments: --rout x"),  # no abbreviations
])
def test_bad_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                     message: str) -> None:
    path = tmp_path / "r.json"
    write_routes(path, make_table({"c": ["127.0.0.1:1"]}, default="c"))
    fill = {"routes": str(path), "dir": str(tmp_path)}
    assert main(["--routes", str(path), *(a.format(**fill) for a in args)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ferry-proxy ") and f"ferry-proxy: error: {message.format(**fill)}" in err, err


def test_the_three_entry_points_are_one_program(tmp_path: Path) -> None:
    """`ferry proxy`, `ferry-proxy` and `python -m proxy`: the same help (but for the name in the
    usage line), the same usage errors (exit 2)."""
    env = {**os.environ, "COLUMNS": "100"}
    helps = {}
    for name, command in ENTRY_POINTS.items():
        done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=30, env=env)
        assert done.returncode == 0, done.stderr
        usage, rest = done.stdout.split("\n\n", 1)  # the usage lines wrap after the name
        assert usage.startswith(f"usage: {name} [-h] --routes FILE")
        helps[name] = rest
        bad = subprocess.run([*command, "--routes", "x", "--listen", "nohost"], capture_output=True, text=True,
                             timeout=30, env=env)
        assert bad.returncode == 2 and f"{name}: error: argument --listen" in bad.stderr, bad.stderr
    assert helps["python -m proxy"] == helps["ferry-proxy"] == helps["ferry proxy"]
    assert "--max-first-frame-bytes N" in helps["ferry-proxy"]


def test_an_unusable_listen_in_the_route_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    write_routes(path, make_table({"c": ["127.0.0.1:1"]}, default="c", listen="nowhere"))
    done = subprocess.run(
        [sys.executable, "-m", "proxy", "--routes", str(path), "--admin", "off"],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1 and "listen: 'nowhere': expected host:port; or pass --listen" in done.stderr
