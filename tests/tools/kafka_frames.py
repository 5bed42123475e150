"""Kafka request frames built from fields, for the proxy's tests and the bench.

The proxy itself never encodes a request (it forwards the client's bytes verbatim), so these
encoders live outside the product package. They are the inverse of ``proxy.codec``'s first-frame
parser and share its tables (which header version an api key and version use, the client id
bound), so a frame built here is what a real client of that version would send.
"""

from __future__ import annotations

import struct

from proxy.codec import API_VERSIONS, MAX_CLIENT_ID_BYTES, request_header_version

__all__ = ["compact_string", "encode_api_versions_request", "encode_frame", "encode_request_header", "uvarint"]


def uvarint(value: int) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"unsigned varint out of range: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def compact_string(value: str) -> bytes:
    raw = value.encode("utf-8")
    return uvarint(len(raw) + 1) + raw


def encode_request_header(
    api_key: int,
    api_version: int,
    correlation_id: int,
    client_id: str | None,
    header_version: int | None = None,
) -> bytes:
    """Encode a request header (without the size field).

    ``header_version`` defaults to the one Kafka uses for this api key and version; pass it to
    build headers for keys outside the table. v2 gets an empty tagged-field section.
    """
    if header_version is None:
        header_version = request_header_version(api_key, api_version)
    if header_version not in (0, 1, 2):
        raise ValueError(f"request header version must be 0, 1 or 2, got {header_version}")
    out = struct.pack(">hhi", api_key, api_version, correlation_id)
    if header_version == 0:
        if client_id is not None:
            raise ValueError("request header v0 has no client id")
        return out
    if client_id is None:
        out += struct.pack(">h", -1)
    else:
        raw = client_id.encode("utf-8")
        if len(raw) > MAX_CLIENT_ID_BYTES:
            raise ValueError(
                f"client id is {len(raw)} bytes of UTF-8; at most {MAX_CLIENT_ID_BYTES} fit"
            )
        out += struct.pack(">h", len(raw)) + raw
    if header_version == 2:
        out += b"\x00"  # no tagged fields
    return out


def encode_frame(payload: bytes) -> bytes:
    """Prefix a request (header + body) with its INT32 size."""
    return struct.pack(">i", len(payload)) + payload


def encode_api_versions_request(
    api_version: int,
    correlation_id: int,
    client_id: str | None,
    *,
    client_software_name: str = "ferry",
    client_software_version: str = "0.1.0",
) -> bytes:
    """A whole ApiVersions request frame, v0-v4.

    v0-v2: header v1, empty body. v3+ (flexible): header v2 with no tagged fields, then the
    body ``client_software_name`` and ``client_software_version`` as compact strings and an
    empty tagged-field section.
    """
    if not 0 <= api_version <= 4:
        raise ValueError(f"ApiVersions request versions are 0-4, got {api_version}")
    header = encode_request_header(API_VERSIONS, api_version, correlation_id, client_id)
    body = b""
    if api_version >= 3:
        body = (
            compact_string(client_software_name)
            + compact_string(client_software_version)
            + b"\x00"
        )
    return encode_frame(header + body)
