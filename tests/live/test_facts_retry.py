"""`Reader.groups` asks again while a group's coordinator is not ready (NOT_COORDINATOR and
kin, which a broker answers for seconds after it starts or after MirrorMaker 2 first writes a
group) and reports any other error at once. A real broker cannot be made to answer
NOT_COORDINATOR on demand, so the AdminClient here is a fake that answers from a script."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from compiler.live import facts
from compiler.live.connections import ClusterConnectionError, Connections


def _answer(value: object = None, error: int | None = None) -> Future[object]:
    f: Future[object] = Future()
    if error is None:
        f.set_result(value)
    else:
        f.set_exception(KafkaException(KafkaError(error)))
    return f


class ScriptedAdmin:
    """Answers describe/offsets from lists of errors-then-success, and counts the calls."""

    def __init__(self, describe_errors: list[int], offsets_errors: list[int]):
        self.describe_errors, self.offsets_errors = list(describe_errors), list(offsets_errors)
        self.calls = {"describe": 0, "offsets": 0}

    def describe_consumer_groups(self, ids: list[str], request_timeout: float) -> dict[str, Future[object]]:
        self.calls["describe"] += 1
        error = self.describe_errors.pop(0) if self.describe_errors else None
        desc = SimpleNamespace(state=SimpleNamespace(name="STABLE"), members=[object()])
        return {gid: _answer(desc, error) for gid in ids}

    def list_consumer_group_offsets(
        self, requests: list[ConsumerGroupTopicPartitions], request_timeout: float
    ) -> dict[str, Future[object]]:
        self.calls["offsets"] += 1
        error = self.offsets_errors.pop(0) if self.offsets_errors else None
        listing = SimpleNamespace(
            topic_partitions=[TopicPartition("orders", 0, 42), TopicPartition("orders", 1, -1001)]
        )
        return {r.group_id: _answer(listing, error) for r in requests}


MakeReader = Callable[[ScriptedAdmin], facts.Reader]


@pytest.fixture
def reader_with(tmp_path: Path) -> MakeReader:
    def make(admin: ScriptedAdmin) -> facts.Reader:
        file = tmp_path / "connections.json"
        file.write_text(json.dumps({"clusters": {"legacy": {"bootstrap": "127.0.0.1:9"}}}))
        reader = facts.Reader(Connections({}, file, env={}))
        # what admin("legacy") would have created; the fake answers the two calls groups() makes
        reader._admins["legacy"] = cast(AdminClient, admin)
        return reader
    return make


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facts, "RETRY_PAUSE", 0.0)


def test_a_coordinator_that_is_not_ready_yet_is_asked_again(reader_with: MakeReader) -> None:
    admin = ScriptedAdmin([KafkaError.COORDINATOR_LOAD_IN_PROGRESS],
                          [KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE])
    got = reader_with(admin).groups("legacy", ["billing"])
    assert got["billing"] == facts.GroupFacts(state="STABLE", members=1, committed={("orders", 0): 42})
    assert admin.calls == {"describe": 2, "offsets": 3}


def test_other_errors_are_reported_at_once_naming_cluster_and_group(reader_with: MakeReader) -> None:
    admin = ScriptedAdmin([], [KafkaError.GROUP_AUTHORIZATION_FAILED])
    expected = r"cluster 'legacy' \(127\.0\.0\.1:9\): offsets of group 'billing'"
    with pytest.raises(ClusterConnectionError, match=expected):
        reader_with(admin).groups("legacy", ["billing"])
    assert admin.calls["offsets"] == 1


def test_a_coordinator_that_never_gets_ready_fails_after_the_timeout(
    reader_with: MakeReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facts, "TIMEOUT", 0.05)
    admin = ScriptedAdmin([KafkaError.NOT_COORDINATOR] * 10_000, [])
    with pytest.raises(ClusterConnectionError, match="describe group 'billing' failed"):
        reader_with(admin).groups("legacy", ["billing"])
    assert admin.calls["describe"] > 1
