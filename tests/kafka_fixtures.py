"""Real Kafka 4.3.1 clusters for tests, started once per session (a pytest plugin loaded by tests/conftest.py).

``legacy`` is PLAINTEXT, ``target`` is SASL_PLAINTEXT/SCRAM-SHA-512; both come up side by side.
Their logs are in ``.ferry/logs/pytest-*.log``; their data in pytest's temporary directory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from pluggy import Result

from sandbox.brokerconfig import SecurityMode
from sandbox.cluster import KafkaNode, start_all
from sandbox.jars import ensure_kafka_lib
from sandbox.service import DEFAULT_LOG_DIR

# Filled by the fixtures, printed in the terminal summary.
TIMINGS: dict[str, float] = {}
# The session's nodes, so a failing test's report can show what the brokers logged.
NODES: dict[str, KafkaNode] = {}


def _node_name(role: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"pytest-{worker}-{role}"


@pytest.fixture(scope="session")
def kafka_lib() -> Path:
    started = time.monotonic()
    lib = ensure_kafka_lib()
    TIMINGS["kafka lib (cached unless first run)"] = time.monotonic() - started
    return lib


@pytest.fixture(scope="session")
def sandbox_nodes(kafka_lib: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, KafkaNode]]:
    base = tmp_path_factory.mktemp("kafka")
    nodes = {
        "legacy": KafkaNode(_node_name("legacy"), base_dir=base / "legacy", lib_dir=kafka_lib),
        "target": KafkaNode(
            _node_name("target"), base_dir=base / "target", security=SecurityMode.SCRAM, lib_dir=kafka_lib
        ),
    }
    NODES.update(nodes)
    started = time.monotonic()
    start_all(list(nodes.values()))
    TIMINGS["both clusters: start_all to ready"] = time.monotonic() - started
    for role, node in nodes.items():
        TIMINGS[f"{role}: format"] = node.format_seconds or 0.0
        TIMINGS[f"{role}: launch to ready"] = node.ready_seconds or 0.0
    yield nodes
    for node in nodes.values():
        node.stop()


def _running(node: KafkaNode) -> KafkaNode:
    # A test that crashed between kill and restart must not take the rest of the session down.
    if not node.is_running:
        node.restart()
    return node


@pytest.fixture
def legacy(sandbox_nodes: dict[str, KafkaNode]) -> KafkaNode:
    return _running(sandbox_nodes["legacy"])


@pytest.fixture
def target(sandbox_nodes: dict[str, KafkaNode]) -> KafkaNode:
    return _running(sandbox_nodes["target"])


@pytest.fixture(params=["legacy", "target"])
def node(request: pytest.FixtureRequest, sandbox_nodes: dict[str, KafkaNode]) -> KafkaNode:
    """Each test using it runs once per cluster."""
    return _running(sandbox_nodes[request.param])


@pytest.fixture
def timings() -> dict[str, float]:
    """Record a duration for the terminal summary."""
    return TIMINGS


@pytest.fixture
def unique() -> str:
    """A name no earlier test in this session used (topics, groups)."""
    return f"t{time.monotonic_ns()}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and item.get_closest_marker("kafka"):
        for role, node in NODES.items():
            report.sections.append((f"{role} broker ({node!r})", node.log_tail(30)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("Kafka sandbox timings")
    for label, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{label:<40} {seconds:6.2f} s")
    terminalreporter.write_line(f"logs: {DEFAULT_LOG_DIR}")
