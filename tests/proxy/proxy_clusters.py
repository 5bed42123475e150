"""The real clusters the proxy tests route to, as plain descriptions (the ``kafka`` fixture's values).

In a helper module rather than conftest.py so the tests can name the type in their signatures.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

#: What confluent-kafka's clients take as their configuration.
ClientConfig = dict[str, str | int | float | bool]


@dataclass(frozen=True)
class Cluster:
    role: str
    bootstrap: str
    cluster_id: str
    #: (user, password) on the SCRAM cluster
    scram: tuple[str, str] | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.bootstrap.rpartition(":")
        return host, int(port)

    def sasl(self) -> dict[str, str] | None:
        """The client matrix's SASL request field for this cluster (tests/clients/README.md)."""
        if self.scram is None:
            return None
        return {"mechanism": "SCRAM-SHA-512", "username": self.scram[0], "password": self.scram[1]}

    def client_config(self, bootstrap: str | None = None, client_id: str | None = None) -> ClientConfig:
        """confluent-kafka settings for this cluster, optionally bootstrapping elsewhere (the proxy)."""
        conf: ClientConfig = {"bootstrap.servers": bootstrap or self.bootstrap}
        if client_id is not None:
            conf["client.id"] = client_id
        if self.scram is not None:
            conf.update({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                         "sasl.username": self.scram[0], "sasl.password": self.scram[1]})
        return conf


#: The SCRAM user of clusters described by ``FERRY_PROXY_TEST_CLUSTERS``.
SCRAM_USER = ("admin", "admin-secret")


def session_clusters(request: pytest.FixtureRequest) -> dict[str, Cluster]:
    """The ``kafka`` fixture's value: the session's sandbox pair, or the pair a JSON file
    named by ``FERRY_PROXY_TEST_CLUSTERS`` describes (quick iteration on a running pair)."""
    external = os.environ.get("FERRY_PROXY_TEST_CLUSTERS")
    if external:
        data = json.loads(Path(external).read_text())
        return {
            "legacy": Cluster("legacy", data["legacy"]["bootstrap"], data["legacy"]["cluster_id"]),
            "target": Cluster("target", data["target"]["bootstrap"], data["target"]["cluster_id"], SCRAM_USER),
        }
    nodes = request.getfixturevalue("sandbox_nodes")
    legacy, target = nodes["legacy"], nodes["target"]
    if not legacy.is_running or not target.is_running:
        pytest.fail("a sandbox cluster is not running")
    return {
        "legacy": Cluster("legacy", legacy.bootstrap, legacy.cluster_id),
        "target": Cluster("target", target.bootstrap, target.cluster_id,
                          (target.admin_user, target.users[target.admin_user])),
    }
