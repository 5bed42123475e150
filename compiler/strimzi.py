"""Renderer: one flow as a Strimzi `kafka.strimzi.io/v1` KafkaMirrorMaker2 (policy `delivery.mirrormaker: strimzi`).

Strimzi runs the same MirrorMaker 2 connectors Ferry renders for Connect (`connect_configs`),
so the connector settings are taken from there, less what Strimzi owns: the connector's name,
class and `tasks.max` (the CRD refuses them), the clusters' addresses and security (Strimzi
writes them from `target`, `mirrors[].source` and their `authentication`/`tls`), and the
topic and group lists (`topicsPattern`, `groupsPattern`: MM2 filters are Java regexes, the
names are escaped and joined with `|`). The rename policy is in both the source and the
checkpoint connector's config: the checkpoint connector names target topics through it.

Credentials stay in Kubernetes Secrets: SASL is `authentication.passwordSecret` (key
`password` of the cluster's `secret`) with the user name from the cluster's `username`
(Strimzi cannot read a user name from a Secret; the `delivery` pass asks for it).

Pure: the validated org in, plain objects out (`compiler/manifests.py` writes them).
"""

from __future__ import annotations

from typing import Any

from .models import Cluster, SaslMechanism
from .org import Flow, Org

API_VERSION = "kafka.strimzi.io/v1"
KIND = "KafkaMirrorMaker2"
#: SASL mechanism -> Strimzi's authentication type
AUTHENTICATION_TYPES = {
    SaslMechanism.SCRAM_SHA_512: "scram-sha-512",
    SaslMechanism.SCRAM_SHA_256: "scram-sha-256",
    SaslMechanism.PLAIN: "plain",
}
#: connector settings Strimzi sets itself (or refuses): left out of `sourceConnector/checkpointConnector.config`
_STRIMZI_OWNS = ("name", "connector.class", "tasks.max", "topics", "groups", "source.cluster.", "target.cluster.")


def resource_name(flow: Flow) -> str:
    return f"ferry-{flow.name}"


def _endpoint(alias: str, cluster: Cluster) -> dict[str, Any]:
    out: dict[str, Any] = {"alias": alias, "bootstrapServers": ",".join(cluster.bootstrap)}
    sec = cluster.security
    if sec.uses_tls:
        certs = [{"secretName": sec.truststore_secret, "certificate": "ca.crt"}] if sec.truststore_secret else []
        out["tls"] = {"trustedCertificates": certs}
    if sec.uses_sasl:
        assert sec.sasl_mechanism is not None and sec.secret is not None and sec.username is not None
        out["authentication"] = {
            "type": AUTHENTICATION_TYPES[sec.sasl_mechanism],
            "username": sec.username,
            "passwordSecret": {"secretName": sec.secret, "password": "password"},
        }
    return out


def _connector(config: dict[str, str], tasks: int) -> dict[str, Any]:
    kept = {k: v for k, v in config.items() if not k.startswith(_STRIMZI_OWNS)}
    return {"tasksMax": tasks, "config": kept}


def kafka_mirror_maker2(org: Org, flow: Flow, connectors: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The KafkaMirrorMaker2 of a flow; `connectors` is each role's config from `connect_configs(org, flow)`."""
    policy = org.specs.policy.model
    mm = policy.mirrormaker
    rf = str(mm.replication_factor)
    source, target = connectors["source"], connectors["checkpoint"]
    internal = f"{flow.name}.internal"
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": resource_name(flow),
            "labels": {
                "app.kubernetes.io/name": "ferry-mirrormaker2",
                "app.kubernetes.io/instance": flow.name,
                "app.kubernetes.io/part-of": "ferry",
                "app.kubernetes.io/managed-by": "ferry",
                "ferry.dev/flow": flow.name,
            },
        },
        "spec": {
            "replicas": 1,
            "image": policy.images.mirrormaker_strimzi,
            "target": {
                **_endpoint(flow.target, org.cluster(flow.target)),
                "groupId": f"ferry-mm2-{flow.name}",
                "configStorageTopic": f"mm2-configs.{internal}",
                "offsetStorageTopic": f"mm2-offsets.{internal}",
                "statusStorageTopic": f"mm2-status.{internal}",
                "config": {
                    "config.storage.replication.factor": rf,
                    "offset.storage.replication.factor": rf,
                    "status.storage.replication.factor": rf,
                    # flushes source offsets, and with them the last offset sync (see MirrorMakerDefaults)
                    "offset.flush.interval.ms": str(mm.offset_flush_interval_seconds * 1000),
                },
            },
            "mirrors": [
                {
                    "source": _endpoint(flow.source, org.cluster(flow.source)),
                    "sourceConnector": _connector(source, mm.tasks_max),
                    "checkpointConnector": _connector(target, mm.tasks_max),
                    # the Connect lists, comma-separated; names hold no comma or blank (kafka_names)
                    "topicsPattern": "|".join(source["topics"].split(", ")),
                    "groupsPattern": "|".join(target["groups"].split(", ")),
                }
            ],
        },
    }
