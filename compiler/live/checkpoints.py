"""MirrorMaker 2's checkpoints: its own translation of each group's offsets (pure).

MM2's checkpoint connector writes, for every group it syncs and every partition the group
committed on the source, a record to `<source>.checkpoints.internal` on the target: the group's
source offset and MM2's translated target offset. It is what MM2 would have the group resume
at, kept even after `ferry cutover align` replaced the group's committed offset on the target.

Format (`Checkpoint` in connect-mirror-client 4.3.1): key = Struct(group STRING, topic STRING,
partition INT32), the topic being the target's (renamed) name; value = Struct(version INT16)
then, for version 0, Struct(upstreamOffset INT64, offset INT64, metadata STRING). Big-endian;
a STRING is an INT16 length and UTF-8 bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import CompilerError


def checkpoints_topic(source_alias: str) -> str:
    """Where MM2 writes checkpoints (the default and Ferry's rename policy agree)."""
    return f"{source_alias}.checkpoints.internal"


@dataclass(frozen=True)
class Checkpoint:
    group: str
    topic: str  # the target's name
    partition: int
    upstream: int  # the group's committed offset on the source
    downstream: int  # MM2's translation on the target
    metadata: str = ""


class CheckpointFormatError(CompilerError, ValueError):
    """A record of the checkpoints topic that is not MM2's Checkpoint format."""


def _string(buf: bytes, at: int) -> tuple[str, int]:
    if at + 2 > len(buf):
        raise CheckpointFormatError(f"truncated string at byte {at}")
    (length,) = struct.unpack_from(">h", buf, at)
    end = at + 2 + max(length, 0)
    if length < 0 or end > len(buf):
        raise CheckpointFormatError(f"bad string length {length} at byte {at}")
    try:
        return buf[at + 2 : end].decode("utf-8"), end
    except UnicodeDecodeError as exc:
        raise CheckpointFormatError(f"string at byte {at} is not UTF-8") from exc


def decode_checkpoint(key: bytes | None, value: bytes | None) -> Checkpoint:
    if key is None or value is None:
        raise CheckpointFormatError("a checkpoint has a key and a value")
    group, at = _string(key, 0)
    topic, at = _string(key, at)
    if len(key) != at + 4:
        raise CheckpointFormatError(f"not a checkpoint key: {key!r}")
    (partition,) = struct.unpack_from(">i", key, at)
    if len(value) < 2 + 16 + 2:
        raise CheckpointFormatError(f"not a checkpoint value: {value!r}")
    (version,) = struct.unpack_from(">h", value, 0)
    if version != 0:
        raise CheckpointFormatError(f"checkpoint version {version}; this Ferry reads version 0 (MM2 4.x)")
    upstream, downstream = struct.unpack_from(">qq", value, 2)
    metadata, end = _string(value, 18)
    if end != len(value):
        raise CheckpointFormatError(f"trailing bytes after a checkpoint value: {value!r}")
    return Checkpoint(group, topic, partition, upstream, downstream, metadata)


def encode_checkpoint(cp: Checkpoint) -> tuple[bytes, bytes]:
    """The inverse of `decode_checkpoint` (for tests)."""
    def string(s: str) -> bytes:
        raw = s.encode("utf-8")
        return struct.pack(">h", len(raw)) + raw

    return (string(cp.group) + string(cp.topic) + struct.pack(">i", cp.partition),
            struct.pack(">hqq", 0, cp.upstream, cp.downstream) + string(cp.metadata))


def latest(checkpoints: Iterable[Checkpoint], group: str) -> dict[tuple[str, int], Checkpoint]:
    """The last checkpoint of `group` per (target topic, partition), in the order given (the
    topic's order: MM2 only moves a translation forward)."""
    out: dict[tuple[str, int], Checkpoint] = {}
    for cp in checkpoints:
        if cp.group == group:
            out[(cp.topic, cp.partition)] = cp
    return out
