"""`ferry proxy` as a real process: startup errors, and SIGTERM with open pipes (stop
accepting -> drain with a bounded wait -> close the rest -> exit 0)."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.probe import KafkaConnection, probe
from proxy_harness import make_table, write_routes

LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+).*admin 127\.0\.0\.1:(\d+)")


class ProxyProcess:
    def __init__(self, routes: Path, decisions: Path, *extra: str) -> None:
        self.decisions = decisions
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "compiler", "proxy", "--routes", str(routes), "--listen", "127.0.0.1:0",
             "--admin", "127.0.0.1:0", "--decision-log", str(decisions), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.stderr: list[str] = []
        deadline = time.monotonic() + 20
        while True:
            line = self._line(deadline)
            if line is None:
                raise AssertionError("proxy did not start:\n" + "".join(self.stderr))
            if m := LISTENING.search(line):
                self.address = ("127.0.0.1", int(m.group(1)))
                self.admin = ("127.0.0.1", int(m.group(2)))
                return

    def _line(self, deadline: float) -> str | None:
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stderr], [], [], 0.1)
            if ready:
                line = self.proc.stderr.readline()
                if not line:
                    return None
                self.stderr.append(line)
                return line
        return None

    def get(self, path: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection(*self.admin, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.decisions.read_text().splitlines()]

    def finish(self, timeout: float) -> tuple[int, float]:
        started = time.monotonic()
        code = self.proc.wait(timeout)
        assert self.proc.stderr is not None
        self.stderr.append(self.proc.stderr.read())
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def routes(tmp_path: Path, kafka) -> Path:
    path = tmp_path / "gw.routes.yaml"
    write_routes(path, make_table({"legacy": [kafka["legacy"].bootstrap]}, default="legacy"))
    return path


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator:
    procs: list[ProxyProcess] = []

    def start(routes: Path, *extra: str) -> ProxyProcess:
        p = ProxyProcess(routes, tmp_path / f"decisions-{len(procs)}.jsonl", *extra)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()


def _refused(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.kafka
def test_sigterm_stops_accepting_and_drains_open_pipes(routes: Path, kafka, spawn) -> None:
    p = spawn(routes, "--drain-timeout", "10")
    assert probe(p.address, "before.term").cluster_id == kafka["legacy"].cluster_id
    pipe = KafkaConnection(p.address)
    pipe.api_versions("open.pipe")
    p.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while not _refused(p.address):  # 1. stop accepting
        assert time.monotonic() < deadline, "still accepting after SIGTERM"
        time.sleep(0.02)
    assert p.get("/readyz")[0] == 503  # and say so, while draining
    # 2. the open pipe keeps working during the drain
    assert pipe.metadata("open.pipe", []).cluster_id == kafka["legacy"].cluster_id
    assert p.proc.poll() is None
    pipe.close()  # the last connection ends: the drain is over early
    code, waited = p.finish(timeout=10)
    assert code == 0 and waited < 3
    # (records without a client id are this test's own "still accepting?" connections)
    outcomes = {r["client_id"]: r["outcome"] for r in p.records() if r["client_id"]}
    assert outcomes == {"before.term": "forwarded", "open.pipe": "forwarded"}
    assert "shut down" in "".join(p.stderr)


@pytest.mark.kafka
def test_sigterm_closes_what_is_still_open_after_the_drain_timeout(routes: Path, kafka, spawn) -> None:
    p = spawn(routes, "--drain-timeout", "1")
    pipe = KafkaConnection(p.address)
    pipe.api_versions("idle.pipe")
    silent = socket.create_connection(p.address)  # never sends its first frame
    started = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    pipe.sock.settimeout(10)
    assert pipe.sock.recv(10) == b""  # 3. closed by the proxy after the drain
    closed_after = time.monotonic() - started
    code, _ = p.finish(timeout=10)
    assert code == 0
    assert 0.9 < closed_after < 4
    outcomes = sorted(r["outcome"] for r in p.records())
    assert outcomes == ["shutdown", "shutdown"]
    silent.close()
    pipe.close()


def test_a_missing_route_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "compiler", "proxy", "--routes", str(tmp_path / "nope.yaml")],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert "cannot read the route file" in done.stderr


def test_an_invalid_route_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("format: ferry.routes/v1\ngateway: x\n")
    done = subprocess.run(
        [sys.executable, "-m", "compiler", "proxy", "--routes", str(path)],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1 and "Field required" in done.stderr


def test_a_busy_listen_address_is_a_clear_startup_error(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    path = tmp_path / "r.yaml"
    write_routes(path, make_table({"c": ["127.0.0.1:1"]}, default="c"))
    done = subprocess.run(
        [sys.executable, "-m", "compiler", "proxy", "--routes", str(path), "--admin", "off",
         "--listen", f"127.0.0.1:{taken.getsockname()[1]}"],
        capture_output=True, text=True, timeout=30,
    )
    taken.close()
    assert done.returncode == 1 and "address already in use" in done.stderr.lower()


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    write_routes(path, make_table({"c": ["127.0.0.1:1"]}, default="c"))
    for args in (["--listen", "nohost"], ["--first-frame-timeout", "0"], ["--tls-cert", str(path)]):
        done = subprocess.run(
            [sys.executable, "-m", "compiler", "proxy", "--routes", str(path), *args],
            capture_output=True, text=True, timeout=30, env={**os.environ, "COLUMNS": "200"},
        )
        assert done.returncode == 2, (args, done.stderr)


def test_an_unusable_listen_in_the_route_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    write_routes(path, make_table({"c": ["127.0.0.1:1"]}, default="c", listen="nowhere"))
    done = subprocess.run(
        [sys.executable, "-m", "compiler", "proxy", "--routes", str(path), "--admin", "off"],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1 and "listen: 'nowhere': expected host:port; or pass --listen" in done.stderr
