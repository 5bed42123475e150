"""The real clusters the proxy tests route to, as plain descriptions (the ``kafka`` fixture's values).

In a helper module rather than conftest.py so the tests can name the type in their signatures.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def client_config(self, bootstrap: str | None = None, client_id: str | None = None) -> ClientConfig:
        """confluent-kafka settings for this cluster, optionally bootstrapping elsewhere (the proxy)."""
        conf: ClientConfig = {"bootstrap.servers": bootstrap or self.bootstrap}
        if client_id is not None:
            conf["client.id"] = client_id
        if self.scram is not None:
            conf.update({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                         "sasl.username": self.scram[0], "sasl.password": self.scram[1]})
        return conf
