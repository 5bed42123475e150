"""A distributed Kafka Connect worker for the rendered MirrorMaker 2 connectors.

``org.apache.kafka.connect.cli.ConnectDistributed <worker.properties>``, one JVM. As the
rendered connectors require (docs/rendered.md), the worker's own Kafka cluster is the
**target**: its internal topics, the source connector's producer and the checkpoint
connector's offset writes go there, so it authenticates like MirrorMaker 2 does (SASL, the
credentials read through ``config.providers=dir`` from a Secret-shaped folder, never inline).
Keys, values and headers use ``ByteArrayConverter``; Ferry's policy jar is on the classpath.

The worker properties are a pure function (``worker_properties``); ``ConnectWorker`` does the
IO: a free REST port, the file, the process, readiness (``GET /health`` answers 200 once the
worker has joined its group and read its config topic).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from compiler.conventions import BYTE_ARRAY_CONVERTER, LOGIN_MODULES
from sandbox import processes
from sandbox.brokerconfig import render_properties
from sandbox.cluster import allocate_ports
from sandbox.errors import SandboxTimeout, ServiceError
from sandbox.jars import ensure_kafka_lib, ensure_policy_jar, require_tool
from sandbox.jvm import SANDBOX_JVM_OPTIONS, java_command
from sandbox.mm2 import local_secret_path
from sandbox.service import DEFAULT_LOG_DIR, JavaProcess

log = logging.getLogger(__name__)

CONNECT_MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"
DIRECTORY_CONFIG_PROVIDER = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
READY_TIMEOUT_SECONDS = 90.0
# The worker commits source offsets, and MirrorSourceTask flushes its latest offset syncs, every
# offset.flush.interval.ms (Connect's default 60 s). A quiesced partition's last sync waits for
# it, so a group that read to the end converges exactly only after the next flush.
DEFAULT_OFFSET_FLUSH_MS = 5000


def worker_properties(
    *,
    name: str,
    bootstrap: str,
    rest_port: int,
    security_protocol: str = "PLAINTEXT",
    sasl_mechanism: str | None = None,
    secret_dir: Path | None = None,
    offset_flush_ms: int = DEFAULT_OFFSET_FLUSH_MS,
) -> dict[str, str]:
    """worker.properties of a one-worker distributed Connect cluster on the target cluster.

    With SASL, ``secret_dir`` is the folder of the Secret (files ``username``, ``password``);
    the credentials are referenced through the ``dir`` provider, also for the worker itself.
    """
    props = {
        "bootstrap.servers": bootstrap,
        "group.id": f"{name}",
        "config.storage.topic": f"{name}-configs",
        "offset.storage.topic": f"{name}-offsets",
        "status.storage.topic": f"{name}-status",
        "config.storage.replication.factor": "-1",
        "offset.storage.replication.factor": "-1",
        "status.storage.replication.factor": "-1",
        # Few partitions: each is a file set on a one-node sandbox cluster.
        "offset.storage.partitions": "2",
        "status.storage.partitions": "1",
        "key.converter": BYTE_ARRAY_CONVERTER,
        "value.converter": BYTE_ARRAY_CONVERTER,
        "header.converter": BYTE_ARRAY_CONVERTER,
        "config.providers": "dir",
        "config.providers.dir.class": DIRECTORY_CONFIG_PROVIDER,
        "listeners": f"http://127.0.0.1:{rest_port}",
        "rest.advertised.host.name": "127.0.0.1",
        "rest.advertised.port": str(rest_port),
        "offset.flush.interval.ms": str(offset_flush_ms),
        # One worker: no reason to hold back assignments after it restarts.
        "scheduled.rebalance.max.delay.ms": "0",
        # Every plugin used here (MM2 connectors, converters, the dir provider) ships a
        # ServiceLoader manifest in Kafka's jars; skipping the reflective classpath scan of the
        # default hybrid_warn saves seconds at start-up.
        "plugin.discovery": "service_load",
    }
    if security_protocol.startswith("SASL_"):
        if sasl_mechanism is None or secret_dir is None:
            raise ValueError("a SASL worker needs sasl_mechanism and secret_dir")
        module = LOGIN_MODULES[sasl_mechanism]
        jaas = (
            f'{module} required username="${{dir:{secret_dir}:username}}" '
            f'password="${{dir:{secret_dir}:password}}";'
        )
        security = {"security.protocol": security_protocol, "sasl.mechanism": sasl_mechanism, "sasl.jaas.config": jaas}
    else:
        security = {"security.protocol": security_protocol}
    # The worker's own clients, and the producers/consumers/admins it makes for tasks.
    for prefix in ("", "producer.", "consumer.", "admin."):
        props.update({prefix + k: v for k, v in security.items()})
    return props


class ConnectWorker(JavaProcess):
    """One distributed Connect worker::

        worker = ConnectWorker("ferry-connect", bootstrap=target.bootstrap, ...).start()
        worker.wait_ready()
        ... worker.url ...
        worker.stop()
    """

    def __init__(
        self,
        name: str,
        *,
        base_dir: Path,
        bootstrap: str,
        security_protocol: str = "PLAINTEXT",
        sasl_mechanism: str | None = None,
        secrets_dir: Path | None = None,
        secret: str | None = None,
        offset_flush_ms: int = DEFAULT_OFFSET_FLUSH_MS,
        log_dir: Path | None = None,
        heap: str = "384m",
        jvm_options: Sequence[str] = SANDBOX_JVM_OPTIONS,
        lib_dir: Path | None = None,
        policy_jar: Path | None = None,
        detached: bool = False,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise ValueError(f"worker name {name!r}: use letters, digits, '.', '_' or '-'")
        self.name = name
        # Absolute: the worker runs with base_dir as its working directory.
        self.base_dir = Path(base_dir).absolute()
        self.bootstrap = bootstrap
        self.security_protocol = security_protocol
        self.sasl_mechanism = sasl_mechanism
        self.secret_dir = local_secret_path(secrets_dir, secret).absolute() if secrets_dir and secret else None
        self.offset_flush_ms = offset_flush_ms
        self.log_dir = (Path(log_dir) if log_dir is not None else DEFAULT_LOG_DIR).absolute()
        self.heap = heap
        self.jvm_options = tuple(jvm_options)
        self._lib_dir = lib_dir
        self._policy_jar = policy_jar
        self.detached = detached
        self.rest_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._launched_at: float | None = None
        self.ready_seconds: float | None = None

    @property
    def properties_file(self) -> Path:
        return self.base_dir / "worker.properties"

    @property
    def url(self) -> str:
        if self.rest_port is None:
            raise ServiceError(f"{self.name}: not started")
        return f"http://127.0.0.1:{self.rest_port}"

    def properties(self) -> dict[str, str]:
        if self.rest_port is None:
            self.rest_port = allocate_ports(["REST"])["REST"]
        return worker_properties(
            name=self.name,
            bootstrap=self.bootstrap,
            rest_port=self.rest_port,
            security_protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism,
            secret_dir=self.secret_dir,
            offset_flush_ms=self.offset_flush_ms,
        )

    def start(self) -> ConnectWorker:
        """Write worker.properties and launch (does not wait; see wait_ready)."""
        if self.is_running:
            raise ServiceError(f"{self.name}: already running (pid {self.pid})")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(render_properties(self.properties()))
        command = java_command(
            require_tool("java"),
            CONNECT_MAIN,
            [str(self.properties_file)],
            classpath_entries=[(self._lib_dir or ensure_kafka_lib()) / "*", self._policy_jar or ensure_policy_jar()],
            heap=self.heap,
            log_file=self.log_file,
            jvm_options=self.jvm_options,
        )
        with open(self.out_file, "ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start {self.properties_file}\n".encode())
        self._launched_at = time.monotonic()
        self.ready_seconds = None
        self._proc = processes.spawn(command, output=self.out_file, cwd=self.base_dir, detached=self.detached)
        log.info("%s: Connect worker pid %s, REST %s", self.name, self._proc.pid, self.url)
        return self

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, object]:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Block until ``GET /health`` says 200; seconds since launch. Fails fast if the JVM exits."""
        if self._proc is None or self._launched_at is None:
            raise ServiceError(f"{self.name}: not started")
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            code = self._proc.poll()
            if code is not None:
                raise ServiceError(f"{self.name}: Connect worker exited with code {code}\n{self.log_tail()}")
            try:
                status, body = self.get("/health", timeout=2.0)
                if status == 200:
                    self.ready_seconds = time.monotonic() - self._launched_at
                    return self.ready_seconds
                last = f"HTTP {status}: {body}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            if time.monotonic() >= deadline:
                raise SandboxTimeout(f"{self.name}: not ready after {timeout:.0f} s ({last})\n{self.log_tail()}")
            time.sleep(0.25)

    def connector_status(self, name: str) -> Mapping[str, object] | None:
        status, body = self.get(f"/connectors/{name}/status")
        return body if status == 200 and isinstance(body, dict) else None

    def __repr__(self) -> str:
        state = f"pid {self.pid}, {self.url}" if self.is_running else "stopped"
        return f"ConnectWorker({self.name!r}, {state})"


def connector_running(status: Mapping[str, object] | None, *, min_tasks: int = 1) -> bool:
    """``GET /connectors/<name>/status`` says the connector and at least ``min_tasks`` tasks run."""
    if not status:
        return False
    connector = status.get("connector") or {}
    tasks = status.get("tasks") or []
    if not isinstance(connector, dict) or connector.get("state") != "RUNNING":
        return False
    if not isinstance(tasks, list) or len(tasks) < min_tasks:
        return False
    return all(isinstance(t, dict) and t.get("state") == "RUNNING" for t in tasks)
