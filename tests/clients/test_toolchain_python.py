"""The Python drivers (librdkafka through confluent-kafka, kafka-python, aiokafka) answer a
``metadata`` request straight from the session's clusters, no proxy: legacy over PLAINTEXT, the
target with SCRAM-SHA-512. Against a port nobody listens on, each observes for its whole window
like an application that never gives up, and reports what it saw within its bound.
The matrix (test_matrix.py) runs them through the proxy."""

from __future__ import annotations

import socket
import sys
import time

import pytest
import toolchain_python
from driver import GRACE_S, Driver, metadata_straight, request

from proxy_clusters import Cluster
from sandbox.jars import ToolMissing

pytestmark = pytest.mark.kafka

LIBRARIES = ("librdkafka (confluent-kafka)", "kafka-python", "aiokafka")


@pytest.fixture(scope="module")
def drivers() -> dict[str, Driver]:
    found = {d.library: d for d in toolchain_python.drivers()}
    assert sorted(found) == sorted(LIBRARIES)
    return found


@pytest.fixture
def dead_address() -> str:
    """A loopback port nobody listens on (connect is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def test_a_missing_package_is_named_with_the_fix() -> None:
    with pytest.raises(ToolMissing, match=r"no-such-kafka-lib \(ModuleNotFoundError.*make setup"):
        toolchain_python.require_importable(sys.executable, (("no-such-kafka-lib", "no_such_kafka_lib"),))


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("role", ["legacy", "target"])
def test_metadata_straight_from_the_cluster(drivers: dict[str, Driver], kafka: dict[str, Cluster],
                                            library: str, role: str) -> None:
    cluster = kafka[role]
    result = metadata_straight(drivers[library], cluster, f"toolchain-check.{library.split()[0]}.1")
    assert result["version"], result


@pytest.mark.parametrize("library", LIBRARIES)
def test_observing_nobody_keeps_trying_and_reports_in_time(drivers: dict[str, Driver], dead_address: str,
                                                          library: str) -> None:
    window = 4.0
    started = time.monotonic()
    result = drivers[library].run(request("observe", bootstrap=dead_address, client_id="toolchain-check.observe.1",
                                          topic="nowhere", role="producer", timeout_s=window))
    took = time.monotonic() - started
    assert result["ok"] and result["delivered"] == 0 and not result["fatal"], result
    assert result["errors"] and result["error_count"] >= len(result["errors"]), result
    assert all(len(text) <= 300 for text in result["errors"]), result
    assert window <= took < window + GRACE_S, (took, result)
