"""Localising rendered files changes the bootstrap addresses and the secret paths, nothing else."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from sandbox.mm2 import (
    SubstitutionError,
    mm2_running,
    substitute_connector,
    substitute_mm2_properties,
    write_secret,
)

REPO = Path(__file__).resolve().parents[2]
RENDERED = REPO / "rendered"
LOCAL = {"legacy-service": "127.0.0.1:1111", "legacy-ads": "127.0.0.1:2222", "governed": "127.0.0.1:3333"}


def test_mm2_file_only_bootstrap_and_secret_paths_change(tmp_path: Path) -> None:
    original = (RENDERED / "mm2/legacy-service--governed.properties").read_text()
    local = substitute_mm2_properties(original, LOCAL, tmp_path)
    before, after = original.splitlines(), local.splitlines()
    assert len(before) == len(after)
    changed = {a.split("=", 1)[0]: b.split("=", 1)[1] for a, b in zip(before, after, strict=True) if a != b}
    assert set(changed) == {
        "legacy-service.bootstrap.servers", "governed.bootstrap.servers", "governed.sasl.jaas.config"
    }
    assert changed["governed.bootstrap.servers"] == "127.0.0.1:3333"
    secret = tmp_path.absolute() / "kafka-governed-mirrormaker"
    assert changed["governed.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required '
        f'username="${{dir:{secret}:username}}" password="${{dir:{secret}:password}}";'
    )
    # Comments (which mention /etc/ferry/secrets) are kept byte for byte.
    assert [line for line in after if line.startswith("#")] == [line for line in before if line.startswith("#")]


def test_every_alias_needs_a_local_address(tmp_path: Path) -> None:
    original = (RENDERED / "mm2/legacy-service--governed.properties").read_text()
    with pytest.raises(SubstitutionError, match=r"no local bootstrap address for cluster.*governed"):
        substitute_mm2_properties(original, {"legacy-service": "127.0.0.1:1"}, tmp_path)
    with pytest.raises(SubstitutionError, match="no `clusters=` line"):
        substitute_mm2_properties("a=b\n", LOCAL, tmp_path)
    with pytest.raises(SubstitutionError, match=r"no `<alias>\.bootstrap\.servers` line for cluster.*b"):
        substitute_mm2_properties("clusters=a, b\na.bootstrap.servers=x:1\n", {"a": "h:1", "b": "h:2"}, tmp_path)


@pytest.mark.parametrize("bad", ["has:colon", "has}brace", "has space", "dollar$"])
def test_secret_folders_that_a_dir_reference_cannot_hold_are_refused(tmp_path: Path, bad: str) -> None:
    original = (RENDERED / "mm2/legacy-ads--governed.properties").read_text()
    with pytest.raises(SubstitutionError, match="cannot appear"):
        substitute_mm2_properties(original, LOCAL, tmp_path / bad)


def test_bad_local_addresses_are_refused(tmp_path: Path) -> None:
    original = (RENDERED / "mm2/legacy-ads--governed.properties").read_text()
    with pytest.raises(SubstitutionError, match="not host:port"):
        substitute_mm2_properties(original, {**LOCAL, "governed": "localhost"}, tmp_path)


def test_connector_only_bootstrap_and_secret_paths_change(tmp_path: Path) -> None:
    for path in sorted((RENDERED / "connect").rglob("*.json")):
        body = json.loads(path.read_text())
        local = substitute_connector(body, LOCAL, tmp_path)
        assert {k: v for k, v in local.items() if k != "config"} == {k: v for k, v in body.items() if k != "config"}
        changed = {k for k in body["config"] if body["config"][k] != local["config"][k]}
        assert changed == {"source.cluster.bootstrap.servers", "target.cluster.bootstrap.servers",
                           "target.cluster.sasl.jaas.config"}, path
        assert "/etc/ferry/secrets" not in json.dumps(local["config"])


def test_secret_folder_looks_like_a_mounted_kubernetes_secret(tmp_path: Path) -> None:
    folder = write_secret(tmp_path, "kafka-governed-mirrormaker", "ferry", "s3cret")
    assert (folder / "username").read_text() == "ferry"  # no trailing newline: read verbatim
    assert (folder / "password").read_text() == "s3cret"
    assert stat.S_IMODE((folder / "password").stat().st_mode) == 0o600


def test_mm2_running_needs_source_and_heartbeat_tasks_but_not_checkpoint_tasks() -> None:
    running = {
        "connector-MirrorSourceConnector": "RUNNING", "task-MirrorSourceConnector-0": "RUNNING",
        "connector-MirrorCheckpointConnector": "RUNNING",
        "connector-MirrorHeartbeatConnector": "RUNNING", "task-MirrorHeartbeatConnector-0": "RUNNING",
    }
    assert mm2_running(running)
    assert not mm2_running({**running, "task-MirrorSourceConnector-1": "FAILED"})
    assert not mm2_running({k: v for k, v in running.items() if k != "task-MirrorHeartbeatConnector-0"})
    assert not mm2_running({**running, "connector-MirrorCheckpointConnector": "UNASSIGNED"})
