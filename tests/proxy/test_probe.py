"""proxy.probe: the small raw client the tests and the bench rely on."""

from __future__ import annotations

import json
import struct

import pytest

from proxy_clusters import Cluster
from tests.tools.probe import _records, crc32c, main, metadata_request, probe, record_batch


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C catalogue's check value
    assert crc32c(b"") == 0


def test_record_batch_round_trips_through_the_fetch_decoder() -> None:
    records = [(b"k0", b"v0"), (None, b"x" * 300), (b"k2", None)]
    batch = record_batch(records, timestamp_ms=1_700_000_000_000)
    base, length, _epoch, magic, crc = struct.unpack(">qiibI", batch[:21])
    assert (base, length, magic) == (0, len(batch) - 12, 2)
    assert crc == crc32c(batch[21:])
    assert list(_records(batch)) == [(0, b"k0", b"v0"), (1, None, b"x" * 300), (2, b"k2", None)]


def test_metadata_request_is_v4_with_the_client_id() -> None:
    frame = metadata_request(7, "who", None)
    size, key, version, correlation, _id_len = struct.unpack(">ihhih", frame[:14])
    assert (size, key, version, correlation, frame[14:17]) == (len(frame) - 4, 3, 4, 7, b"who")
    assert frame[-5:] == b"\xff\xff\xff\xff\x00"  # all topics, no auto-creation


@pytest.mark.kafka
def test_probe_and_its_command_line(kafka: dict[str, Cluster], capsys: pytest.CaptureFixture[str]) -> None:
    assert probe(kafka["legacy"].address, "p").cluster_id == kafka["legacy"].cluster_id
    assert probe(kafka["target"].address, "p", scram=kafka["target"].scram).cluster_id == kafka["target"].cluster_id
    assert main([kafka["legacy"].bootstrap, "cli.client"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["cluster_id"] == kafka["legacy"].cluster_id and printed["brokers"]
    assert main(["127.0.0.1:1", "x"]) == 1
    assert main(["just-one-arg"]) == 2
