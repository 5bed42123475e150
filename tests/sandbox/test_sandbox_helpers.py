"""The pure parts of the sandbox: configs, command lines, cache bookkeeping. No JVM, no broker."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path

import pytest

from sandbox import jars
from sandbox.brokerconfig import (
    SecurityMode,
    broker_properties,
    client_settings,
    new_cluster_id,
    render_properties,
    scram_arguments,
)
from sandbox.cluster import KafkaNode, KafkaNodeError, allocate_ports, read_meta_cluster_id
from sandbox.jvm import java_command

PLAIN_PORTS = {"CLIENT": 9092, "CONTROLLER": 9093}
SCRAM_PORTS = {"CLIENT": 9192, "BROKER": 9193, "CONTROLLER": 9194}


def parse_properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


# ---- broker configuration


def test_plaintext_broker_is_a_single_combined_kraft_node(tmp_path: Path) -> None:
    props = broker_properties(security=SecurityMode.PLAINTEXT, ports=PLAIN_PORTS, data_dir=tmp_path)
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "CLIENT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:9092"
    assert props["listener.security.protocol.map"] == "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert props["inter.broker.listener.name"] == "CLIENT"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["log.dirs"] == str(tmp_path)
    assert all(props[k] == "1" for k in props if k.endswith("replication.factor"))
    assert not any("sasl" in k for k in props)


def test_scram_broker_authenticates_clients_only(tmp_path: Path) -> None:
    props = broker_properties(security=SecurityMode.SCRAM, ports=SCRAM_PORTS, data_dir=tmp_path)
    assert props["listener.security.protocol.map"] == (
        "CLIENT:SASL_PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:9192,BROKER://127.0.0.1:9193"
    assert props["inter.broker.listener.name"] == "BROKER"
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.client.scram-sha-512.sasl.jaas.config"].startswith(
        "org.apache.kafka.common.security.scram.ScramLoginModule required"
    )


def test_ports_must_match_the_listeners(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs ports"):
        broker_properties(security=SecurityMode.SCRAM, ports=PLAIN_PORTS, data_dir=tmp_path)


def test_properties_render_sorted_and_round_trip(tmp_path: Path) -> None:
    props = broker_properties(security=SecurityMode.SCRAM, ports=SCRAM_PORTS, data_dir=tmp_path)
    text = render_properties(props)
    assert parse_properties(text) == props
    keys = [line.split("=", 1)[0] for line in text.splitlines()]
    assert keys == sorted(keys)
    assert "#" not in text
    assert render_properties(props) == text


@pytest.mark.parametrize(
    "props",
    [{"a": "line\nbreak"}, {"a": "back\\slash"}, {"a": " padded"}, {"a=b": "x"}, {"a b": "x"}, {"": "x"}],
)
def test_properties_that_need_escaping_are_refused(props: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="would need escaping"):
        render_properties(props)


def test_scram_arguments_are_sorted_storage_tool_flags() -> None:
    assert scram_arguments({"zed": "z-pw", "admin": "a.pw"}) == [
        "--add-scram", "SCRAM-SHA-512=[name=admin,password=a.pw]",
        "--add-scram", "SCRAM-SHA-512=[name=zed,password=z-pw]",
    ]


@pytest.mark.parametrize("users", [{"ad,min": "pw"}, {"admin": "pw]"}, {"admin": ""}, {"admin": 'p"w'}])
def test_scram_arguments_refuse_characters_that_need_quoting(users: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="names and passwords must match"):
        scram_arguments(users)


def test_client_settings() -> None:
    assert client_settings(SecurityMode.PLAINTEXT, "127.0.0.1:1") == {"bootstrap.servers": "127.0.0.1:1"}
    assert client_settings(SecurityMode.SCRAM, "127.0.0.1:1", "u", "p") == {
        "bootstrap.servers": "127.0.0.1:1",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "p",
    }
    with pytest.raises(ValueError, match="needs a user and a password"):
        client_settings(SecurityMode.SCRAM, "127.0.0.1:1")


def test_cluster_ids_look_like_kafka_uuids() -> None:
    ids = {new_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    for cluster_id in ids:
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_meta_properties_cluster_id(tmp_path: Path) -> None:
    assert read_meta_cluster_id(tmp_path) is None
    (tmp_path / "meta.properties").write_text("#\nnode.id=1\ncluster.id=abc\nversion=1\n")
    assert read_meta_cluster_id(tmp_path) == "abc"


def test_allocated_ports_are_distinct_and_free() -> None:
    first = allocate_ports(["A", "B", "C"])
    second = allocate_ports(["A"])
    ports = [*first.values(), *second.values()]
    assert len(set(ports)) == 4
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


# ---- the node object, before anything runs


def test_node_refuses_bad_names_and_missing_admin(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="node name 'no spaces'"):
        KafkaNode("no spaces", base_dir=tmp_path)
    with pytest.raises(ValueError, match="admin user"):
        KafkaNode("t", base_dir=tmp_path, security=SecurityMode.SCRAM, users={"bob": "pw"})


def test_unprepared_node_says_so(tmp_path: Path) -> None:
    node = KafkaNode("t", base_dir=tmp_path)
    with pytest.raises(KafkaNodeError, match="not prepared"):
        _ = node.bootstrap
    with pytest.raises(KafkaNodeError, match="not launched"):
        node.wait_ready(1)
    assert node.stop() is None and node.kill() is None and not node.is_running


def test_scram_client_config_uses_known_users_or_given_password(tmp_path: Path) -> None:
    node = KafkaNode("t", base_dir=tmp_path, security=SecurityMode.SCRAM)
    node._ports = dict(SCRAM_PORTS)  # as prepare would
    assert node.client_config()["sasl.username"] == "admin"
    assert node.client_config(user="ferry")["sasl.password"] == "ferry-secret"
    assert node.client_config(user="x", password="y")["sasl.password"] == "y"
    with pytest.raises(KeyError):
        node.client_config(user="x")


# ---- command lines and the jar cache


def test_java_command_uses_ferry_logging(tmp_path: Path) -> None:
    command = java_command("java", "kafka.Kafka", ["server.properties"], classpath_entries=[tmp_path / "*"],
                           heap="384m", log_file=tmp_path / "x.log")
    assert command[0] == "java" and "-Xmx384m" in command
    assert f"-Dlog4j2.configurationFile={jars.LOG4J2_CONFIG}" in command
    assert f"-Dferry.log.file={tmp_path / 'x.log'}" in command
    assert command[command.index("-cp") + 1] == f"{tmp_path}/*"
    assert command[-2:] == ["kafka.Kafka", "server.properties"]


def test_log4j2_config_exists_and_has_no_trailing_comments() -> None:
    text = jars.LOG4J2_CONFIG.read_text()
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" not in line, line


def test_cache_root_honours_ferry_cache() -> None:
    assert jars.cache_root({"FERRY_CACHE": "/x/y"}) == Path("/x/y")
    assert jars.cache_root({}) == Path.home() / ".cache" / "ferry"
    assert jars.kafka_home({"FERRY_CACHE": "/x"}) == Path("/x/kafka-4.3.1")


def test_marker_says_complete_only_for_this_pom_and_all_its_jars(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("a.jar", "b.jar"):
        (lib / name).write_bytes(b"")
    marker = tmp_path / "lib.complete"
    assert not jars.lib_is_complete(lib, marker, "d1")
    marker.write_text(jars.marker_text("d1", ["b.jar", "a.jar"]))
    assert jars.lib_is_complete(lib, marker, "d1")
    assert not jars.lib_is_complete(lib, marker, "d2")
    (lib / "a.jar").unlink()
    assert not jars.lib_is_complete(lib, marker, "d1")
    marker.write_text(jars.marker_text("d1", []))
    assert not jars.lib_is_complete(lib, marker, "d1")


def test_policy_jar_is_stale_when_missing_or_older_than_a_source(tmp_path: Path) -> None:
    source = tmp_path / "Policy.java"
    source.write_text("class Policy {}")
    jar = tmp_path / "policy.jar"
    assert jars.jar_is_stale(jar, [source])
    jar.write_bytes(b"")
    os.utime(source, (1000, 1000))
    os.utime(jar, (2000, 2000))
    assert not jars.jar_is_stale(jar, [source])
    os.utime(source, (3000, 3000))
    assert jars.jar_is_stale(jar, [source])


def test_policy_sources_cover_pom_and_main_sources() -> None:
    sources = jars.policy_sources()
    assert jars.POLICY_DIR / "pom.xml" in sources
    assert any(p.name == "RenameReplicationPolicy.java" for p in sources)
    assert not any("src/test" in str(p) for p in sources)


def test_maven_runs_offline_first() -> None:
    offline, online = jars.maven_attempts(["package"], Path("pom.xml"))
    assert "-o" in offline and "-o" not in online
    assert offline[-1] == online[-1] == "package"


def test_missing_tool_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(jars.ToolMissing, match=r"'mvn' was not found on PATH\. Install Apache Maven"):
        jars.require_tool("mvn")
    with pytest.raises(jars.ToolMissing, match="JAVA_HOME"):
        jars.require_tool("java")
