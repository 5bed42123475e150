"""Single-node KRaft Kafka clusters for tests and the local sandbox.

One JVM per cluster is both broker and controller (``process.roles=broker,controller``), all
listeners on 127.0.0.1, replication factors 1, topic auto-creation off (a wrong replication
policy then fails loudly instead of creating topics).

Two security modes:

``PLAINTEXT`` (the legacy cluster)
    listeners ``CLIENT`` (PLAINTEXT, also inter-broker) and ``CONTROLLER``.
``SCRAM`` (the governed target)
    ``CLIENT`` is SASL_PLAINTEXT with SCRAM-SHA-512; inter-broker (``BROKER``) and
    ``CONTROLLER`` stay PLAINTEXT on loopback. The users are written into the metadata log when
    the storage is formatted (``StorageTool format --add-scram``), so they exist before the
    first client connects; no ZooKeeper-era ``kafka-configs`` step.

The configuration itself (pure functions) is in ``sandbox.brokerconfig``; this module does the
IO: ports, files, the storage tool, the broker process and readiness.

Files, under ``base_dir`` (data) and ``log_dir`` (logs)::

    <base_dir>/node.json           cluster id and ports; a restart, or a later process, reuses both
    <base_dir>/server.properties
    <base_dir>/data/               log.dirs (the metadata log included)
    <log_dir>/<name>.log           log4j2, INFO and up (kafka/log4j2.properties)
    <log_dir>/<name>.out           stdout/stderr: WARN and up, JVM crashes, storage tool output

Readiness is decided by connecting (an admin client sees the broker in cluster metadata), never
by reading logs. ``start`` only launches; ``wait_ready`` waits. To bring several clusters up at
once use ``start_all``: it formats them in parallel, launches them from the calling thread (see
``sandbox.processes`` for why that thread matters) and waits for all of them together.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sandbox import processes
from sandbox.brokerconfig import (
    SecurityMode,
    broker_properties,
    client_settings,
    listener_names,
    new_cluster_id,
    render_properties,
    scram_arguments,
)
from sandbox.clients import AuthenticationFailed, MetadataProbe
from sandbox.errors import ServiceError
from sandbox.jars import ensure_kafka_lib, require_tool
from sandbox.jvm import SANDBOX_JVM_OPTIONS, java_command
from sandbox.service import DEFAULT_LOG_DIR, JavaProcess

log = logging.getLogger(__name__)

DEFAULT_USERS: Mapping[str, str] = {"admin": "admin-secret", "ferry": "ferry-secret"}

BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"

# The storage tool is a short JVM (about 1 s); a minute means it is stuck.
FORMAT_TIMEOUT_SECONDS = 60.0
# A combined broker+controller with an empty log stops in well under a second.
READY_TIMEOUT_SECONDS = 60.0


class KafkaNodeError(ServiceError):
    """A node failed to format, start, become ready or stop; carries the end of its logs."""


def read_meta_cluster_id(data_dir: Path) -> str | None:
    """The cluster.id in ``meta.properties`` if the directory is formatted."""
    try:
        text = (data_dir / "meta.properties").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("cluster.id="):
            return line.split("=", 1)[1].strip()
    return None



# ---- ports

_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def allocate_ports(names: Sequence[str]) -> dict[str, int]:
    """Free loopback ports, distinct from every port handed out before in this process.

    The kernel picks them (bind to port 0); all sockets stay open until every port is chosen so
    one call cannot get the same port twice. Another process may still take a port before the
    broker binds it; the broker then fails to start and says so in its log.
    """
    with _ports_lock:
        sockets: list[socket.socket] = []
        try:
            ports: dict[str, int] = {}
            for name in names:
                while True:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    sockets.append(s)
                    s.bind(("127.0.0.1", 0))
                    port = s.getsockname()[1]
                    if port not in _handed_out:
                        break
                ports[name] = port
                _handed_out.add(port)
            return ports
        finally:
            for s in sockets:
                s.close()


# ---- the node


class KafkaNode(JavaProcess):
    """A single-node KRaft cluster in its own JVM::

        node = KafkaNode("legacy", base_dir=tmp / "legacy")
        node.start()
        node.wait_ready()
        Producer(node.client_config())
        node.stop()
    """

    def __init__(
        self,
        name: str,
        *,
        base_dir: Path,
        security: SecurityMode = SecurityMode.PLAINTEXT,
        users: Mapping[str, str] | None = None,
        admin_user: str = "admin",
        log_dir: Path | None = None,
        heap: str = "384m",
        jvm_options: Sequence[str] = SANDBOX_JVM_OPTIONS,
        lib_dir: Path | None = None,
        detached: bool = False,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise ValueError(f"node name {name!r}: use letters, digits, '.', '_' or '-'")
        self.name = name
        self.security = security
        self.users = dict(DEFAULT_USERS if users is None else users)
        if security is SecurityMode.SCRAM and admin_user not in self.users:
            raise ValueError(f"admin user {admin_user!r} is not among the SCRAM users {sorted(self.users)}")
        self.admin_user = admin_user
        # Absolute from here on: the broker runs with base_dir as its working directory, so a
        # relative path handed to it would resolve against the wrong folder.
        self.base_dir = Path(base_dir).absolute()
        self.log_dir = (Path(log_dir) if log_dir is not None else DEFAULT_LOG_DIR).absolute()
        self.heap = heap
        self.jvm_options = tuple(jvm_options)
        self._lib_dir = lib_dir
        # True: the JVM outlives this Python process (see processes.spawn); for `ferry sandbox up`.
        self.detached = detached
        self._proc: subprocess.Popen[bytes] | None = None
        self._ports: dict[str, int] | None = None
        self._cluster_id: str | None = None
        self._launched_at: float | None = None
        self.format_seconds: float | None = None
        self.ready_seconds: float | None = None

    # -- paths and identity

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def properties_file(self) -> Path:
        return self.base_dir / "server.properties"

    @property
    def cluster_id(self) -> str:
        if self._cluster_id is None:
            raise KafkaNodeError(f"{self.name}: not prepared yet (call start)")
        return self._cluster_id

    @property
    def ports(self) -> dict[str, int]:
        if self._ports is None:
            raise KafkaNodeError(f"{self.name}: not prepared yet (call start)")
        return dict(self._ports)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['CLIENT']}"

    def client_config(self, user: str | None = None, password: str | None = None) -> dict[str, str]:
        """Settings for confluent-kafka clients; on SCRAM the admin user unless told otherwise."""
        if self.security is SecurityMode.PLAINTEXT:
            return client_settings(self.security, self.bootstrap)
        user = self.admin_user if user is None else user
        if password is None:
            if user not in self.users:
                raise KeyError(f"{self.name}: no SCRAM user {user!r}; pass its password")
            password = self.users[user]
        return client_settings(self.security, self.bootstrap, user, password)

    # -- lifecycle

    def _lib(self) -> Path:
        if self._lib_dir is None:
            self._lib_dir = ensure_kafka_lib()
        return self._lib_dir

    def _java(self, main_class: str, args: Sequence[str], heap: str) -> list[str]:
        return java_command(
            require_tool("java"),
            main_class,
            args,
            classpath_entries=[self._lib() / "*"],
            heap=heap,
            log_file=self.log_file,
            jvm_options=self.jvm_options,
        )

    def _load_or_create_identity(self) -> None:
        state_file = self.base_dir / "node.json"
        if self._ports is None and state_file.is_file():
            state = json.loads(state_file.read_text())
            if state.get("security") == self.security.name:
                self._ports = {k: int(v) for k, v in state["ports"].items()}
                self._cluster_id = state["cluster_id"]
        if self._ports is None:
            self._ports = allocate_ports(listener_names(self.security))
        if self._cluster_id is None:
            self._cluster_id = read_meta_cluster_id(self.data_dir) or new_cluster_id()
        state = {"cluster_id": self._cluster_id, "security": self.security.name, "ports": self._ports}
        state_file.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")

    def prepare(self) -> KafkaNode:
        """Choose ports and id, write server.properties, format the storage if it is empty.

        Safe to call from worker threads (it only runs the short storage-tool JVM to completion).
        """
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._load_or_create_identity()
        props = broker_properties(security=self.security, ports=self.ports, data_dir=self.data_dir)
        self.properties_file.write_text(render_properties(props))
        formatted_id = read_meta_cluster_id(self.data_dir)
        if formatted_id is not None:
            if formatted_id != self._cluster_id:
                raise KafkaNodeError(
                    f"{self.name}: {self.data_dir} belongs to cluster {formatted_id}, expected {self._cluster_id}"
                )
            return self
        # A fresh cluster starts fresh logs.
        for path in (self.log_file, self.out_file):
            path.write_bytes(b"")
        args = ["format", "--standalone", "--cluster-id", self.cluster_id, "--config", str(self.properties_file)]
        if self.security is SecurityMode.SCRAM:
            args += scram_arguments(self.users)
        started = time.monotonic()
        try:
            result = subprocess.run(
                self._java(STORAGE_TOOL_MAIN, args, heap="256m"),
                capture_output=True,
                text=True,
                timeout=FORMAT_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaNodeError(f"{self.name}: storage format timed out after {FORMAT_TIMEOUT_SECONDS} s") from exc
        self.format_seconds = time.monotonic() - started
        with open(self.out_file, "a") as out:
            out.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise KafkaNodeError(
                f"{self.name}: storage format failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return self

    def launch(self) -> KafkaNode:
        """Start the broker JVM. Call from a thread that outlives it (see sandbox.processes)."""
        if self.is_running:
            raise KafkaNodeError(f"{self.name}: already running (pid {self.pid})")
        if self._ports is None:
            raise KafkaNodeError(f"{self.name}: prepare before launch")
        command = self._java(BROKER_MAIN, [str(self.properties_file)], heap=self.heap)
        self._launched_at = time.monotonic()
        self.ready_seconds = None
        self._proc = processes.spawn(command, output=self.out_file, cwd=self.base_dir, detached=self.detached)
        log.info("%s: launched pid %s on %s", self.name, self._proc.pid, self.bootstrap)
        return self

    def start(self) -> KafkaNode:
        """prepare + launch; does not wait (see wait_ready and start_all)."""
        return self.prepare().launch()

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Block until an admin client sees this broker; returns seconds since launch.

        Fails fast, with the end of the logs, if the JVM exits while we wait.
        """
        if self._proc is None or self._launched_at is None:
            raise KafkaNodeError(f"{self.name}: not launched")
        deadline = time.monotonic() + timeout
        probe = MetadataProbe(self.client_config())
        while True:
            code = self._proc.poll()
            if code is not None:
                raise KafkaNodeError(f"{self.name}: exited with code {code} while starting\n{self.log_tail()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KafkaNodeError(
                    f"{self.name}: not ready after {timeout:.0f} s ({probe.last_error})\n{self.log_tail()}"
                )
            try:
                metadata = probe.attempt(min(0.5, remaining))
            except AuthenticationFailed as exc:
                raise KafkaNodeError(f"{self.name}: the broker refused user {self.admin_user!r}: {exc}") from exc
            if metadata is not None:
                self.ready_seconds = time.monotonic() - self._launched_at
                log.info("%s: ready in %.2f s", self.name, self.ready_seconds)
                return self.ready_seconds
            time.sleep(0.05)

    def restart(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Stop if running, start again on the same ports and data; returns seconds to ready."""
        self.stop()
        self.prepare().launch()
        return self.wait_ready(timeout)

    def __enter__(self) -> KafkaNode:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.bootstrap if self._ports else "unprepared"
        state = f"pid {self.pid}" if self.is_running else "stopped"
        return f"KafkaNode({self.name!r}, {self.security.name}, {where}, {state})"


def start_all(nodes: Sequence[KafkaNode], timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Bring several nodes up side by side: format in parallel, launch here, wait together.

    On any failure every node that was launched is stopped before the error propagates.
    """
    if not nodes:
        return
    ensure_kafka_lib()  # once, before the threads race for the lock
    try:
        with ThreadPoolExecutor(len(nodes)) as pool:
            for future in [pool.submit(node.prepare) for node in nodes]:
                future.result()
        for node in nodes:
            node.launch()
        with ThreadPoolExecutor(len(nodes)) as pool:
            for waited in [pool.submit(node.wait_ready, timeout) for node in nodes]:
                waited.result()
    except BaseException:
        for node in nodes:
            node.stop()
        raise
