"""Fixtures for the MirrorMaker 2 tests (real brokers, real MM2 / Connect, real clients).

The session's two clusters (``sandbox_nodes``: legacy PLAINTEXT, target SCRAM-SHA-512) stand in
for the test specs' ``legacy-service`` and ``governed``. Each test module renders its own copy
of ``tests/mm2/specs`` with a unique token in every topic and group name, so modules never
share data. Logs of MM2 and Connect go to ``.ferry/logs/`` and their tails are attached to the
report of a failing test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from mm2_harness import PROCESSES, SECRET, SOURCE, TARGET  # noqa: E402
from sandbox.cluster import KafkaNode  # noqa: E402
from sandbox.jars import ensure_policy_jar  # noqa: E402
from sandbox.mm2 import write_secret  # noqa: E402


@pytest.fixture(scope="session")
def policy_jar() -> Path:
    return ensure_policy_jar()


@pytest.fixture(scope="session")
def mm2_secrets(sandbox_nodes: dict[str, KafkaNode], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Secret-shaped folder per secret name: files ``username`` and ``password``."""
    secrets = tmp_path_factory.mktemp("secrets")
    write_secret(secrets, SECRET, "ferry", sandbox_nodes["target"].users["ferry"])
    return secrets


@pytest.fixture(scope="session")
def bootstraps(sandbox_nodes: dict[str, KafkaNode]) -> dict[str, str]:
    return {SOURCE: sandbox_nodes["legacy"].bootstrap, TARGET: sandbox_nodes["target"].bootstrap}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        for process in PROCESSES:
            report.sections.append((f"{process!r} log", process.log_tail(40)))
