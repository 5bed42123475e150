"""A minimal, blocking Kafka client over a plain socket: enough to ask "where does this client
id land?" through a proxy, and to push real requests through a pipe.

    python -m tests.tools.probe 127.0.0.1:9092 billing.invoice-mailer.1
    {"cluster_id": "...", "brokers": ["1@kafka-1.governed.internal:9094"], ...}

It speaks exactly what it needs, at versions every Kafka 4.x broker accepts (KIP-896 removed
the older ones): ApiVersions v0-v4, SaslHandshake v1 + SaslAuthenticate v1 with SCRAM-SHA-256/512
(RFC 5802), Metadata v4, Produce v3 (one uncompressed record batch), Fetch v4. Requests are
built with ``tests.tools.kafka_frames``; responses use header v0 at these versions (ApiVersions
responses always do), over TCP or TLS. Not a client library: no retries, no compression. Used
by the proxy's tests and benchmarks, and from a checkout (run from the repository root) to
check where a client id lands.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import struct
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tests.tools.kafka_frames import encode_api_versions_request, encode_frame, encode_request_header

__all__ = [
    "KafkaConnection",
    "KafkaWireError",
    "Metadata",
    "crc32c",
    "fetch_request",
    "metadata_request",
    "parse_api_versions",
    "parse_fetch",
    "parse_metadata",
    "parse_produce",
    "probe",
    "produce_request",
]

METADATA, PRODUCE, FETCH, SASL_HANDSHAKE, SASL_AUTHENTICATE = 3, 0, 1, 17, 36
#: Responses larger than this are refused: a probe never asks for more.
MAX_RESPONSE = 64 << 20


class KafkaWireError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------
# Primitive reading.


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise KafkaWireError(f"response truncated at byte {self.pos} (wanted {n})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def _unpack(self, fmt: str, n: int) -> int:
        return struct.unpack(fmt, self.take(n))[0]

    def int8(self) -> int:
        return self._unpack(">b", 1)

    def int16(self) -> int:
        return self._unpack(">h", 2)

    def int32(self) -> int:
        return self._unpack(">i", 4)

    def int64(self) -> int:
        return self._unpack(">q", 8)

    def string(self) -> str | None:
        n = self.int16()
        return None if n < 0 else self.take(n).decode()

    def uvarint(self) -> int:
        value = shift = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise KafkaWireError("varint too long")

    def varint(self) -> int:
        raw = self.uvarint()
        return (raw >> 1) ^ -(raw & 1)


def _string(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def _varint(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)  # zigzag
    out = bytearray()
    while raw >= 0x80:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)
    return bytes(out)


def _bytes_varint(value: bytes | None) -> bytes:
    return _varint(-1) if value is None else _varint(len(value)) + value


# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78: record batches v2 carry it.
def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# --------------------------------------------------------------------------------------------
# Requests and responses.


def parse_api_versions(body: bytes, version: int) -> dict[int, tuple[int, int]]:
    """api key -> (min, max) from an ApiVersions response body (v0-v4)."""
    r = _Reader(body)
    error = r.int16()
    if error:
        raise KafkaWireError(f"ApiVersions error code {error}")
    flexible = version >= 3
    count = r.uvarint() - 1 if flexible else r.int32()
    out = {}
    for _ in range(count):
        key, low, high = r.int16(), r.int16(), r.int16()
        if flexible:
            for _ in range(r.uvarint()):
                r.uvarint()
                r.take(r.uvarint())
        out[key] = (low, high)
    return out


def metadata_request(correlation_id: int, client_id: str | None, topics: Sequence[str] | None = None) -> bytes:
    """Metadata v4; ``topics=None`` asks for every topic."""
    body = struct.pack(">i", -1) if topics is None else struct.pack(">i", len(topics)) + b"".join(
        _string(t) for t in topics)
    return encode_frame(encode_request_header(METADATA, 4, correlation_id, client_id) + body + b"\x00")


@dataclass(frozen=True)
class Metadata:
    cluster_id: str | None
    controller_id: int
    brokers: tuple[tuple[int, str, int], ...]
    #: topic -> (error code, partition count)
    topics: dict[str, tuple[int, int]] = field(default_factory=dict)


def parse_metadata(body: bytes) -> Metadata:
    r = _Reader(body)
    r.int32()  # throttle
    brokers = []
    for _ in range(r.int32()):
        node, host, port = r.int32(), r.string() or "", r.int32()
        r.string()  # rack
        brokers.append((node, host, port))
    cluster_id = r.string()
    controller = r.int32()
    topics = {}
    for _ in range(r.int32()):
        error, name = r.int16(), r.string() or ""
        r.int8()  # is_internal
        partitions = r.int32()
        for _ in range(partitions):
            r.int16(), r.int32(), r.int32()
            for _ in range(2):  # replicas, isr (offline replicas come with v5)
                r.take(4 * r.int32())
        topics[name] = (error, partitions)
    return Metadata(cluster_id, controller, tuple(brokers), topics)


def record_batch(records: Sequence[tuple[bytes | None, bytes | None]], timestamp_ms: int | None = None) -> bytes:
    """One uncompressed v2 record batch (offsets relative to 0; the broker assigns)."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    body = bytearray()
    for delta, (key, value) in enumerate(records):
        rec = b"\x00" + _varint(0) + _varint(delta) + _bytes_varint(key) + _bytes_varint(value) + _varint(0)
        body += _varint(len(rec)) + rec
    after_crc = (
        struct.pack(">hiqqqhii", 0, len(records) - 1, ts, ts, -1, -1, -1, len(records)) + bytes(body)
    )
    crc = crc32c(after_crc)
    # batchLength counts from partitionLeaderEpoch on: 4 (epoch) + 1 (magic) + 4 (crc) + rest.
    batch_length = 4 + 1 + 4 + len(after_crc)
    return struct.pack(">qiibI", 0, batch_length, -1, 2, crc) + after_crc


def produce_request(
    correlation_id: int, client_id: str | None, topic: str, partition: int,
    records: Sequence[tuple[bytes | None, bytes | None]], *, acks: int = -1, timeout_ms: int = 10_000,
) -> bytes:
    """Produce v3 of one batch to one partition."""
    batch = record_batch(records)
    body = (
        _string(None) + struct.pack(">hii", acks, timeout_ms, 1) + _string(topic)
        + struct.pack(">iii", 1, partition, len(batch)) + batch
    )
    return encode_frame(encode_request_header(PRODUCE, 3, correlation_id, client_id) + body)


def parse_produce(body: bytes) -> tuple[int, int]:
    """(error code, base offset) of the single partition a probe produces to."""
    r = _Reader(body)
    r.int32()  # topics
    r.string()
    r.int32()  # partitions
    r.int32()  # index
    error, base = r.int16(), r.int64()
    return error, base


def fetch_request(
    correlation_id: int, client_id: str | None, topic: str, partition: int, offset: int,
    *, max_bytes: int = 1 << 20, max_wait_ms: int = 500, min_bytes: int = 1,
) -> bytes:
    """Fetch v4 of one partition."""
    body = (
        struct.pack(">iiiib", -1, max_wait_ms, min_bytes, max_bytes, 0) + struct.pack(">i", 1) + _string(topic)
        + struct.pack(">iiqi", 1, partition, offset, max_bytes)
    )
    return encode_frame(encode_request_header(FETCH, 4, correlation_id, client_id) + body)


@dataclass(frozen=True)
class FetchResult:
    error: int
    high_watermark: int
    records: tuple[tuple[int, bytes | None, bytes | None], ...]
    record_bytes: int


def _records(data: bytes) -> Iterator[tuple[int, bytes | None, bytes | None]]:
    r = _Reader(data)
    while len(data) - r.pos >= 12:
        base = r.int64()
        length = r.int32()
        if length > len(data) - r.pos:
            return  # a partial batch at the end of a fetch is normal
        batch = _Reader(r.take(length))
        batch.take(4 + 1 + 4 + 2)  # epoch, magic, crc, attributes
        batch.take(4 + 8 + 8 + 8 + 2 + 4)  # lastOffsetDelta .. baseSequence
        for _ in range(batch.int32()):
            batch.varint()  # length
            batch.take(1)
            batch.varint()  # timestamp delta
            delta = batch.varint()
            klen = batch.varint()
            key = None if klen < 0 else batch.take(klen)
            vlen = batch.varint()
            value = None if vlen < 0 else batch.take(vlen)
            for _ in range(batch.varint()):
                batch.take(batch.varint())
                hlen = batch.varint()
                if hlen > 0:
                    batch.take(hlen)
            yield base + delta, key, value


def parse_fetch(body: bytes, *, decode: bool = True) -> FetchResult:
    r = _Reader(body)
    r.int32()  # throttle
    r.int32()  # topics
    r.string()
    r.int32()  # partitions
    r.int32()  # index
    error, hw = r.int16(), r.int64()
    r.int64()  # last stable offset
    aborted = r.int32()
    if aborted > 0:
        r.take(16 * aborted)
    size = r.int32()
    data = r.take(size) if size > 0 else b""
    return FetchResult(error, hw, tuple(_records(data)) if decode else (), len(data))


# --------------------------------------------------------------------------------------------
# The connection.


class KafkaConnection:
    """A blocking socket speaking request/response frames."""

    def __init__(
        self, address: tuple[str, int], timeout: float = 10.0, *,
        tls: ssl.SSLContext | None = None, server_hostname: str | None = None,
    ) -> None:
        sock = socket.create_connection(address, timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_hostname=server_hostname or address[0])
            except BaseException:
                sock.close()
                raise
        self.sock = sock
        self._correlation = 0

    def next_id(self) -> int:
        self._correlation += 1
        return self._correlation

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def _exact(self, n: int) -> bytes:
        chunks, need = [], n
        while need:
            chunk = self.sock.recv(min(need, 1 << 20))
            if not chunk:
                raise KafkaWireError(f"connection closed with {need} of {n} bytes unread")
            chunks.append(chunk)
            need -= len(chunk)
        return b"".join(chunks)

    def receive(self) -> tuple[int, bytes]:
        """(correlation id, body) of the next response (header v0)."""
        (size,) = struct.unpack(">i", self._exact(4))
        if not 4 <= size <= MAX_RESPONSE:
            raise KafkaWireError(f"response size {size} out of bounds")
        data = self._exact(size)
        return struct.unpack(">i", data[:4])[0], data[4:]

    def request(self, frame: bytes) -> bytes:
        (expected,) = struct.unpack(">i", frame[8:12])
        self.send(frame)
        correlation, body = self.receive()
        if correlation != expected:
            raise KafkaWireError(f"correlation id {correlation}, expected {expected}")
        return body

    def api_versions(self, client_id: str | None, version: int = 3) -> dict[int, tuple[int, int]]:
        body = self.request(encode_api_versions_request(version, self.next_id(), client_id))
        return parse_api_versions(body, version)

    def metadata(self, client_id: str | None, topics: Sequence[str] | None = None) -> Metadata:
        return parse_metadata(self.request(metadata_request(self.next_id(), client_id, topics)))

    def scram(self, client_id: str | None, user: str, password: str, mechanism: str = "SCRAM-SHA-512") -> None:
        """SASL/SCRAM login (RFC 5802): SaslHandshake v1, then two SaslAuthenticate v1 rounds."""
        body = self.request(encode_frame(
            encode_request_header(SASL_HANDSHAKE, 1, self.next_id(), client_id) + _string(mechanism)))
        error = _Reader(body).int16()
        if error:
            raise KafkaWireError(f"SaslHandshake: mechanism {mechanism} refused (error {error})")
        digest = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}[mechanism]
        name = user.replace("=", "=3D").replace(",", "=2C")
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n={name},r={nonce}"
        server_first = self._authenticate(client_id, ("n,," + first_bare).encode()).decode()
        fields = dict(item.split("=", 1) for item in server_first.split(","))
        if not fields["r"].startswith(nonce):
            raise KafkaWireError("SCRAM: the server nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac(digest().name, password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", digest).digest()
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{first_bare},{server_first},{without_proof}".encode()
        signature = hmac.new(digest(client_key).digest(), auth_message, digest).digest()
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True))).decode()
        server_final = self._authenticate(client_id, f"{without_proof},p={proof}".encode()).decode()
        server_key = hmac.new(salted, b"Server Key", digest).digest()
        expected = base64.b64encode(hmac.new(server_key, auth_message, digest).digest()).decode()
        if server_final != f"v={expected}":
            raise KafkaWireError(f"SCRAM: unexpected server final message {server_final!r}")

    def _authenticate(self, client_id: str | None, data: bytes) -> bytes:
        frame = encode_frame(
            encode_request_header(SASL_AUTHENTICATE, 1, self.next_id(), client_id)
            + struct.pack(">i", len(data)) + data)
        r = _Reader(self.request(frame))
        error, message = r.int16(), r.string()
        if error:
            raise KafkaWireError(f"SaslAuthenticate failed (error {error}): {message}")
        return r.take(r.int32())

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> KafkaConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ProbeResult:
    cluster_id: str | None
    brokers: tuple[str, ...]
    apis: int
    seconds: float


def probe(
    address: tuple[str, int], client_id: str | None, timeout: float = 10.0,
    scram: tuple[str, str] | None = None, tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> ProbeResult:
    """Bootstrap like a client would (connect, ApiVersions, [SCRAM login,] Metadata) and report
    the cluster. ``scram`` is (user, password) for a SASL listener."""
    started = time.perf_counter()
    with KafkaConnection(address, timeout, tls=tls, server_hostname=server_hostname) as conn:
        apis = conn.api_versions(client_id)
        if scram is not None:
            conn.scram(client_id, *scram)
        meta = conn.metadata(client_id, [])
    return ProbeResult(
        meta.cluster_id, tuple(f"{n}@{h}:{p}" for n, h, p in meta.brokers), len(apis),
        time.perf_counter() - started,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 4):
        print("usage: python -m tests.tools.probe HOST:PORT CLIENT_ID [SCRAM_USER SCRAM_PASSWORD]", file=sys.stderr)
        return 2
    host, _, port = args[0].rpartition(":")
    try:
        result = probe((host.strip("[]"), int(port)), args[1], scram=(args[2], args[3]) if len(args) == 4 else None)
    except (OSError, KafkaWireError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps({"cluster_id": result.cluster_id, "brokers": list(result.brokers), "apis": result.apis,
                      "ms": round(result.seconds * 1000, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
