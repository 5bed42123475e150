"""The ApiVersions answer a fenced client gets (proxy.apiversions) is what a real Kafka 4.3.1
broker answers, at every request version; a version the broker does not know gets its refusal."""

from __future__ import annotations

import struct

import pytest

from proxy.apiversions import API_VERSIONS_KEY, BROKER_API_VERSIONS, api_versions_answer
from proxy_clusters import Cluster
from tests.tools.kafka_frames import encode_api_versions_request
from tests.tools.probe import KafkaConnection, parse_api_versions


def _body(frame: bytes, correlation_id: int) -> bytes:
    (size, cid) = struct.unpack(">ii", frame[:8])
    assert size == len(frame) - 4 and cid == correlation_id
    return frame[8:]


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_the_answer_parses_at_every_version(version: int) -> None:
    body = _body(api_versions_answer(version, 42), 42)
    assert parse_api_versions(body, version) == {k: (lo, hi) for k, lo, hi in BROKER_API_VERSIONS}


def test_an_unknown_version_is_refused_as_a_broker_refuses_it() -> None:
    body = _body(api_versions_answer(9, 7), 7)
    error, count = struct.unpack(">hi", body[:6])
    assert error == 35 and count == 1  # UNSUPPORTED_VERSION, and the ApiVersions range to retry with
    assert struct.unpack(">hhh", body[6:12]) == (API_VERSIONS_KEY, 0, 4)


@pytest.mark.kafka
@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_the_answer_is_what_a_real_broker_advertises(kafka: dict[str, Cluster], version: int) -> None:
    for cluster in kafka.values():
        with KafkaConnection(cluster.address) as conn:
            real = parse_api_versions(conn.request(encode_api_versions_request(version, 5, "probe")), version)
        ours = parse_api_versions(_body(api_versions_answer(version, 5), 5), version)
        assert ours == real, f"{cluster.role}: update proxy/apiversions.py BROKER_API_VERSIONS"
