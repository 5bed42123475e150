"""Broker configuration for the sandbox's single-node clusters: pure functions, no IO.

``broker_properties`` is the server.properties of one combined broker+controller; the rest are
the pieces around it (listener names, the storage tool's SCRAM arguments, client settings, ids).
"""

from __future__ import annotations

import base64
import enum
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

from compiler.conventions import SCRAM_LOGIN_MODULE

SCRAM_MECHANISM = "SCRAM-SHA-512"

# SCRAM user names and passwords go into a StorageTool argument of the form
# SCRAM-SHA-512=[name=...,password=...]; keep them to characters that need no quoting there.
_SCRAM_TOKEN = re.compile(r"[A-Za-z0-9._-]+")


class SecurityMode(enum.Enum):
    PLAINTEXT = "PLAINTEXT"
    SCRAM = "SASL_PLAINTEXT"


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in unpadded URL-safe base64 (22 characters).

    Like Kafka's ``Uuid.randomUuid``, ids starting with '-' are avoided: command-line parsers
    take them for options.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def listener_names(security: SecurityMode) -> tuple[str, ...]:
    if security is SecurityMode.SCRAM:
        return ("CLIENT", "BROKER", "CONTROLLER")
    return ("CLIENT", "CONTROLLER")


def broker_properties(
    *, security: SecurityMode, ports: Mapping[str, int], data_dir: Path, node_id: int = 1
) -> dict[str, str]:
    """The server.properties of a single-node combined KRaft cluster."""
    host = "127.0.0.1"
    names = listener_names(security)
    if set(ports) != set(names):
        raise ValueError(f"{security.name} needs ports for {names}, got {sorted(ports)}")
    inter_broker = "BROKER" if security is SecurityMode.SCRAM else "CLIENT"
    protocols = dict.fromkeys(names, "PLAINTEXT")
    protocols["CLIENT"] = security.value
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "listeners": ",".join(f"{n}://{host}:{ports[n]}" for n in names),
        "advertised.listeners": ",".join(f"{n}://{host}:{ports[n]}" for n in names if n != "CONTROLLER"),
        "listener.security.protocol.map": ",".join(f"{n}:{protocols[n]}" for n in names),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": inter_broker,
        "controller.quorum.bootstrap.servers": f"{host}:{ports['CONTROLLER']}",
        "log.dirs": str(data_dir),
        # One node: every replication factor is 1.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # Few internal partitions: each is a file set and a coordinator load on first use.
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.num.partitions": "4",
        "num.partitions": "1",
        # Tests join groups one consumer at a time; do not wait for more members.
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        # A broker killed with SIGKILL stays registered until its session expires; its restart
        # is refused (DUPLICATE_BROKER_REGISTRATION) until then. The default 9 s makes every
        # crash test wait; a loopback heartbeat every 500 ms needs no such margin.
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "500",
        # Two cores: fewer threads start faster and contend less.
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
        "log.cleaner.threads": "1",
        "num.recovery.threads.per.data.dir": "1",
    }
    if security is SecurityMode.SCRAM:
        mechanism = SCRAM_MECHANISM.lower()
        props.update(
            {
                "sasl.enabled.mechanisms": SCRAM_MECHANISM,
                "listener.name.client.sasl.enabled.mechanisms": SCRAM_MECHANISM,
                # The server side of SCRAM needs a JAAS entry but no credentials of its own:
                # users are looked up in the metadata log.
                f"listener.name.client.{mechanism}.sasl.jaas.config": f"{SCRAM_LOGIN_MODULE} required;",
            }
        )
    return props


def render_properties(props: Mapping[str, str]) -> str:
    """A Java .properties file, keys sorted, no comments. Refuses what would need escaping."""
    lines = []
    for key in sorted(props):
        value = props[key]
        if not key or re.search(r"[\s=:#!\\]", key):
            raise ValueError(f"property key {key!r} would need escaping")
        if "\\" in value or "\n" in value or "\r" in value or value != value.strip():
            raise ValueError(f"property {key} value {value!r} would need escaping")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def scram_arguments(users: Mapping[str, str], mechanism: str = SCRAM_MECHANISM) -> list[str]:
    """StorageTool ``--add-scram`` arguments creating ``users`` (name -> password)."""
    arguments = []
    for name in sorted(users):
        password = users[name]
        for token in (name, password):
            if not _SCRAM_TOKEN.fullmatch(token):
                raise ValueError(f"SCRAM user {name!r}: names and passwords must match {_SCRAM_TOKEN.pattern}")
        arguments += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
    return arguments


def client_settings(
    security: SecurityMode, bootstrap: str, user: str | None = None, password: str | None = None
) -> dict[str, str]:
    """confluent-kafka (librdkafka) settings for a client of a node."""
    settings = {"bootstrap.servers": bootstrap}
    if security is SecurityMode.SCRAM:
        if user is None or password is None:
            raise ValueError("a SCRAM cluster needs a user and a password")
        settings.update(
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": SCRAM_MECHANISM,
                "sasl.username": user,
                "sasl.password": password,
            }
        )
    return settings
