"""Helpers shared by test modules (fixtures live in conftest.py files)."""

import http.client
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FERRY = [sys.executable, "-m", "ferry"]


def run_ferry(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = None if env is None else {**os.environ, **env}
    return subprocess.run([*FERRY, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 10) -> tuple[int, str]:
    """GET http://127.0.0.1:<port><path>: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def routed_clients(decision_log: Path) -> dict[str, str]:
    """Client id -> the cluster its connection was piped to, from a proxy's decision log. However the
    connection ended: librdkafka may close its bootstrap connection with a reset (outcome
    `client_reset`) after it has read its answer."""
    records = [json.loads(line) for line in decision_log.read_text().splitlines()]
    return {r["client_id"]: r["cluster"] for r in records
            if r["event"] == "connection" and r["upstream"] and r["bytes_down"] > 0}
