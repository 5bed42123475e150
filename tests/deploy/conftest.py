"""Fixtures for the image tests: the session's real clusters (``kafka``, as in tests/proxy).

Helper modules here (dockerfile.py) and in tests/proxy and tests/mm2 are importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for extra in (HERE, HERE.parent / "proxy", HERE.parent / "mm2"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from proxy_clusters import Cluster, session_clusters  # noqa: E402


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest) -> dict[str, Cluster]:
    return session_clusters(request)
