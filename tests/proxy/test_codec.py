"""Tests for proxy.codec, the pure first-frame codec.

Golden frames are spelled one annotated field per line. Every valid frame is fed three ways:
whole, one byte at a time (NeedMoreData until the last byte), and followed by bytes of a next
request that must stay unconsumed. Frames recorded from real clients live in fixtures/ (made by
record_first_frames.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy import codec
from proxy.codec import (
    API_KEYS,
    DEFAULT_MAX_FIRST_FRAME_SIZE,
    HARD_MAX_FIRST_FRAME_SIZE,
    MAX_CLIENT_ID_BYTES,
    MAX_ROUTING_PREFIX,
    MIN_FRAME_SIZE,
    FirstFrame,
    NeedMoreData,
    RequestHeader,
    parse_first_frame,
    peek_request_header,
    request_header_version,
)
from proxy.errors import ProtocolError, ProtocolErrorCause, ProxyError
from tests.tools.kafka_frames import encode_api_versions_request, encode_frame, encode_request_header

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO_ROOT = Path(__file__).resolve().parents[2]

# Bytes of a second request the client pipelined behind the first: never ours to consume.
NEXT_REQUEST = encode_api_versions_request(0, 99, "next")

# 200 examples per property keeps the suite at a couple of seconds; raise it for a soak run,
# e.g. FERRY_CODEC_EXAMPLES=20000 .venv/bin/pytest tests/proxy -q
PROPERTY = settings(
    max_examples=int(os.environ.get("FERRY_CODEC_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ---------------------------------------------------------------------------------------------
# Golden frames.

API_VERSIONS_V0 = (
    b"\x00\x00\x00\x12"  # Size: 18 bytes follow
    b"\x00\x12"  # API Key: 18 (ApiVersions)
    b"\x00\x00"  # API Version: 0 -> request header v1
    b"\x00\x00\x00\x01"  # Correlation Id: 1
    b"\x00\x08"  # Length of clientId: 8
    b"producer"  # clientId
    # Body: empty in ApiVersions v0-v2
)

API_VERSIONS_V3 = (
    b"\x00\x00\x00\x31"  # Size: 49 bytes follow
    b"\x00\x12"  # API Key: 18 (ApiVersions)
    b"\x00\x03"  # API Version: 3 -> request header v2 (first flexible version)
    b"\x00\x00\x00\x02"  # Correlation Id: 2
    b"\x00\x19"  # Length of clientId: 25 (INT16, even in header v2)
    b"billing-api.orders-writer"  # clientId
    b"\x00"  # Header tagged fields: none
    b"\x06"  # ClientSoftwareName: compact string, length 5 (+1)
    b"ferry"
    b"\x06"  # ClientSoftwareVersion: compact string, length 5 (+1)
    b"0.1.0"
    b"\x00"  # Body tagged fields: none
)

METADATA_V1 = (
    b"\x00\x00\x00\x29"  # Size: 41 bytes follow
    b"\x00\x03"  # API Key: 3 (Metadata)
    b"\x00\x01"  # API Version: 1 -> request header v1
    b"\x00\x00\x00\x07"  # Correlation Id: 7
    b"\x00\x09"  # Length of clientId: 9
    b"inventory"  # clientId
    b"\x00\x00\x00\x02"  # Topics: array of 2
    b"\x00\x06"  # Topic name length: 6
    b"orders"
    b"\x00\x08"  # Topic name length: 8
    b"payments"
)

METADATA_V12 = (
    b"\x00\x00\x00\x30"  # Size: 48 bytes follow
    b"\x00\x03"  # API Key: 3 (Metadata)
    b"\x00\x0c"  # API Version: 12 -> request header v2 (flexible from v9)
    b"\x00\x00\x00\x08"  # Correlation Id: 8
    b"\x00\x09"  # Length of clientId: 9
    b"inventory"  # clientId
    b"\x00"  # Header tagged fields: none
    b"\x02"  # Topics: compact array of 1 (+1)
    b"\x00\x00\x00\x00\x00\x00\x00\x00"  # TopicId: zero UUID (asking by name), high half
    b"\x00\x00\x00\x00\x00\x00\x00\x00"  # TopicId: low half
    b"\x07"  # Name: compact string, length 6 (+1)
    b"orders"
    b"\x00"  # Topic tagged fields: none
    b"\x01"  # AllowAutoTopicCreation: true
    b"\x00"  # IncludeTopicAuthorizedOperations: false
    b"\x00"  # Body tagged fields: none
)

METADATA_V12_HEADER_TAGGED_FIELD = (
    b"\x00\x00\x00\x1a"  # Size: 26 bytes follow
    b"\x00\x03"  # API Key: 3 (Metadata)
    b"\x00\x0c"  # API Version: 12 -> request header v2
    b"\x00\x00\x00\x09"  # Correlation Id: 9
    b"\x00\x03"  # Length of clientId: 3
    b"inv"  # clientId
    b"\x02"  # Header tagged fields: 2 (tags unknown to us are skipped, as Kafka does)
    b"\x00"  # Tag: 0
    b"\x03"  # Tag length: 3
    b"abc"  # Tag data
    b"\x81\x01"  # Tag: 129 (varint, two bytes)
    b"\x00"  # Tag length: 0
    b"\x01"  # Topics: compact array of 0 (+1)
    b"\x01"  # AllowAutoTopicCreation: true
    b"\x00"  # IncludeTopicAuthorizedOperations: false
    b"\x00"  # Body tagged fields: none
)

SASL_HANDSHAKE_V1 = (
    b"\x00\x00\x00\x19"  # Size: 25 bytes follow
    b"\x00\x11"  # API Key: 17 (SaslHandshake)
    b"\x00\x01"  # API Version: 1 -> request header v1 (SaslHandshake is never flexible)
    b"\x00\x00\x00\x03"  # Correlation Id: 3
    b"\x00\x08"  # Length of clientId: 8
    b"payments"  # clientId
    b"\x00\x05"  # Mechanism length: 5
    b"PLAIN"  # Mechanism
)

NULL_CLIENT_ID = (
    b"\x00\x00\x00\x0a"  # Size: 10 bytes follow (the smallest header v1 request)
    b"\x00\x12"  # API Key: 18 (ApiVersions)
    b"\x00\x02"  # API Version: 2 -> request header v1
    b"\x00\x00\x00\x04"  # Correlation Id: 4
    b"\xff\xff"  # Length of clientId: -1 (null)
)

EMPTY_CLIENT_ID = (
    b"\x00\x00\x00\x0a"  # Size: 10 bytes follow
    b"\x00\x12"  # API Key: 18 (ApiVersions)
    b"\x00\x01"  # API Version: 1 -> request header v1
    b"\x00\x00\x00\x05"  # Correlation Id: 5
    b"\x00\x00"  # Length of clientId: 0 (empty, not null)
)

NON_ASCII_CLIENT_ID = (
    b"\x00\x00\x00\x18"  # Size: 24 bytes follow
    b"\x00\x12"  # API Key: 18 (ApiVersions)
    b"\x00\x00"  # API Version: 0 -> request header v1
    b"\x00\x00\x00\x06"  # Correlation Id: 6
    b"\x00\x0e"  # Length of clientId: 14 bytes (10 characters)
    b"b\xc3\xbccher-\xe6\xb3\xa8\xe6\x96\x87"  # clientId: "bücher-注文" in UTF-8
)

CONTROLLED_SHUTDOWN_V0 = (
    b"\x00\x00\x00\x0c"  # Size: 12 bytes follow
    b"\x00\x07"  # API Key: 7 (ControlledShutdown)
    b"\x00\x00"  # API Version: 0 -> request header v0: no clientId at all
    b"\x00\x00\x00\x0b"  # Correlation Id: 11
    b"\x00\x00\x00\x02"  # Body: BrokerId 2
)


def _frame(
    size: int,
    api_key: int,
    api_version: int,
    correlation_id: int,
    client_id: str | None,
    header_version: int,
    header_length: int,
) -> FirstFrame:
    return FirstFrame(
        size=size,
        api_key=api_key,
        api_version=api_version,
        correlation_id=correlation_id,
        client_id=client_id,
        header_version=header_version,
        header_length=header_length,
        api_name=API_KEYS[api_key].name,
    )


GOLDEN = {
    "api_versions_v0": (API_VERSIONS_V0, _frame(18, 18, 0, 1, "producer", 1, 18)),
    "api_versions_v3": (
        API_VERSIONS_V3,
        _frame(49, 18, 3, 2, "billing-api.orders-writer", 2, 2 + 2 + 4 + 2 + 25 + 1),
    ),
    "metadata_v1": (METADATA_V1, _frame(41, 3, 1, 7, "inventory", 1, 19)),
    "metadata_v12": (METADATA_V12, _frame(48, 3, 12, 8, "inventory", 2, 20)),
    "metadata_v12_header_tagged_field": (
        METADATA_V12_HEADER_TAGGED_FIELD,
        _frame(26, 3, 12, 9, "inv", 2, 2 + 2 + 4 + 2 + 3 + 1 + 1 + 1 + 3 + 2 + 1),
    ),
    "sasl_handshake_v1": (SASL_HANDSHAKE_V1, _frame(25, 17, 1, 3, "payments", 1, 18)),
    "null_client_id": (NULL_CLIENT_ID, _frame(10, 18, 2, 4, None, 1, 10)),
    "empty_client_id": (EMPTY_CLIENT_ID, _frame(10, 18, 1, 5, "", 1, 10)),
    "non_ascii_client_id": (NON_ASCII_CLIENT_ID, _frame(24, 18, 0, 6, "bücher-注文", 1, 24)),
    "controlled_shutdown_v0": (CONTROLLED_SHUTDOWN_V0, _frame(12, 7, 0, 11, None, 0, 8)),
}


def _load_recordings() -> dict[str, tuple[bytes, dict]]:
    recordings = {}
    for sidecar in sorted(FIXTURES.glob("*.json")):
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        recordings[sidecar.stem] = (sidecar.with_suffix(".bin").read_bytes(), meta)
    return recordings


RECORDINGS = _load_recordings()


# ---------------------------------------------------------------------------------------------
# Feeding a valid frame three ways.


def whole_frame(buf: bytes) -> FirstFrame:
    """Parse a buffer the test knows holds a whole first frame."""
    outcome = parse_first_frame(buf)
    assert isinstance(outcome, FirstFrame)
    return outcome


def assert_parses_three_ways(frame: bytes, **kwargs: int) -> FirstFrame:
    whole = parse_first_frame(frame, **kwargs)
    assert isinstance(whole, FirstFrame)
    assert whole.frame_length == len(frame)

    # One byte at a time: every proper prefix needs more, and never asks for more bytes than
    # the frame still has (so a reader that reads exactly at_least never over-reads).
    for end in range(len(frame)):
        outcome = parse_first_frame(frame[:end], **kwargs)
        assert isinstance(outcome, NeedMoreData), (end, outcome)
        assert 1 <= outcome.at_least <= len(frame) - end, (end, outcome)
    assert parse_first_frame(bytearray(frame), **kwargs) == whole
    assert parse_first_frame(memoryview(frame), **kwargs) == whole

    # Trailing bytes of the next request stay unconsumed: same result, same boundary.
    followed = frame + NEXT_REQUEST
    assert parse_first_frame(followed, **kwargs) == whole
    assert followed[whole.frame_length :] == NEXT_REQUEST
    return whole


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_frames_parse_three_ways(name: str) -> None:
    frame, expected = GOLDEN[name]
    assert len(frame) == 4 + struct.unpack(">i", frame[:4])[0], "golden size field is wrong"
    assert assert_parses_three_ways(frame) == expected


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_frames_peek_header_up_to_client_id(name: str) -> None:
    frame, expected = GOLDEN[name]
    if expected.header_version == 0:
        client_id_end = 12
    elif expected.client_id is None:
        client_id_end = 14
    else:
        client_id_end = 14 + len(expected.client_id.encode())
    for end in range(client_id_end):
        assert isinstance(peek_request_header(frame[:end]), NeedMoreData)
    header = peek_request_header(frame[:client_id_end])
    assert header == RequestHeader(
        size=expected.size,
        api_key=expected.api_key,
        api_version=expected.api_version,
        correlation_id=expected.correlation_id,
        client_id=expected.client_id,
        header_version=expected.header_version,
        api_name=expected.api_name,
    )
    assert header.frame_length == len(frame)
    # The body is not needed to route, but the frame is needed to forward.
    if client_id_end < len(frame):
        assert parse_first_frame(frame[:client_id_end]) == NeedMoreData(len(frame) - client_id_end)


@pytest.mark.parametrize(
    ("golden", "api_version", "correlation_id", "client_id"),
    [
        ("api_versions_v0", 0, 1, "producer"),
        ("api_versions_v3", 3, 2, "billing-api.orders-writer"),
        ("null_client_id", 2, 4, None),
        ("empty_client_id", 1, 5, ""),
        ("non_ascii_client_id", 0, 6, "bücher-注文"),
    ],
)
def test_encoder_reproduces_golden_api_versions(
    golden: str, api_version: int, correlation_id: int, client_id: str | None
) -> None:
    assert encode_api_versions_request(api_version, correlation_id, client_id) == GOLDEN[golden][0]


def test_encoder_reproduces_golden_headers() -> None:
    assert encode_frame(encode_request_header(17, 1, 3, "payments") + b"\x00\x05PLAIN") == (
        SASL_HANDSHAKE_V1
    )
    assert encode_frame(encode_request_header(7, 0, 11, None) + b"\x00\x00\x00\x02") == (
        CONTROLLED_SHUTDOWN_V0
    )
    assert encode_request_header(3, 12, 8, "inventory") == METADATA_V12[4:24]


def test_api_versions_v4_is_laid_out_like_v3() -> None:
    v3 = encode_api_versions_request(3, 2, "c")
    v4 = encode_api_versions_request(4, 2, "c")
    assert v4 == v3[:6] + b"\x00\x04" + v3[8:]
    assert whole_frame(v4).header_version == 2


# ---------------------------------------------------------------------------------------------
# Frames recorded from real clients.


def test_recordings_from_both_client_families_are_present() -> None:
    names = set(RECORDINGS)
    assert "librdkafka-producer" in names
    assert any(name.startswith("java-kafka-clients-") for name in names)


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_recorded_first_frames_parse_to_sidecar_expectations(name: str) -> None:
    frame, meta = RECORDINGS[name]
    expected = meta["expected"]
    parsed = assert_parses_three_ways(frame)
    assert parsed.client_id == expected["client_id"]
    assert parsed.api_key == expected["api_key"]
    assert parsed.api_version == expected["api_version"]
    assert parsed.frame_length == expected["frame_length"]
    assert parsed.header_version == request_header_version(parsed.api_key, parsed.api_version)
    assert parsed.api_name == API_KEYS[parsed.api_key].name


def test_what_real_clients_send_first() -> None:
    """Pin down the observed opening requests (update when re-recording newer clients)."""
    librdkafka = whole_frame(RECORDINGS["librdkafka-producer"][0])
    assert (librdkafka.api_name, librdkafka.api_version, librdkafka.header_version) == (
        "ApiVersions",
        3,
        2,
    )
    java_name = next(name for name in RECORDINGS if name.startswith("java-kafka-clients-"))
    java = whole_frame(RECORDINGS[java_name][0])
    assert (java.api_name, java.api_version, java.header_version) == ("ApiVersions", 4, 2)
    legacy = whole_frame(RECORDINGS["librdkafka-no-api-version-request"][0])
    assert (legacy.api_name, legacy.api_version, legacy.header_version) == ("Metadata", 0, 1)


# ---------------------------------------------------------------------------------------------
# Bounds.


def _causes(buf: bytes, **kwargs: int) -> ProtocolErrorCause:
    with pytest.raises(ProtocolError) as info:
        parse_first_frame(buf, **kwargs)
    with pytest.raises(ProtocolError) as peeked:
        peek_request_header(buf, **kwargs)
    assert peeked.value.cause == info.value.cause
    return info.value.cause


def _padded_api_versions(size: int) -> bytes:
    """An ApiVersions v0 frame with the given size field, padded with body bytes."""
    header = encode_request_header(18, 0, 1, "c")
    return encode_frame(header + b"\x00" * (size - len(header)))


def test_named_bounds_have_their_documented_values() -> None:
    assert MAX_CLIENT_ID_BYTES == 32767
    assert MAX_ROUTING_PREFIX == 4 + 2 + 2 + 4 + 2 + 32767 == 32781
    assert MIN_FRAME_SIZE == 8
    assert DEFAULT_MAX_FIRST_FRAME_SIZE == 1024 * 1024
    assert HARD_MAX_FIRST_FRAME_SIZE == 100 * 1024 * 1024


@pytest.mark.parametrize(
    "size_field", [b"\xff\xff\xff\xff", b"\x80\x00\x00\x00", b"\xc0\x00\x00\x00"]
)
def test_negative_length(size_field: bytes) -> None:
    assert _causes(size_field) == ProtocolErrorCause.NEGATIVE_LENGTH


def test_two_gib_length_is_oversized_from_the_size_field_alone() -> None:
    assert _causes(b"\x7f\xff\xff\xff") == ProtocolErrorCause.OVERSIZED
    assert _causes(b"\x40\x00\x00\x00") == ProtocolErrorCause.OVERSIZED  # 1 GiB


@pytest.mark.parametrize("max_size", [DEFAULT_MAX_FIRST_FRAME_SIZE, 64, MIN_FRAME_SIZE + 20])
def test_size_at_max_minus_one_max_and_max_plus_one(max_size: int) -> None:
    for size in (max_size - 1, max_size):
        frame = _padded_api_versions(size)
        parsed = parse_first_frame(frame, max_size=max_size)
        assert isinstance(parsed, FirstFrame) and parsed.size == size
    over = _padded_api_versions(max_size + 1)
    # Refused from the size field alone, before buffering any of it.
    assert _causes(over[:4], max_size=max_size) == ProtocolErrorCause.OVERSIZED
    assert _causes(over, max_size=max_size) == ProtocolErrorCause.OVERSIZED


def test_default_bound_is_the_default_parameter() -> None:
    assert isinstance(
        parse_first_frame(_padded_api_versions(DEFAULT_MAX_FIRST_FRAME_SIZE)), FirstFrame
    )
    assert (
        _causes(struct.pack(">i", DEFAULT_MAX_FIRST_FRAME_SIZE + 1)) == ProtocolErrorCause.OVERSIZED
    )


@pytest.mark.parametrize("max_size", [MIN_FRAME_SIZE - 1, 0, -1, HARD_MAX_FIRST_FRAME_SIZE + 1])
def test_max_size_parameter_outside_its_bounds_is_a_programming_error(max_size: int) -> None:
    with pytest.raises(ValueError, match="max_size"):
        parse_first_frame(b"", max_size=max_size)
    with pytest.raises(ValueError, match="max_size"):
        peek_request_header(b"", max_size=max_size)


def test_max_size_parameter_at_its_bounds() -> None:
    assert parse_first_frame(b"", max_size=MIN_FRAME_SIZE) == NeedMoreData(4)
    assert parse_first_frame(b"", max_size=HARD_MAX_FIRST_FRAME_SIZE) == NeedMoreData(4)


@pytest.mark.parametrize("size", [0, 1, MIN_FRAME_SIZE - 1])
def test_size_below_any_header_is_undersized_from_the_size_field_alone(size: int) -> None:
    assert _causes(struct.pack(">i", size)) == ProtocolErrorCause.UNDERSIZED


@pytest.mark.parametrize(
    ("api_key", "api_version", "min_size"),
    [(7, 0, 8), (18, 0, 10), (17, 1, 10), (18, 3, 11), (3, 12, 11)],
)
def test_min_size_per_header_version_at_n_minus_one_n_n_plus_one(
    api_key: int, api_version: int, min_size: int
) -> None:
    header_version = request_header_version(api_key, api_version)
    client_id = None if header_version == 0 else ""
    header = encode_request_header(api_key, api_version, 1, client_id)
    assert len(header) == min_size  # the smallest header of that version is exactly the bound
    for size in (min_size, min_size + 1):
        frame = encode_frame(header + b"\x00" * (size - min_size))
        assert isinstance(parse_first_frame(frame), FirstFrame)
    if min_size - 1 >= MIN_FRAME_SIZE:
        too_small = struct.pack(">ihhi", min_size - 1, api_key, api_version, 1)
        assert _causes(too_small) == ProtocolErrorCause.UNDERSIZED


def _with_client_id_length(size: int, length: int, api_version: int = 0) -> bytes:
    return struct.pack(">ihhih", size, 18, api_version, 1, length)


@pytest.mark.parametrize("length", [-2, -100, -32768])
def test_client_id_length_below_minus_one(length: int) -> None:
    assert _causes(_with_client_id_length(100, length)) == ProtocolErrorCause.BAD_CLIENT_ID_LENGTH


def test_client_id_length_beyond_the_frame_at_n_minus_one_n_n_plus_one() -> None:
    size = 40
    room = size - 10  # header v1: size covers api_key, api_version, correlation_id, length
    assert (
        _causes(_with_client_id_length(size, room + 1)) == ProtocolErrorCause.BAD_CLIENT_ID_LENGTH
    )
    # Refused before the client id bytes arrive: the size field already rules it out.
    assert _causes(_with_client_id_length(size, 32767)) == ProtocolErrorCause.BAD_CLIENT_ID_LENGTH
    for length in (room - 1, room):
        frame = _with_client_id_length(size, length) + b"c" * length
        frame += b"\x00" * (4 + size - len(frame))
        assert whole_frame(frame).client_id == "c" * length


def test_client_id_in_header_v2_leaves_room_for_tagged_fields() -> None:
    size = 40
    room = size - 10 - 1  # header v2 needs at least the tagged-field count after the client id
    too_long = _with_client_id_length(size, room + 1, api_version=3)
    assert _causes(too_long) == ProtocolErrorCause.BAD_CLIENT_ID_LENGTH
    frame = _with_client_id_length(size, room, api_version=3) + b"c" * room + b"\x00"
    assert whole_frame(frame).header_length == size


def test_longest_client_id_routes_from_max_routing_prefix_bytes() -> None:
    client_id = "x" * MAX_CLIENT_ID_BYTES
    frame = encode_api_versions_request(3, 1, client_id)
    assert isinstance(peek_request_header(frame[: MAX_ROUTING_PREFIX - 1]), NeedMoreData)
    header = peek_request_header(frame[:MAX_ROUTING_PREFIX])
    assert isinstance(header, RequestHeader) and header.client_id == client_id
    assert whole_frame(frame).client_id == client_id


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",  # never valid in UTF-8
        b"ok\xc3",  # truncated two-byte sequence
        b"\xc0\xaf",  # overlong encoding of "/"
        b"\xed\xa0\x80",  # an encoded surrogate (CESU-8/modified UTF-8, not UTF-8)
        b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    ],
)
def test_a_client_id_that_is_not_utf8_parses_escaped(raw: bytes) -> None:
    """Kafka accepts any bytes as a client id (the broker decodes leniently), so the codec
    does too: the id comes back escaped and flagged, for the log and never for routing."""
    frame = whole_frame(encode_frame(struct.pack(">hhih", 18, 0, 1, len(raw)) + raw))
    assert frame.client_id_utf8 is False
    assert frame.client_id == raw.decode("utf-8", "backslashreplace")
    assert "\\x" in frame.client_id
    assert whole_frame(encode_frame(struct.pack(">hhih", 18, 0, 1, 2) + b"ok")).client_id_utf8 is True


@pytest.mark.parametrize("api_key", [93, 1000, 0x7FFF, -1, -32768])
def test_unknown_api_key(api_key: int) -> None:
    assert _causes(struct.pack(">ihh", 20, api_key, 0)) == ProtocolErrorCause.UNKNOWN_API_KEY


def test_negative_api_version() -> None:
    assert _causes(struct.pack(">ihh", 20, 18, -1)) == ProtocolErrorCause.BAD_API_VERSION


@pytest.mark.parametrize(
    "tagged",
    [
        b"\x05",  # five fields announced, none there
        b"\x01\x00\x05ab",  # a field of 5 bytes with only 2 left
        b"\x01\x00",  # a field without its length
        b"\xff\xff\xff\xff\xff\x01",  # a varint longer than 5 bytes
        b"\xff\xff\xff\xff\x7f",  # a 5-byte varint above 2**32 - 1
        b"\x80",  # a varint cut off by the end of the frame
    ],
)
def test_bad_header_tagged_fields(tagged: bytes) -> None:
    frame = encode_frame(struct.pack(">hhih", 18, 3, 1, 1) + b"c" + tagged)
    assert isinstance(peek_request_header(frame), RequestHeader)  # routable...
    with pytest.raises(ProtocolError) as info:  # ...but not a frame we will forward
        parse_first_frame(frame)
    assert info.value.cause == ProtocolErrorCause.BAD_TAGGED_FIELDS


def test_header_v2_without_its_tagged_field_count() -> None:
    # ApiVersions v3 whose size ends right after the client id: no room for the count.
    frame = encode_frame(struct.pack(">hhih", 18, 3, 1, 1) + b"c")
    assert _causes(frame) == ProtocolErrorCause.BAD_CLIENT_ID_LENGTH


# ---------------------------------------------------------------------------------------------
# Other protocols on the Kafka port.

TLS_CLIENT_HELLO = bytes.fromhex(
    "16"  # record type: handshake
    "0301"  # legacy record version: TLS 1.0 (what TLS 1.2 and 1.3 hellos put here)
    "00f4"  # record length
    "01"  # handshake type: ClientHello
    "0000f0"  # handshake length
    "0303"  # client version: TLS 1.2
) + bytes(32)


@pytest.mark.parametrize("minor", range(5))
def test_tls_client_hello_is_recognised_from_three_bytes(minor: int) -> None:
    hello = bytes((0x16, 0x03, minor)) + TLS_CLIENT_HELLO[3:]
    assert parse_first_frame(hello[:1]) == NeedMoreData(2)
    assert parse_first_frame(hello[:2]) == NeedMoreData(1)
    assert _causes(hello[:3]) == ProtocolErrorCause.TLS
    with pytest.raises(ProtocolError) as info:
        parse_first_frame(hello)
    assert info.value.cause == ProtocolErrorCause.TLS
    assert "TLS" in str(info.value) and "listener" in str(info.value)


def test_bytes_that_only_start_like_tls_are_judged_as_kafka() -> None:
    # 0x16 0x04 ...: not a TLS record, so the size field decides (>= 352 MiB: oversized).
    assert parse_first_frame(b"\x16\x04") == NeedMoreData(2)
    assert _causes(b"\x16\x04\x00\x00") == ProtocolErrorCause.OVERSIZED


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET / HTTP/1.1\r\n",
        b"HEAD /healthz HTTP/1.1\r\n",
        b"POST /v3/clusters HTTP/1.1\r\n",
        b"PUT /x HTTP/1.1\r\n",
        b"DELETE /x HTTP/1.1\r\n",
        b"CONNECT broker:9092 HTTP/1.1\r\n",
        b"OPTIONS * HTTP/1.1\r\n",
        b"TRACE / HTTP/1.1\r\n",
        b"PATCH /x HTTP/1.1\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ],
)
def test_http_request_is_recognised_from_the_method(request_line: bytes) -> None:
    method_end = request_line.index(b" ") + 1
    for end in range(1, method_end):
        assert isinstance(parse_first_frame(request_line[:end]), NeedMoreData), end
    assert _causes(request_line[:method_end]) == ProtocolErrorCause.HTTP
    assert _causes(request_line) == ProtocolErrorCause.HTTP


def test_http_message_names_the_method_and_the_admin_port() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_first_frame(b"GET / HTTP/1.1\r\n")
    assert "GET" in info.value.message and "admin" in info.value.message


def test_need_more_data_while_sniffing_is_a_true_lower_bound() -> None:
    # One byte of a 12-byte PROXY v2 signature: the size field decides after 3 more bytes if
    # the signature breaks, so asking for 11 would stall a reader that reads exactly at_least.
    assert parse_first_frame(b"\r") == NeedMoreData(3)
    assert _causes(b"\r\x00\x00\x00") == ProtocolErrorCause.OVERSIZED
    assert parse_first_frame(b"CONN") == NeedMoreData(1)
    assert _causes(b"CONX") == ProtocolErrorCause.OVERSIZED


def test_ascii_that_is_not_a_method_is_an_oversized_frame() -> None:
    assert _causes(b"GETX") == ProtocolErrorCause.OVERSIZED
    assert _causes(b"hello") == ProtocolErrorCause.OVERSIZED


@pytest.mark.parametrize(
    "header",
    [b"PROXY TCP4 10.0.0.1 10.0.0.2 51000 9092\r\n", b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"],
)
def test_proxy_protocol_header_is_recognised(header: bytes) -> None:
    assert _causes(header) == ProtocolErrorCause.PROXY_PROTOCOL


def test_foreign_signatures_can_never_be_a_frame_within_bounds() -> None:
    # Every frame we could accept has a size <= HARD_MAX, so its first byte is at most 0x06;
    # every signature starts with a byte whose smallest size is beyond that bound.
    assert HARD_MAX_FIRST_FRAME_SIZE >> 24 == 0x06
    assert all(first << 24 > HARD_MAX_FIRST_FRAME_SIZE for first in codec._FOREIGN_FIRST_BYTES)


# ---------------------------------------------------------------------------------------------
# Errors, outcomes, API table, purity.


def test_protocol_error_is_a_proxy_error_with_a_bounded_cause() -> None:
    with pytest.raises(ProxyError) as info:
        parse_first_frame(b"\xff\xff\xff\xff")
    error = info.value
    assert isinstance(error, ProtocolError)
    assert error.cause in set(ProtocolErrorCause)
    assert error.cause == "negative_length"  # a StrEnum: usable directly as a metric label
    assert str(error) == error.message and "-1" in error.message
    assert "negative_length" in repr(error)


def test_outcomes_are_frozen() -> None:
    parsed = whole_frame(API_VERSIONS_V0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.client_id = "other"  # type: ignore[misc]  # assigning a frozen field is the point
    with pytest.raises(dataclasses.FrozenInstanceError):
        NeedMoreData(1).at_least = 2  # type: ignore[misc]  # assigning a frozen field is the point


def test_empty_buffer_needs_the_size_field() -> None:
    assert parse_first_frame(b"") == NeedMoreData(4)
    assert peek_request_header(b"") == NeedMoreData(4)


@pytest.mark.parametrize(
    ("api_key", "name"),
    [
        (0, "Produce"),
        (1, "Fetch"),
        (3, "Metadata"),
        (10, "FindCoordinator"),
        (17, "SaslHandshake"),
        (18, "ApiVersions"),
        (36, "SaslAuthenticate"),
        (92, "DeleteShareGroupOffsets"),
    ],
)
def test_api_names(api_key: int, name: str) -> None:
    assert API_KEYS[api_key].name == name


def test_api_table_is_dense() -> None:
    assert sorted(API_KEYS) == list(range(93))


@pytest.mark.parametrize(
    ("api_key", "api_version", "header_version"),
    [
        # ApiVersions: flexible from v3
        *((18, version, 1) for version in (0, 1, 2)),
        *((18, version, 2) for version in (3, 4, 9)),
        # Metadata: flexible from v9
        *((3, version, 1) for version in (0, 1, 8)),
        *((3, version, 2) for version in (9, 12, 13)),
        # SaslHandshake: never flexible
        (17, 0, 1),
        (17, 1, 1),
        # SaslAuthenticate: flexible from v2
        (36, 1, 1),
        (36, 2, 2),
        # Produce: flexible from v9
        (0, 8, 1),
        (0, 9, 2),
        # ControlledShutdown: v0 is the only request with header v0
        (7, 0, 0),
        (7, 1, 1),
        (7, 3, 2),
        # OffsetDelete: never flexible; ConsumerGroupHeartbeat: flexible from the start
        (47, 0, 1),
        (68, 0, 2),
    ],
)
def test_request_header_version(api_key: int, api_version: int, header_version: int) -> None:
    assert request_header_version(api_key, api_version) == header_version


def test_encoder_rejects_what_kafka_cannot_carry() -> None:
    with pytest.raises(ValueError, match="v0 has no client id"):
        encode_request_header(7, 0, 1, "x")
    with pytest.raises(ValueError, match="32767"):
        encode_request_header(18, 0, 1, "é" * 16384)
    with pytest.raises(ValueError, match="0, 1 or 2"):
        encode_request_header(18, 0, 1, "x", header_version=3)
    with pytest.raises(ValueError, match="0-4"):
        encode_api_versions_request(5, 1, "x")


def test_codec_imports_no_io() -> None:
    probe = (
        "import sys; import proxy.codec; "
        "bad = {'asyncio', 'socket', 'selectors', 'ssl'} & set(sys.modules); "
        "sys.exit(f'codec imported {sorted(bad)}' if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr or result.stdout


# ---------------------------------------------------------------------------------------------
# Properties.

client_ids = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    # Long ones, up to the INT16 limit, without generating 32767 random characters.
    st.builds(
        lambda n, c: c * n, st.integers(0, MAX_CLIENT_ID_BYTES // 4), st.sampled_from("aé注😀")
    ),
)


@st.composite
def valid_frames(draw: st.DrawFn) -> tuple[bytes, FirstFrame]:
    api_key = draw(st.sampled_from(sorted(API_KEYS)))
    api_version = draw(st.integers(0, 0x7FFF))
    header_version = request_header_version(api_key, api_version)
    client_id = None if header_version == 0 else draw(client_ids)
    correlation_id = draw(st.integers(-(2**31), 2**31 - 1))
    body = draw(st.binary(max_size=64))
    header = encode_request_header(api_key, api_version, correlation_id, client_id)
    frame = encode_frame(header + body)
    return frame, FirstFrame(
        size=len(frame) - 4,
        api_key=api_key,
        api_version=api_version,
        correlation_id=correlation_id,
        client_id=client_id,
        header_version=header_version,
        header_length=len(header),
        api_name=API_KEYS[api_key].name,
    )


@st.composite
def damaged_frames(draw: st.DrawFn) -> bytes:
    """Valid frames with a few bytes overwritten, truncated, or extended: near misses."""
    frame = bytearray(draw(valid_frames())[0][:200])
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(frame) - 1))
        frame[position] = draw(st.integers(0, 255))
    return bytes(frame[: draw(st.integers(0, len(frame)))]) + draw(st.binary(max_size=8))


any_bytes = st.one_of(
    st.binary(max_size=64),
    st.binary(max_size=64).map(lambda b: b"\x00\x00" + b),  # plausible small sizes
    damaged_frames(),
)


Outcome = TypeVar("Outcome")


def _outcome(parse: Callable[[bytes], Outcome], buf: bytes) -> Outcome | ProtocolError:
    try:
        return parse(buf)
    except ProtocolError as exc:
        error = exc
    assert error.cause in set(ProtocolErrorCause)
    assert error.message
    return error


@PROPERTY
@given(any_bytes)
def test_any_bytes_parse_need_more_or_raise_protocol_error(buf: bytes) -> None:
    for parse, done in ((parse_first_frame, FirstFrame), (peek_request_header, RequestHeader)):
        outcome = _outcome(parse, buf)  # anything other than ProtocolError propagates: a bug
        assert isinstance(outcome, (NeedMoreData, done, ProtocolError))
        if isinstance(outcome, NeedMoreData):
            assert outcome.at_least >= 1
        if isinstance(outcome, FirstFrame):
            assert outcome.frame_length <= len(buf)
            assert 8 <= outcome.header_length <= outcome.size


@PROPERTY
@given(any_bytes, st.data())
def test_decisions_are_stable_as_bytes_arrive(buf: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(buf)))
    before, after = _outcome(parse_first_frame, buf[:cut]), _outcome(parse_first_frame, buf)
    if isinstance(before, ProtocolError):
        assert isinstance(after, ProtocolError) and after.cause == before.cause
    elif isinstance(before, FirstFrame):
        assert after == before
    elif len(buf) - cut < before.at_least:
        assert isinstance(after, NeedMoreData)  # at_least is a true lower bound


@PROPERTY
@given(valid_frames())
def test_encode_then_parse_round_trips(case: tuple[bytes, FirstFrame]) -> None:
    frame, expected = case
    assert parse_first_frame(frame) == expected
    assert parse_first_frame(frame + NEXT_REQUEST) == expected


@PROPERTY
@given(valid_frames(), st.data())
def test_every_prefix_of_a_valid_frame_needs_more_data(
    case: tuple[bytes, FirstFrame], data: st.DataObject
) -> None:
    frame, _ = case
    cut = data.draw(st.integers(0, len(frame) - 1))
    outcome = parse_first_frame(frame[:cut])
    assert isinstance(outcome, NeedMoreData)
    assert outcome.at_least <= len(frame) - cut


@PROPERTY
@given(
    st.integers(0, 4),
    st.integers(-(2**31), 2**31 - 1),
    client_ids,
    st.text(max_size=20),
    st.text(max_size=20),
)
def test_api_versions_requests_round_trip(
    version: int, correlation_id: int, client_id: str | None, name: str, software: str
) -> None:
    frame = encode_api_versions_request(
        version,
        correlation_id,
        client_id,
        client_software_name=name,
        client_software_version=software,
    )
    parsed = whole_frame(frame)
    assert (parsed.api_name, parsed.api_version, parsed.correlation_id, parsed.client_id) == (
        "ApiVersions",
        version,
        correlation_id,
        client_id,
    )
    assert parsed.header_version == (2 if version >= 3 else 1)
