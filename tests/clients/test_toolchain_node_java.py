"""The kafkajs and Java drivers build (once, cached) and answer a ``metadata`` request straight
from the session's clusters, no proxy: legacy over PLAINTEXT, the target with SCRAM-SHA-512.
The matrix (test_matrix.py) runs them through the proxy."""

from __future__ import annotations

from pathlib import Path

import pytest
import toolchain_java
import toolchain_node
from driver import Driver, metadata_straight

from proxy_clusters import Cluster

pytestmark = pytest.mark.kafka

LIBRARIES = ("kafkajs", "java (rebootstrap)", "java (none)")


@pytest.fixture(scope="module")
def drivers() -> dict[str, Driver]:
    found = {d.library: d for d in [*toolchain_node.drivers(), *toolchain_java.drivers()]}
    assert sorted(found) == sorted(LIBRARIES)
    return found


def test_a_second_call_reuses_the_cached_builds(drivers: dict[str, Driver]) -> None:
    again = {d.library: d for d in [*toolchain_node.drivers(), *toolchain_java.drivers()]}
    assert {k: list(d.argv) for k, d in again.items()} == {k: list(d.argv) for k, d in drivers.items()}
    node_dir = Path(drivers["kafkajs"].argv[-1]).parent
    assert (node_dir / "node_modules" / "kafkajs" / "package.json").is_file()
    assert not list(node_dir.parent.glob("*.partial-*"))
    assert drivers["java (none)"].options == {"metadata.recovery.strategy": "none"}


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("role", ["legacy", "target"])
def test_metadata_straight_from_the_cluster(drivers: dict[str, Driver], kafka: dict[str, Cluster],
                                            library: str, role: str) -> None:
    cluster = kafka[role]
    metadata_straight(drivers[library], cluster, f"toolchain-check.{library.split()[0]}.1")
