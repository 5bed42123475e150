"""Record the first request frame that real Kafka clients send, as test fixtures.

For each recording: open a loopback TCP listener, start a real client in a child process with
``bootstrap.servers`` pointing at it, accept its first connection, read exactly one frame (the
INT32 size, then that many bytes), kill the client, and write

    tests/proxy/fixtures/<name>.bin    the frame, byte for byte
    tests/proxy/fixtures/<name>.json   what test_codec.py expects the codec to find in it

The listener never answers, so every client sends only its opening request. The framing here
is deliberately independent of proxy.codec (it is the code under test): it reads the size
field and api key/version at their fixed offsets and nothing else; the expected client id is
the one we configured.

Usage (from the repo root):

    .venv/bin/python tests/proxy/record_first_frames.py            # all recordings
    .venv/bin/python tests/proxy/record_first_frames.py NAME ...   # some of them

The Java recording needs a JDK (11+) and the kafka-clients jar in the local Maven repository:

    mvn dependency:get -Dartifact=org.apache.kafka:kafka-clients:4.3.1

The fixtures are committed, so the tests need neither Java nor a network.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
JAVA_CLIENT = HERE / "java" / "FirstFrameClient.java"

KAFKA_CLIENTS_VERSION = "4.3.1"
# kafka-clients' compile/runtime dependencies that a bare producer actually loads.
JAVA_JARS = (
    f"org/apache/kafka/kafka-clients/{KAFKA_CLIENTS_VERSION}/kafka-clients-{KAFKA_CLIENTS_VERSION}.jar",
    "org/slf4j/slf4j-api/1.7.36/slf4j-api-1.7.36.jar",
)

ACCEPT_TIMEOUT_S = 60.0
READ_TIMEOUT_S = 10.0
# The first frame of any real client is tiny; refuse to record something absurd.
MAX_RECORDED_SIZE = 1 << 20

# A child process running librdkafka through confluent-kafka. list_topics() needs metadata,
# so the client must connect; it blocks until we kill it.
_LIBRDKAFKA_CHILD = """
import json, sys
from confluent_kafka import Producer
Producer(json.loads(sys.argv[1])).list_topics(timeout=60)
"""


@dataclass(frozen=True)
class Recording:
    name: str
    client_id: str
    description: str
    kind: str  # "librdkafka" | "java"
    config: dict[str, str] = field(default_factory=dict)


RECORDINGS = (
    Recording(
        name="librdkafka-producer",
        client_id="billing-api.orders-writer",
        description="confluent-kafka Producer with default settings: opens with ApiVersions",
        kind="librdkafka",
    ),
    Recording(
        name="librdkafka-producer-non-ascii-client-id",
        client_id="zahlungsdienst.bücher-écrivain-注文",
        description="confluent-kafka Producer whose client.id is non-ASCII UTF-8",
        kind="librdkafka",
    ),
    Recording(
        name="librdkafka-no-api-version-request",
        client_id="legacy.inventory-sync",
        description=(
            "confluent-kafka Producer with api.version.request=false, "
            "broker.version.fallback=0.9.0: skips ApiVersions and opens with Metadata"
        ),
        kind="librdkafka",
        config={"api.version.request": "false", "broker.version.fallback": "0.9.0"},
    ),
    Recording(
        name=f"java-kafka-clients-{KAFKA_CLIENTS_VERSION}-producer",
        client_id="billing-api.orders-writer",
        description=f"Apache Kafka Java client {KAFKA_CLIENTS_VERSION}, KafkaProducer",
        kind="java",
    ),
)


def _read_exactly(conn: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = conn.recv(n - len(chunks))
        if not chunk:
            raise RuntimeError(f"client closed after {len(chunks)} of {n} bytes")
        chunks += chunk
    return bytes(chunks)


def _read_one_frame(conn: socket.socket) -> bytes:
    size_field = _read_exactly(conn, 4)
    (size,) = struct.unpack(">i", size_field)
    if not 0 <= size <= MAX_RECORDED_SIZE:
        raise RuntimeError(f"implausible first frame size {size}")
    return size_field + _read_exactly(conn, size)


def _java_classpath() -> str | None:
    repo = Path(os.environ.get("MAVEN_REPO", Path.home() / ".m2" / "repository"))
    jars = [repo / jar for jar in JAVA_JARS]
    if shutil.which("java") is None or not all(jar.is_file() for jar in jars):
        return None
    return os.pathsep.join(str(jar) for jar in jars)


def _child_argv(recording: Recording, bootstrap: str) -> list[str]:
    if recording.kind == "librdkafka":
        config = {
            "bootstrap.servers": bootstrap,
            "client.id": recording.client_id,
            **recording.config,
        }
        return [sys.executable, "-c", _LIBRDKAFKA_CHILD, json.dumps(config)]
    classpath = _java_classpath()
    if classpath is None:
        raise RuntimeError(
            "needs `java` and the kafka-clients jar: mvn dependency:get "
            f"-Dartifact=org.apache.kafka:kafka-clients:{KAFKA_CLIENTS_VERSION}"
        )
    return ["java", "-cp", classpath, str(JAVA_CLIENT), bootstrap, recording.client_id]


def _version_string(version: str | tuple[str, int]) -> str:
    # confluent_kafka.version() is a plain string in some releases, (string, int) in others.
    return version[0] if isinstance(version, tuple) else version


def _recorded_with(recording: Recording) -> dict[str, str]:
    if recording.kind == "librdkafka":
        import confluent_kafka

        return {
            "confluent-kafka": _version_string(confluent_kafka.version()),
            "librdkafka": confluent_kafka.libversion()[0],
        }
    java = subprocess.run(
        ["java", "-version"], capture_output=True, text=True, check=True
    ).stderr.splitlines()[0]
    return {"kafka-clients": KAFKA_CLIENTS_VERSION, "java": java}


def capture(recording: Recording) -> bytes:
    """Run the client against a silent loopback listener; return its first frame."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(ACCEPT_TIMEOUT_S)
        bootstrap = f"127.0.0.1:{server.getsockname()[1]}"
        child = subprocess.Popen(
            _child_argv(recording, bootstrap),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(READ_TIMEOUT_S)
                return _read_one_frame(conn)
        finally:
            child.kill()
            _, stderr = child.communicate(timeout=30)
            if stderr.strip():
                tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
                print(f"  ({recording.name} stderr, last lines: {tail})", file=sys.stderr)


def record(recording: Recording) -> None:
    started = time.monotonic()
    frame = capture(recording)
    api_key, api_version = struct.unpack_from(">hh", frame, 4)
    sidecar = {
        "client": recording.name,
        "description": recording.description,
        "recorded_with": _recorded_with(recording),
        "config": {"client.id": recording.client_id, **recording.config},
        "expected": {
            "client_id": recording.client_id,
            "api_key": api_key,
            "api_version": api_version,
            "frame_length": len(frame),
        },
    }
    FIXTURES.mkdir(exist_ok=True)
    (FIXTURES / f"{recording.name}.bin").write_bytes(frame)
    (FIXTURES / f"{recording.name}.json").write_text(
        json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(
        f"{recording.name}: {len(frame)} bytes, api_key={api_key} api_version={api_version} "
        f"({time.monotonic() - started:.1f}s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="recordings to make (default: all)")
    args = parser.parse_args(argv)
    known = {r.name: r for r in RECORDINGS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown recording(s) {unknown}; known: {sorted(known)}")
    failed = 0
    for recording in RECORDINGS:
        if args.names and recording.name not in args.names:
            continue
        try:
            record(recording)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            failed += 1
            print(f"{recording.name}: FAILED: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
