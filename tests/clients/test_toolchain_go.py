"""The Go drivers (sarama, franz-go, kafka-go) build (once, cached) and answer a ``metadata``
request straight from the session's clusters, no proxy: legacy over PLAINTEXT, the target with
SCRAM-SHA-512. The matrix (test_matrix.py) runs them through the proxy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import toolchain_go
from driver import Driver, metadata_straight, request

from proxy_clusters import Cluster

pytestmark = pytest.mark.kafka

LIBRARIES = ("sarama", "franz-go", "kafka-go")
VERSIONS = {"sarama": "v1.61.1", "franz-go": "v1.22.3", "kafka-go": "v0.4.51"}


@pytest.fixture(scope="module")
def drivers() -> dict[str, Driver]:
    found = {d.library: d for d in toolchain_go.drivers()}
    assert sorted(found) == sorted(LIBRARIES)
    return found


def test_a_second_call_reuses_the_cached_build(drivers: dict[str, Driver]) -> None:
    again = {d.library: d for d in toolchain_go.drivers()}
    assert {k: list(d.argv) for k, d in again.items()} == {k: list(d.argv) for k, d in drivers.items()}
    folder = Path(drivers["sarama"].argv[0]).parent
    assert folder.name.startswith("go-") and folder.parent == toolchain_go.cache_root() / "clients"
    assert not list(folder.parent.glob("go-*.partial-*"))


def test_the_digest_covers_every_file_and_the_go_version(tmp_path: Path) -> None:
    copy = tmp_path / "go"
    shutil.copytree(toolchain_go.GO_DIR, copy)
    version = "go version go1.26.8 linux/amd64"
    before = toolchain_go.inputs_digest(version, copy)
    assert toolchain_go.inputs_digest(version, copy) == before
    assert toolchain_go.inputs_digest("go version go1.26.9 linux/amd64", copy) != before
    contract = copy / "internal" / "contract" / "contract.go"
    contract.write_text(contract.read_text() + "\n")
    assert toolchain_go.inputs_digest(version, copy) != before


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("role", ["legacy", "target"])
def test_metadata_straight_from_the_cluster(drivers: dict[str, Driver], kafka: dict[str, Cluster],
                                            library: str, role: str) -> None:
    cluster = kafka[role]
    result = metadata_straight(drivers[library], cluster, f"toolchain-check.{library}.1")
    assert result["library"] == library and result["version"] == VERSIONS[library], result


def test_a_wrong_password_is_a_result_not_a_crash(drivers: dict[str, Driver], kafka: dict[str, Cluster]) -> None:
    target = kafka["target"]
    assert target.scram is not None
    sasl = {"mechanism": "SCRAM-SHA-512", "username": target.scram[0], "password": "not-the-password"}
    for library in LIBRARIES:
        result = drivers[library].run(request("metadata", bootstrap=target.bootstrap, sasl=sasl, timeout_s=20,
                                              client_id=f"toolchain-check.{library}.2"))
        assert result["ok"] is False and result["error"], result
        assert "not-the-password" not in result["error"], result
