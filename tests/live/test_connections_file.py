"""A `--connections` file that is not what the live commands expect is a clear error naming the file, the
cluster and the missing key, never a traceback and never a value (it may be a password)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.live.connections import ClusterConnectionError, Connections


def write(tmp_path: Path, clusters: object) -> Path:
    path = tmp_path / "connections.json"
    path.write_text(json.dumps({"clusters": clusters}))
    return path


@pytest.mark.parametrize(("entry", "missing"), [
    ({}, "`bootstrap`"),
    ({"bootstrap": ""}, "`bootstrap`"),
    ({"bootstrap": 9092}, "`bootstrap`"),
    ({"bootstrap": "h:9092", "sasl_mechanism": "SCRAM-SHA-512", "sasl_password": "s3cr3t-pass"}, "`sasl_username`"),
    ({"bootstrap": "h:9092", "sasl_mechanism": "PLAIN", "sasl_username": "u"}, "`sasl_password`"),
])
def test_a_missing_key_names_the_file_cluster_and_key(tmp_path: Path, entry: dict[str, object], missing: str) -> None:
    path = write(tmp_path, {"governed": entry})
    with pytest.raises(ClusterConnectionError) as error:
        Connections({}, path, env={}).get("governed")
    message = str(error.value)
    assert str(path) in message and "'governed'" in message and missing in message
    assert "s3cr3t-pass" not in message


@pytest.mark.parametrize("clusters", [["governed"], {"governed": "h:9092"}, None])
def test_a_clusters_section_of_the_wrong_shape_is_refused_at_once(tmp_path: Path, clusters: object) -> None:
    with pytest.raises(ClusterConnectionError, match="cluster name to an object"):
        Connections({}, write(tmp_path, clusters), env={})


def test_a_complete_entry_gives_the_client_settings(tmp_path: Path) -> None:
    path = write(tmp_path, {"governed": {"bootstrap": "h:9094", "security_protocol": "SASL_PLAINTEXT",
                                         "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u",
                                         "sasl_password": "p"}})
    config = Connections({}, path, env={}).get("governed").config
    assert config == {"bootstrap.servers": "h:9094", "security.protocol": "SASL_PLAINTEXT",
                      "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "u", "sasl.password": "p"}
