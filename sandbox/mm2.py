"""Run what the compiler renders: MirrorMaker 2 in dedicated mode, on the sandbox's clusters.

The rendered ``rendered/mm2/<source>--<target>.properties`` is used as it is, except for two
things a laptop cannot have (pure functions, tested line by line):

* ``<alias>.bootstrap.servers`` -> the local cluster's address, for every alias in ``clusters=``;
* ``/etc/ferry/secrets/<secret>`` (where Kubernetes mounts the Secret) -> ``<secrets_dir>/<secret>``,
  a local folder holding the files ``username`` and ``password`` (``write_secret``).

Nothing else changes: intervals, topics, groups, the policy and its map are what production
runs. ``substitute_connector`` does the same for a rendered Connect connector
(``rendered/connect/<flow>/<role>.json``).

``MirrorMaker2`` runs ``org.apache.kafka.connect.mirror.MirrorMaker <file> --clusters <target>``
with Kafka's jars and Ferry's policy jar on the classpath (a ``replication.policy.class`` is
loaded by the connector config, not from ``plugin.path``). Its log is
``<log_dir>/<name>.log`` (log4j2, INFO), stdout/stderr ``<log_dir>/<name>.out``.

Dedicated mode has no REST API unless the config enables it, so readiness is read where the
herder writes it: the Connect status topic ``mm2-status.<source>.internal`` on the target
(``connector_states``).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from compiler.conventions import SECRETS_ROOT
from sandbox import processes
from sandbox.errors import SandboxError, SandboxTimeout, ServiceError
from sandbox.jars import ensure_kafka_lib, ensure_policy_jar, require_tool
from sandbox.jvm import SANDBOX_JVM_OPTIONS, java_command
from sandbox.service import DEFAULT_LOG_DIR, JavaProcess

log = logging.getLogger(__name__)

MIRROR_MAKER_MAIN = "org.apache.kafka.connect.mirror.MirrorMaker"
# MM2 stops its herders and tasks on SIGTERM; a task that does not stop in time is abandoned
# after task.shutdown.graceful.timeout.ms (5 s), so 20 s means it is stuck.

T = TypeVar("T")


class SubstitutionError(SandboxError, ValueError):
    """The rendered file cannot be localised as asked (an alias without an address, a bad path)."""


# ---- pure: localising rendered configs

# A .properties line holding a key and a value: key up to the first '=' or ':' (or blank).
_PROPERTY = re.compile(r"^(?P<key>[^\s=:#!][^\s=:]*)(?P<sep>\s*[=:]\s*|\s+)(?P<value>.*)$")
# DirectoryConfigProvider references are ${dir:<path>:<key>}: the path may hold neither ':' nor
# '}', and a .properties value must not need escaping.
_UNSAFE_PATH = re.compile(r"[:}\\\s\"'${]")


def local_secret_path(secrets_dir: Path, secret: str) -> Path:
    return Path(secrets_dir) / secret


def _secrets_prefix(secrets_dir: Path) -> str:
    text = str(Path(secrets_dir).absolute())
    if _UNSAFE_PATH.search(text):
        raise SubstitutionError(
            f"secrets directory {text!r} cannot appear in a ${{dir:path:key}} reference "
            "(no ':', '}', '$', '{', quotes, backslashes or blanks)"
        )
    return text


def _localise_secrets(value: str, prefix: str) -> str:
    return value.replace(f"{SECRETS_ROOT}/", f"{prefix}/")


def _check_bootstrap(alias: str, address: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}(,[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5})*", address):
        raise SubstitutionError(f"local bootstrap for {alias!r} is not host:port[,host:port]: {address!r}")


def substitute_mm2_properties(text: str, bootstraps: Mapping[str, str], secrets_dir: Path) -> str:
    """The rendered MM2 file with local addresses and local secret paths; nothing else changed.

    Every alias named by ``clusters=`` needs an address in ``bootstraps`` (a sandbox must never
    dial production hosts), and every ``<alias>.bootstrap.servers`` line must exist.
    Comment lines are kept byte for byte.
    """
    prefix = _secrets_prefix(secrets_dir)
    for alias, address in bootstraps.items():
        _check_bootstrap(alias, address)
    out: list[str] = []
    aliases: list[str] | None = None
    replaced: set[str] = set()
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        stripped = body.lstrip()
        if not stripped or stripped[0] in "#!":
            out.append(line)
            continue
        if (len(body) - len(body.rstrip("\\"))) % 2 == 1:
            raise SubstitutionError(f"continued lines are not supported: {body!r}")
        match = _PROPERTY.match(stripped)
        if match is None:
            out.append(line)
            continue
        key, value = match["key"], match["value"]
        if key == "clusters":
            aliases = [a.strip() for a in value.split(",") if a.strip()]
        if key.endswith(".bootstrap.servers"):
            alias = key[: -len(".bootstrap.servers")]
            if alias in bootstraps:
                value = bootstraps[alias]
                replaced.add(alias)
        value = _localise_secrets(value, prefix)
        indent = body[: len(body) - len(stripped)]
        out.append(f"{indent}{key}{match['sep']}{value}{ending}")
    if aliases is None:
        raise SubstitutionError("no `clusters=` line: is this a rendered MirrorMaker 2 file?")
    unknown = sorted(set(aliases) - set(bootstraps))
    if unknown:
        raise SubstitutionError(f"no local bootstrap address for cluster(s) {', '.join(unknown)}")
    missing = sorted(set(aliases) - replaced)
    if missing:
        raise SubstitutionError(f"no `<alias>.bootstrap.servers` line for cluster(s) {', '.join(missing)}")
    return "".join(out)


def substitute_connector(body: Mapping[str, Any], bootstraps: Mapping[str, str], secrets_dir: Path) -> dict[str, Any]:
    """A rendered Connect connector (``{"name", "config"}``) with local addresses and secret paths."""
    prefix = _secrets_prefix(secrets_dir)
    config = dict(body["config"])
    for role in ("source", "target"):
        alias = config.get(f"{role}.cluster.alias")
        key = f"{role}.cluster.bootstrap.servers"
        if alias is None or key not in config:
            raise SubstitutionError(f"{body.get('name')}: no {role}.cluster.alias / {key}")
        if alias not in bootstraps:
            raise SubstitutionError(f"{body.get('name')}: no local bootstrap address for cluster {alias}")
        _check_bootstrap(alias, bootstraps[alias])
        config[key] = bootstraps[alias]
    config = {k: _localise_secrets(v, prefix) if isinstance(v, str) else v for k, v in config.items()}
    return {**body, "config": config}


def write_secret(secrets_dir: Path, secret: str, username: str, password: str) -> Path:
    """``<secrets_dir>/<secret>/{username,password}``, as Kubernetes mounts a Secret (no newline)."""
    folder = local_secret_path(secrets_dir, secret)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for key, value in (("username", username), ("password", password)):
        path = folder / key
        path.write_text(value)
        path.chmod(0o600)
    return folder


# ---- bounded waiting


def wait_until(check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2,
               describe: Callable[[], str] | None = None) -> T:
    """Call ``check`` until it returns something truthy; TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f": {describe()}" if describe else ""
            raise SandboxTimeout(f"{what}: not after {timeout:.0f} s{detail}")
        time.sleep(interval)


# ---- reading Connect's status topic


# Assign-only reads: no group membership, and librdkafka's own log lines (a coordinator
# connection torn down at close) kept off stderr; failures surface as exceptions.
_PROBE = {"group.id": "ferry-probe", "enable.auto.commit": False, "log_level": 0}
_NOT_YET = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART,
            KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN}


def status_topic(source_alias: str) -> str:
    """Where a dedicated-mode herder for ``source -> target`` writes statuses (on the target)."""
    return f"mm2-status.{source_alias}.internal"


def end_offsets(config: Mapping[str, object], topic: str, timeout: float = 10.0) -> dict[int, int]:
    """High watermark per partition; empty when the topic does not exist yet, or is not readable
    yet (a topic just created answers NOT_LEADER_FOR_PARTITION until its leader is known)."""
    consumer = Consumer({**config, **_PROBE})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        info = metadata.topics.get(topic)
        if info is None or info.error is not None:
            return {}
        ends = {}
        for partition in info.partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            ends[partition] = high
        return ends
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and (error.retriable() or error.code() in _NOT_YET):
            return {}
        raise
    finally:
        consumer.close()


def connector_states(
    config: Mapping[str, object], topic: str, *, since: Mapping[int, int] | None = None, timeout: float = 10.0
) -> dict[str, str]:
    """Latest state per connector and task in a Connect status topic, read to its end.

    Keys as Connect writes them, without the ``status-`` prefix: ``connector-<name>``,
    ``task-<name>-<n>``. ``since`` (end offsets taken earlier) skips what an earlier run wrote.
    """
    ends = end_offsets(config, topic, timeout)
    if not ends:
        return {}
    start = dict(since or {})
    consumer = Consumer({**config, **_PROBE, "enable.partition.eof": False})
    states: dict[str, str] = {}
    try:
        wanted = {p: end for p, end in ends.items() if end > start.get(p, 0)}
        if not wanted:
            return {}
        consumer.assign([TopicPartition(topic, p, start.get(p, 0)) for p in wanted])
        position = {p: start.get(p, 0) for p in wanted}
        deadline = time.monotonic() + timeout
        while any(position[p] < wanted[p] for p in wanted):
            if time.monotonic() > deadline:
                raise SandboxTimeout(f"reading {topic}: stuck at {position} of {wanted}")
            message = consumer.poll(0.5)
            if message is None:
                continue
            error, partition, offset = message.error(), message.partition(), message.offset()
            if error is not None:
                raise KafkaException(error)
            assert partition is not None and offset is not None  # a consumed message has both
            position[partition] = offset + 1
            key = (message.key() or b"").decode(errors="replace").removeprefix("status-")
            value = message.value()
            if value is None:
                states.pop(key, None)
                continue
            try:
                states[key] = json.loads(value).get("state", "?")
            except (ValueError, AttributeError):
                continue
    finally:
        consumer.close()
    return states


MM2_CONNECTORS = ("MirrorSourceConnector", "MirrorCheckpointConnector", "MirrorHeartbeatConnector")


def mm2_running(states: Mapping[str, str]) -> bool:
    """Source and heartbeat connectors RUNNING with at least one RUNNING task each, checkpoint RUNNING.

    The checkpoint connector has no task until a listed group has committed offsets on the
    source (``MirrorCheckpointConnector.taskConfigs``), so its tasks are not waited for.
    """
    for name in MM2_CONNECTORS:
        if states.get(f"connector-{name}") != "RUNNING":
            return False
    for name in ("MirrorSourceConnector", "MirrorHeartbeatConnector"):
        tasks = [state for key, state in states.items() if key.startswith(f"task-{name}-")]
        if not tasks or any(state != "RUNNING" for state in tasks):
            return False
    return True


# ---- the process


class MirrorMaker2(JavaProcess):
    """One dedicated-mode MirrorMaker 2 JVM::

        mm2 = MirrorMaker2("legacy--governed", config_file, clusters=["governed"]).start()
        ...
        mm2.stop()
    """

    def __init__(
        self,
        name: str,
        config_file: Path,
        *,
        clusters: Sequence[str],
        log_dir: Path | None = None,
        heap: str = "256m",
        jvm_options: Sequence[str] = SANDBOX_JVM_OPTIONS,
        lib_dir: Path | None = None,
        policy_jar: Path | None = None,
        detached: bool = False,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise ValueError(f"MirrorMaker 2 name {name!r}: use letters, digits, '.', '_' or '-'")
        if not clusters:
            raise ValueError("give --clusters: the target alias (otherwise MM2 also runs reverse herders)")
        self.name = name
        self.config_file = Path(config_file).absolute()
        self.clusters = tuple(clusters)
        self.log_dir = (Path(log_dir) if log_dir is not None else DEFAULT_LOG_DIR).absolute()
        self.heap = heap
        self.jvm_options = tuple(jvm_options)
        self._lib_dir = lib_dir
        self._policy_jar = policy_jar
        self.detached = detached
        self._proc: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None

    def command(self) -> list[str]:
        lib = self._lib_dir or ensure_kafka_lib()
        jar = self._policy_jar or ensure_policy_jar()
        return java_command(
            require_tool("java"),
            MIRROR_MAKER_MAIN,
            [str(self.config_file), "--clusters", *self.clusters],
            classpath_entries=[lib / "*", jar],
            heap=self.heap,
            log_file=self.log_file,
            jvm_options=self.jvm_options,
        )

    def start(self) -> MirrorMaker2:
        """Launch (does not wait). Call from a thread that outlives it (see sandbox.processes)."""
        if self.is_running:
            raise ServiceError(f"{self.name}: already running (pid {self.pid})")
        if not self.config_file.is_file():
            raise FileNotFoundError(self.config_file)
        command = self.command()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.out_file, "ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start {self.config_file}\n".encode())
        self.started_at = time.monotonic()
        self._proc = processes.spawn(command, output=self.out_file, detached=self.detached)
        log.info("%s: MirrorMaker 2 pid %s (%s)", self.name, self._proc.pid, self.config_file)
        return self

    def check_alive(self) -> None:
        """Raise with the log tail if the JVM exited (use inside waits, to fail fast)."""
        if self._proc is not None and self._proc.poll() is not None:
            raise ServiceError(f"{self.name}: MirrorMaker 2 exited with code {self._proc.poll()}\n{self.log_tail()}")

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_running else "stopped"
        return f"MirrorMaker2({self.name!r}, {self.config_file.name}, {state})"


