"""Fixtures for the proxy tests.

Helper modules in this folder (proxy_*.py) are importable by name from the tests here.

Real clusters: ``kafka`` gives the session's two sandbox clusters (``legacy`` PLAINTEXT,
``target`` SASL_PLAINTEXT/SCRAM-SHA-512) as plain descriptions. It uses the shared
``sandbox_nodes`` fixture (one pair of clusters per test session). For quick iteration on a
machine that already runs a pair, ``FERRY_PROXY_TEST_CLUSTERS=<json file>`` with
``{"legacy": {"bootstrap": ..., "cluster_id": ...}, "target": {...}}`` skips starting any.
The proxy tests never stop these clusters; "cluster down" is a port nobody listens on.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from proxy_clusters import Cluster, session_clusters  # noqa: E402


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest) -> dict[str, Cluster]:
    return session_clusters(request)


@pytest.fixture
def dead_address() -> str:
    """A loopback port nobody listens on (connect is refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"127.0.0.1:{port}"
