"""Pure codec for the first request frame of a Kafka connection.

Bytes in, an outcome out, no IO (STYLE.md 1-2): this module imports nothing that touches a
socket or an event loop, so it is tested with plain ``bytes``. The caller owns the buffer; the
codec never consumes from it. Every call looks at the buffer from its start and returns one of
three outcomes, never two collapsed into one:

* :class:`NeedMoreData` - the bytes so far are a valid beginning; read at least ``at_least``
  more and call again. A short read is not an error.
* :class:`FirstFrame` (from :func:`parse_first_frame`) - the whole first frame is buffered; its
  header fields are decoded and ``frame_length`` says where it ends. Anything after that
  boundary belongs to the next request (Kafka clients pipeline) and is left alone.
* :class:`~proxy.errors.ProtocolError` is raised - these bytes can never become a valid Kafka
  request, whatever follows. ``cause`` is a bounded label; the message tells the operator why
  and what to do.

The decisions are stable under appending bytes: once a prefix raises, every extension raises
with the same cause; once a prefix parses, every extension parses to the same frame. That is
what lets the IO shell call the codec again after each read.

Wire format (all integers big-endian; https://kafka.apache.org/protocol#protocol_messages)::

    offset  field            type
    0       size             INT32   bytes that follow this field
    4       request_api_key  INT16
    6       request_api_ver  INT16
    8       correlation_id   INT32
    12      client_id        INT16 length (-1 = null) + that many UTF-8 bytes   (header v1, v2)
    14+n    tagged fields    UNSIGNED_VARINT count + fields                     (header v2 only)
    ...     request body

Request header v1 and v2 lay out client_id identically: Kafka deliberately keeps the old INT16
length prefix (not a compact string) in v2 so that any broker can read the header of an
ApiVersions request sent at a version it does not know yet. So the routing key sits at byte 12
whatever the header version. Which header version a request uses follows from its api key and
version: v2 from the API's first "flexible" version on (``flexibleVersions`` in Kafka's
``clients/src/main/resources/common/message/*Request.json``), v1 below that, and v0 - no
client_id at all - only for ControlledShutdown v0, an inter-broker request that Kafka 4.0
removed. Whatever a client sends first (ApiVersions at any version, SaslHandshake, or Metadata
from clients that skip version negotiation) carries a client_id.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, NamedTuple

from .errors import ProtocolError
from .errors import ProtocolErrorCause as Cause

__all__ = [
    "API_KEYS",
    "DEFAULT_MAX_FIRST_FRAME_SIZE",
    "HARD_MAX_FIRST_FRAME_SIZE",
    "MAX_CLIENT_ID_BYTES",
    "MAX_ROUTING_PREFIX",
    "MIN_FRAME_SIZE",
    "ApiInfo",
    "FirstFrame",
    "NeedMoreData",
    "RequestHeader",
    "parse_first_frame",
    "peek_request_header",
    "request_header_version",
]

# --------------------------------------------------------------------------------------------
# Bounds, each with its reason.

SIZE_FIELD_BYTES: Final = 4
CLIENT_ID_LENGTH_OFFSET: Final = 12  # after size (4), api_key (2), api_version (2), corr id (4)
CLIENT_ID_OFFSET: Final = 14

#: The client id is a Kafka STRING: an INT16 byte length, so at most 32767 bytes of UTF-8.
MAX_CLIENT_ID_BYTES: Final = 0x7FFF

#: The most bytes we ever need to route: size + api_key + api_version + correlation_id +
#: client_id length + the longest client_id = 4+2+2+4+2+32767 = 32781. Routing itself never
#: needs more; buffering the rest of the frame is only because we forward it verbatim.
MAX_ROUTING_PREFIX: Final = 4 + 2 + 2 + 4 + 2 + MAX_CLIENT_ID_BYTES

#: The smallest value of the size field any request header allows: header v0 is api_key,
#: api_version and correlation_id = 8 bytes (and only ControlledShutdown v0 uses it). Header v1
#: adds the INT16 client_id length (10 with a null or empty client id); header v2 adds at least
#: one byte, the tagged-field count (11). Checked per header version once api key and version
#: are known; a size below 8 is rejected as soon as the size field is read.
MIN_FRAME_SIZE: Final = 8
MIN_SIZE_BY_HEADER_VERSION: Final[Mapping[int, int]] = MappingProxyType({0: 8, 1: 10, 2: 11})

#: Default bound on the size field of the first frame. We must buffer the whole first frame
#: before forwarding it (it goes upstream verbatim, after routing), and we buffer it from peers
#: we know nothing about yet, so this is a per-connection memory bound in a server facing
#: strangers. What clients send first:
#:   * ApiVersions: v0-v2 have an empty body; v3+ (flexible) carry client_software_name and
#:     client_software_version as compact strings plus tagged fields - tens of bytes.
#:   * SaslHandshake: one mechanism name - tens of bytes.
#:   * Metadata, from clients that skip version negotiation (pre-0.10 clients, librdkafka with
#:     api.version.request=false): v0-v12 may list topics explicitly, up to ~270 bytes each
#:     with a 249-byte name (v10+ add a 16-byte topic id and tagged fields).
#: 1 MiB holds about 3,900 maximum-length topic names (tens of thousands of typical ones), twice
#: Kafka's own pre-authentication bound (sasl.server.max.receive.size, 512 KiB), and caps the
#: memory of 1,000 unrouted connections at 1 GiB. A parameter of the parse functions.
DEFAULT_MAX_FIRST_FRAME_SIZE: Final = 1 << 20

#: The largest bound a caller may configure: Kafka's broker rejects any request whose size
#: exceeds socket.request.max.bytes (default 100 MiB), so buffering more would only delay the
#: same refusal. It also keeps the foreign-protocol sniffing below sound: every size up to
#: 100 MiB (0x06400000) starts with a byte of 0x00-0x06, while a TLS record starts with 0x16
#: (a size of >= 352 MiB), an HTTP method or "PROXY" with an ASCII capital letter (>= 0x41, a
#: size of >= 1 GiB) and a PROXY v2 signature with 0x0D (>= 208 MiB). So no frame within the
#: bound is ever mistaken for another protocol, and none of those is ever a frame we accept.
HARD_MAX_FIRST_FRAME_SIZE: Final = 100 * (1 << 20)

# Unsigned varints (tagged fields) are at most 5 bytes: 7 bits each, for a 32-bit value.
_MAX_UVARINT_BYTES: Final = 5

# --------------------------------------------------------------------------------------------
# API keys. Names and first flexible versions checked against the message JSON shipped in
# kafka-clients 4.3.1 (common/message/*Request.json); keys 4-7 were removed in Kafka 4.0 and
# keep their last definitions from Kafka 3.9 because older peers may still send them.


class ApiInfo(NamedTuple):
    name: str
    #: First version whose requests use header v2 (``flexibleVersions``); None = never.
    first_flexible_version: int | None


PRODUCE: Final = 0
METADATA: Final = 3
CONTROLLED_SHUTDOWN: Final = 7
SASL_HANDSHAKE: Final = 17
API_VERSIONS: Final = 18
SASL_AUTHENTICATE: Final = 36

_API_TABLE: Final[tuple[tuple[int, str, int | None], ...]] = (
    # key, name, first flexible version
    (0, "Produce", 9),
    (1, "Fetch", 12),
    (2, "ListOffsets", 6),
    (3, "Metadata", 9),
    (4, "LeaderAndIsr", 4),
    (5, "StopReplica", 2),
    (6, "UpdateMetadata", 6),
    (7, "ControlledShutdown", 3),
    (8, "OffsetCommit", 8),
    (9, "OffsetFetch", 6),
    (10, "FindCoordinator", 3),
    (11, "JoinGroup", 6),
    (12, "Heartbeat", 4),
    (13, "LeaveGroup", 4),
    (14, "SyncGroup", 4),
    (15, "DescribeGroups", 5),
    (16, "ListGroups", 3),
    (17, "SaslHandshake", None),
    (18, "ApiVersions", 3),
    (19, "CreateTopics", 5),
    (20, "DeleteTopics", 4),
    (21, "DeleteRecords", 2),
    (22, "InitProducerId", 2),
    (23, "OffsetForLeaderEpoch", 4),
    (24, "AddPartitionsToTxn", 3),
    (25, "AddOffsetsToTxn", 3),
    (26, "EndTxn", 3),
    (27, "WriteTxnMarkers", 1),
    (28, "TxnOffsetCommit", 3),
    (29, "DescribeAcls", 2),
    (30, "CreateAcls", 2),
    (31, "DeleteAcls", 2),
    (32, "DescribeConfigs", 4),
    (33, "AlterConfigs", 2),
    (34, "AlterReplicaLogDirs", 2),
    (35, "DescribeLogDirs", 2),
    (36, "SaslAuthenticate", 2),
    (37, "CreatePartitions", 2),
    (38, "CreateDelegationToken", 2),
    (39, "RenewDelegationToken", 2),
    (40, "ExpireDelegationToken", 2),
    (41, "DescribeDelegationToken", 2),
    (42, "DeleteGroups", 2),
    (43, "ElectLeaders", 2),
    (44, "IncrementalAlterConfigs", 1),
    (45, "AlterPartitionReassignments", 0),
    (46, "ListPartitionReassignments", 0),
    (47, "OffsetDelete", None),
    (48, "DescribeClientQuotas", 1),
    (49, "AlterClientQuotas", 1),
    (50, "DescribeUserScramCredentials", 0),
    (51, "AlterUserScramCredentials", 0),
    (52, "Vote", 0),
    (53, "BeginQuorumEpoch", 1),
    (54, "EndQuorumEpoch", 1),
    (55, "DescribeQuorum", 0),
    (56, "AlterPartition", 0),
    (57, "UpdateFeatures", 0),
    (58, "Envelope", 0),
    (59, "FetchSnapshot", 0),
    (60, "DescribeCluster", 0),
    (61, "DescribeProducers", 0),
    (62, "BrokerRegistration", 0),
    (63, "BrokerHeartbeat", 0),
    (64, "UnregisterBroker", 0),
    (65, "DescribeTransactions", 0),
    (66, "ListTransactions", 0),
    (67, "AllocateProducerIds", 0),
    (68, "ConsumerGroupHeartbeat", 0),
    (69, "ConsumerGroupDescribe", 0),
    (70, "ControllerRegistration", 0),
    (71, "GetTelemetrySubscriptions", 0),
    (72, "PushTelemetry", 0),
    (73, "AssignReplicasToDirs", 0),
    (74, "ListConfigResources", 0),
    (75, "DescribeTopicPartitions", 0),
    (76, "ShareGroupHeartbeat", 0),
    (77, "ShareGroupDescribe", 0),
    (78, "ShareFetch", 0),
    (79, "ShareAcknowledge", 0),
    (80, "AddRaftVoter", 0),
    (81, "RemoveRaftVoter", 0),
    (82, "UpdateRaftVoter", 0),
    (83, "InitializeShareGroupState", 0),
    (84, "ReadShareGroupState", 0),
    (85, "WriteShareGroupState", 0),
    (86, "DeleteShareGroupState", 0),
    (87, "ReadShareGroupStateSummary", 0),
    (88, "StreamsGroupHeartbeat", 0),
    (89, "StreamsGroupDescribe", 0),
    (90, "DescribeShareGroupOffsets", 0),
    (91, "AlterShareGroupOffsets", 0),
    (92, "DeleteShareGroupOffsets", 0),
)

#: api key -> (name, first flexible version). An api key outside this table is refused: we
#: could not tell its header version, and no client opens a connection with an API newer than
#: the ones above (the first request is ApiVersions, SaslHandshake or Metadata).
API_KEYS: Final[Mapping[int, ApiInfo]] = MappingProxyType(
    {key: ApiInfo(name, flexible) for key, name, flexible in _API_TABLE}
)


def request_header_version(api_key: int, api_version: int) -> int:
    """The request header version (0, 1 or 2) of a known API at a given version."""
    api = API_KEYS[api_key]
    if api_key == CONTROLLED_SHUTDOWN and api_version == 0:
        return 0
    if api.first_flexible_version is not None and api_version >= api.first_flexible_version:
        return 2
    return 1


# --------------------------------------------------------------------------------------------
# Outcomes.


@dataclass(frozen=True, slots=True)
class NeedMoreData:
    """The buffer is a valid beginning; at least ``at_least`` (>= 1) more bytes are needed
    before the codec can say anything new. Once the size field is read this is exactly what
    is missing to reach the end of the frame (or of the client id, when peeking)."""

    at_least: int


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """The routing part of the first request: everything up to and including the client id.
    Returned by :func:`peek_request_header`, possibly before the rest of the frame arrived."""

    size: int
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    header_version: int
    api_name: str
    #: False when the client id's bytes are not UTF-8: ``client_id`` is then their escaped
    #: text (``\\xff`` for a byte that is not UTF-8), for the log, never for routing.
    client_id_utf8: bool = True

    @property
    def frame_length(self) -> int:
        """Bytes of the whole frame, size field included: the boundary to the next request."""
        return SIZE_FIELD_BYTES + self.size


@dataclass(frozen=True, slots=True)
class FirstFrame:
    """A complete first request frame is buffered: ``buf[:frame_length]`` is the frame to
    forward verbatim; ``buf[frame_length:]`` is not ours."""

    size: int
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    header_version: int
    #: Bytes of the request header, size field excluded (the body starts at 4 + header_length).
    header_length: int
    api_name: str
    #: See :attr:`RequestHeader.client_id_utf8`.
    client_id_utf8: bool = True

    @property
    def frame_length(self) -> int:
        return SIZE_FIELD_BYTES + self.size


# --------------------------------------------------------------------------------------------
# Foreign protocols, recognised from their first bytes so the operator hears "TLS" rather than
# "oversized frame of 369,295,616 bytes". Each signature is complete evidence; while the buffer
# is still a proper prefix of one we ask for the few bytes that decide (at most 12). Sound
# because no accepted frame can start with these bytes: see HARD_MAX_FIRST_FRAME_SIZE.

_TLS_HINT: Final = (
    "this port speaks plain Kafka; got a TLS ClientHello - point TLS clients at the TLS "
    "listener, set security.protocol=PLAINTEXT (or SASL_PLAINTEXT) on the client, or enable "
    "TLS termination on this listener"
)
_HTTP_HINT: Final = (
    "this port speaks Kafka; got an HTTP {what} request - HTTP clients and health checks "
    "belong on the proxy's admin port (/healthz, /readyz, /metrics), and Kafka clients take "
    "bootstrap.servers as host:port without a scheme"
)
_PROXY_PROTOCOL_HINT: Final = (
    "this port speaks Kafka; got a PROXY protocol {what} header - the load balancer in front "
    "of this listener has proxy protocol enabled, which this listener does not accept; turn "
    "it off for this port"
)

_FOREIGN_SIGNATURES: Final[tuple[tuple[bytes, Cause, str], ...]] = (
    # TLS record: content type 22 (handshake), legacy version 3.0-3.4 (SSL 3.0 .. TLS 1.3;
    # TLS 1.3 hellos say 3.1 here).
    *((bytes((0x16, 0x03, minor)), Cause.TLS, _TLS_HINT) for minor in range(5)),
    # HTTP/1.x request line "METHOD SP ..."; "PRI " opens the HTTP/2 prior-knowledge preface
    # "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".
    *(
        (method + b" ", Cause.HTTP, _HTTP_HINT.format(what=method.decode()))
        for method in (
            b"GET",
            b"HEAD",
            b"POST",
            b"PUT",
            b"DELETE",
            b"CONNECT",
            b"OPTIONS",
            b"TRACE",
            b"PATCH",
            b"PRI",
        )
    ),
    (b"PROXY ", Cause.PROXY_PROTOCOL, _PROXY_PROTOCOL_HINT.format(what="v1")),
    (b"\r\n\r\n\x00\r\nQUIT\n", Cause.PROXY_PROTOCOL, _PROXY_PROTOCOL_HINT.format(what="v2")),
)
_FOREIGN_FIRST_BYTES: Final = frozenset(sig[0] for sig, _, _ in _FOREIGN_SIGNATURES)
_LONGEST_SIGNATURE: Final = max(len(sig) for sig, _, _ in _FOREIGN_SIGNATURES)


def _sniff_foreign_protocol(buf: bytes) -> NeedMoreData | None:
    """Raise if ``buf`` opens another protocol; ask for more if it still might; else None."""
    shortfall: int | None = None
    for signature, cause, message in _FOREIGN_SIGNATURES:
        if buf.startswith(signature):
            raise ProtocolError(cause, message)
        if len(buf) < len(signature) and signature.startswith(buf):
            missing = len(signature) - len(buf)
            shortfall = missing if shortfall is None else min(shortfall, missing)
    if shortfall is None:
        return None
    # at_least must stay a true lower bound: the very next byte may break the match, and then
    # the size field decides - which needs 4 bytes, and can be refused as soon as it has them.
    if len(buf) < SIZE_FIELD_BYTES:
        return NeedMoreData(min(shortfall, SIZE_FIELD_BYTES - len(buf)))
    return NeedMoreData(1)


# --------------------------------------------------------------------------------------------
# Parsing.

Buffer = bytes | bytearray | memoryview

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_KEY_VERSION = struct.Struct(">hh")


def _check_max_size(max_size: int) -> None:
    if not MIN_FRAME_SIZE <= max_size <= HARD_MAX_FIRST_FRAME_SIZE:
        raise ValueError(
            f"max_size must be between {MIN_FRAME_SIZE} and {HARD_MAX_FIRST_FRAME_SIZE} "
            f"(Kafka's default socket.request.max.bytes), got {max_size}"
        )


def peek_request_header(
    buf: Buffer, *, max_size: int = DEFAULT_MAX_FIRST_FRAME_SIZE
) -> NeedMoreData | RequestHeader:
    """Decode the header up to the client id, without waiting for the rest of the frame.

    For routing early (e.g. to start dialing upstream while a large first frame still
    arrives). Needs at most :data:`MAX_ROUTING_PREFIX` bytes. The size field is still checked
    against ``max_size`` so a bad length is refused at once; the rest of the frame (tagged
    fields, body) is not looked at - :func:`parse_first_frame` does that.
    """
    _check_max_size(max_size)
    have = len(buf)
    if have == 0:
        return NeedMoreData(SIZE_FIELD_BYTES)
    if buf[0] in _FOREIGN_FIRST_BYTES:
        pending = _sniff_foreign_protocol(bytes(buf[:_LONGEST_SIGNATURE]))
        if pending is not None:
            return pending
    if have < SIZE_FIELD_BYTES:
        return NeedMoreData(SIZE_FIELD_BYTES - have)

    (size,) = _INT32.unpack_from(buf, 0)
    if size < 0:
        raise ProtocolError(
            Cause.NEGATIVE_LENGTH,
            f"the first 4 bytes declare a frame size of {size}, which is negative; a Kafka "
            f"request starts with a non-negative big-endian INT32 size, so this peer does not "
            f"speak the Kafka protocol (check the client's bootstrap.servers and "
            f"security.protocol)",
        )
    if size > max_size:
        raise ProtocolError(
            Cause.OVERSIZED,
            f"the first request declares a frame size of {size} bytes, over this listener's "
            f"first-frame limit of {max_size} bytes; a Kafka client's first request "
            f"(ApiVersions, SaslHandshake or Metadata) is far smaller, so check that the peer "
            f"speaks plain Kafka, or raise the first-frame limit if it really opens with a "
            f"Metadata request listing thousands of topics",
        )
    if size < MIN_FRAME_SIZE:
        raise ProtocolError(
            Cause.UNDERSIZED,
            f"the first request declares a frame size of {size} bytes, but the smallest "
            f"Kafka request header takes {MIN_FRAME_SIZE}; the peer does not speak the Kafka "
            f"protocol or the stream is corrupt",
        )

    if have < 8:
        return NeedMoreData(8 - have)
    api_key, api_version = _KEY_VERSION.unpack_from(buf, 4)
    api = API_KEYS.get(api_key)
    if api is None:
        raise ProtocolError(
            Cause.UNKNOWN_API_KEY,
            f"the first request has api key {api_key}, which is no Kafka API this proxy "
            f"knows (0-{max(API_KEYS)}); the peer does not speak the Kafka protocol, or it "
            f"opens with an API newer than this proxy - upgrade Ferry",
        )
    if api_version < 0:
        raise ProtocolError(
            Cause.BAD_API_VERSION,
            f"the first request is {api.name} at version {api_version}; api versions are "
            f"never negative, so the stream is corrupt or not Kafka",
        )
    header_version = request_header_version(api_key, api_version)
    min_size = MIN_SIZE_BY_HEADER_VERSION[header_version]
    if size < min_size:
        raise ProtocolError(
            Cause.UNDERSIZED,
            f"the first request ({api.name} v{api_version}) declares a frame size of {size} "
            f"bytes, but its request header (v{header_version}) alone takes at least "
            f"{min_size}; the request is truncated or corrupt",
        )

    client_id: str | None = None
    utf8 = True
    if header_version == 0:
        if have < CLIENT_ID_LENGTH_OFFSET:
            return NeedMoreData(CLIENT_ID_LENGTH_OFFSET - have)
    else:
        if have < CLIENT_ID_OFFSET:
            return NeedMoreData(CLIENT_ID_OFFSET - have)
        read = _read_client_id(buf, size, header_version)
        if isinstance(read, NeedMoreData):
            return read
        client_id, utf8 = read

    (correlation_id,) = _INT32.unpack_from(buf, 8)
    return RequestHeader(
        size=size,
        api_key=api_key,
        api_version=api_version,
        correlation_id=correlation_id,
        client_id=client_id,
        header_version=header_version,
        api_name=api.name,
        client_id_utf8=utf8,
    )


def _read_client_id(buf: Buffer, size: int, header_version: int) -> tuple[str | None, bool] | NeedMoreData:
    """The client id and whether its bytes are UTF-8.

    Kafka accepts any bytes here (the broker decodes them leniently), so the proxy must too: a
    legacy client with such an id would otherwise lose service the day it points at the proxy.
    Bytes that are not UTF-8 come back escaped (``\\xff``) with ``False``; the session routes
    such an id as if it matched no rule, and the log shows the escaped text."""
    (length,) = _INT16.unpack_from(buf, CLIENT_ID_LENGTH_OFFSET)
    if length < -1:
        raise ProtocolError(
            Cause.BAD_CLIENT_ID_LENGTH,
            f"the client id length field is {length}; it must be -1 (null) or 0-"
            f"{MAX_CLIENT_ID_BYTES}, so the request is corrupt or not Kafka",
        )
    if length == -1:
        return None, True
    end = CLIENT_ID_OFFSET + length
    # Header v2 still needs its tagged-field count (at least one byte) after the client id.
    room = SIZE_FIELD_BYTES + size - CLIENT_ID_OFFSET - (1 if header_version == 2 else 0)
    if length > room:
        raise ProtocolError(
            Cause.BAD_CLIENT_ID_LENGTH,
            f"the client id claims {length} bytes, but a frame of size {size} has room for "
            f"only {room} after the header fields; the request is truncated or corrupt",
        )
    if len(buf) < end:
        return NeedMoreData(end - len(buf))
    raw = bytes(buf[CLIENT_ID_OFFSET:end])
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), False


def parse_first_frame(
    buf: Buffer, *, max_size: int = DEFAULT_MAX_FIRST_FRAME_SIZE
) -> NeedMoreData | FirstFrame:
    """Parse the first request of a connection once all of it is buffered.

    Returns :class:`FirstFrame` only when ``buf`` holds the whole frame (``4 + size`` bytes):
    the proxy routes on the client id but forwards the frame verbatim, so it needs all of it.
    Bytes beyond ``frame_length`` are ignored. ``max_size`` bounds the size field (see
    :data:`DEFAULT_MAX_FIRST_FRAME_SIZE`). Raises :class:`~proxy.errors.ProtocolError`.
    """
    header = peek_request_header(buf, max_size=max_size)
    if isinstance(header, NeedMoreData):
        return header
    frame_length = header.frame_length
    if len(buf) < frame_length:
        return NeedMoreData(frame_length - len(buf))

    if header.header_version == 0:
        header_end = CLIENT_ID_LENGTH_OFFSET
    else:
        (client_id_length,) = _INT16.unpack_from(buf, CLIENT_ID_LENGTH_OFFSET)
        header_end = CLIENT_ID_OFFSET + max(client_id_length, 0)  # -1 (null) has no bytes
        if header.header_version == 2:
            header_end = _skip_tagged_fields(buf, header_end, frame_length)
    return FirstFrame(
        size=header.size,
        api_key=header.api_key,
        api_version=header.api_version,
        correlation_id=header.correlation_id,
        client_id=header.client_id,
        header_version=header.header_version,
        header_length=header_end - SIZE_FIELD_BYTES,
        api_name=header.api_name,
        client_id_utf8=header.client_id_utf8,
    )


def _bad_tagged_fields(detail: str) -> ProtocolError:
    return ProtocolError(
        Cause.BAD_TAGGED_FIELDS,
        f"the request header's tagged fields are malformed ({detail}); the request is "
        f"corrupt or was encoded by a broken client",
    )


def _read_uvarint(buf: Buffer, pos: int, limit: int) -> tuple[int, int]:
    value = 0
    for i in range(_MAX_UVARINT_BYTES):
        if pos >= limit:
            raise _bad_tagged_fields("a varint runs past the end of the frame")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if value > 0xFFFFFFFF:
                raise _bad_tagged_fields("a varint exceeds 32 bits")
            return value, pos
    raise _bad_tagged_fields(f"a varint is longer than {_MAX_UVARINT_BYTES} bytes")


def _skip_tagged_fields(buf: Buffer, pos: int, limit: int) -> int:
    """Return the offset just past a tagged-field section starting at ``pos``."""
    count, pos = _read_uvarint(buf, pos, limit)
    # Each field is at least two bytes (tag, length); a larger count cannot fit.
    if count > (limit - pos) // 2:
        raise _bad_tagged_fields(f"{count} fields cannot fit in {limit - pos} bytes")
    for _ in range(count):
        _tag, pos = _read_uvarint(buf, pos, limit)
        length, pos = _read_uvarint(buf, pos, limit)
        if length > limit - pos:
            raise _bad_tagged_fields(f"a field of {length} bytes runs past the end of the frame")
        pos += length
    return pos
