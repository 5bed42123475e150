"""The one answer the proxy gives on its own: ApiVersions, to a fenced client (pure).

A fenced connection is held, answered nothing (``proxy.session``). Only its first request, when
it is ApiVersions, gets the answer a Kafka 4.3.1 broker gives. Measured against every library
of the client matrix (docs/clients.md, "A Kafka-level answer to a fenced client"): without it,
some clients time out their version probe on their own and reconnect at once - kafka-python's
constructor gives up after 2 s (1.4 connections a second while held), librdkafka tells its
application "probably due to broker version < 0.10"; answering with an error is worse
(librdkafka and the Java clients reconnect at once, kafkajs gives up). With this answer every
library believes it reached a broker, sends its next request, and waits for its own request
timeout: at most 0.1 connections a second, nothing fatal.

The table is what a Kafka 4.3.1 broker advertises (``tests/proxy/test_fence_answer.py`` compares
it with a real broker's answer). The client then picks versions from it for requests that are
read and discarded; no other byte is ever invented.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["API_VERSIONS_KEY", "BROKER_API_VERSIONS", "MAX_API_VERSIONS_VERSION", "api_versions_answer"]

API_VERSIONS_KEY: Final = 18
#: The newest ApiVersions request version a 4.3.1 broker answers in kind.
MAX_API_VERSIONS_VERSION: Final = 4
#: UNSUPPORTED_VERSION: the client retries with a version from the answer (KIP-511).
_UNSUPPORTED_VERSION: Final = 35

#: (api key, min version, max version), as a Kafka 4.3.1 broker advertises them.
BROKER_API_VERSIONS: Final[tuple[tuple[int, int, int], ...]] = (
    (0, 0, 13), (1, 4, 18), (2, 1, 11), (3, 0, 13), (8, 2, 10), (9, 1, 10), (10, 0, 6), (11, 0, 9), (12, 0, 4),
    (13, 0, 5), (14, 0, 5), (15, 0, 6), (16, 0, 5), (17, 0, 1), (18, 0, 4), (19, 2, 7), (20, 1, 6), (21, 0, 2),
    (22, 0, 5), (23, 2, 4), (24, 0, 5), (25, 0, 4), (26, 0, 5), (27, 1, 2), (28, 0, 5), (29, 1, 3), (30, 1, 3),
    (31, 1, 3), (32, 1, 4), (33, 0, 2), (34, 1, 2), (35, 1, 5), (36, 0, 2), (37, 0, 3), (38, 1, 3), (39, 1, 2),
    (40, 1, 2), (41, 1, 3), (42, 0, 2), (43, 0, 2), (44, 0, 1), (45, 0, 1), (46, 0, 0), (47, 0, 0), (48, 0, 1),
    (49, 0, 1), (50, 0, 0), (51, 0, 0), (55, 0, 2), (57, 0, 2), (60, 0, 2), (61, 0, 0), (64, 0, 0), (65, 0, 0),
    (66, 0, 2), (68, 0, 1), (69, 0, 1), (74, 0, 1), (75, 0, 0), (76, 1, 1), (77, 1, 1), (78, 1, 2), (79, 1, 2),
    (80, 0, 1), (81, 0, 0), (83, 0, 0), (84, 0, 0), (85, 0, 1), (86, 0, 0), (87, 0, 1), (88, 0, 0), (89, 0, 0),
    (90, 0, 1), (91, 0, 0), (92, 0, 0),
)


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def api_versions_answer(api_version: int, correlation_id: int) -> bytes:
    """The whole response frame (size included) to an ApiVersions request of this version.

    Response header v0 (correlation id only) at every version, as the protocol requires for
    ApiVersions. v0: error, array; v1-v2: + throttle time; v3-v4 (flexible): compact array,
    tagged fields. A version above 4 gets the v0 answer UNSUPPORTED_VERSION naming the
    ApiVersions range, after which a client retries with one it knows (KIP-511)."""
    if api_version > MAX_API_VERSIONS_VERSION or api_version < 0:
        entries = [(API_VERSIONS_KEY, 0, MAX_API_VERSIONS_VERSION)]
        body = struct.pack(">hi", _UNSUPPORTED_VERSION, len(entries)) + b"".join(
            struct.pack(">hhh", *e) for e in entries)
    elif api_version >= 3:
        body = struct.pack(">h", 0) + _uvarint(len(BROKER_API_VERSIONS) + 1) + b"".join(
            struct.pack(">hhh", *e) + b"\x00" for e in BROKER_API_VERSIONS) + struct.pack(">i", 0) + b"\x00"
    else:
        body = struct.pack(">hi", 0, len(BROKER_API_VERSIONS)) + b"".join(
            struct.pack(">hhh", *e) for e in BROKER_API_VERSIONS)
        if api_version >= 1:
            body += struct.pack(">i", 0)
    payload = struct.pack(">i", correlation_id) + body
    return struct.pack(">i", len(payload)) + payload
