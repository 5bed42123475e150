"""Helpers for the MirrorMaker 2 tests: instantiate and render the test specs, localise the
rendered files, produce and read real records, run consumer groups. Every wait is bounded."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from compiler.render import render_specs
from compiler.validate import validate_specs
from sandbox.clients import committed_offsets, create_topic, fetch_metadata
from sandbox.cluster import KafkaNode
from sandbox.mm2 import substitute_connector, substitute_mm2_properties, write_secret

HERE = Path(__file__).resolve().parent
SPECS = HERE / "specs"
TOKEN = "run0"  # replaced in every spec file by a per-test token
SOURCE, TARGET = "legacy-service", "governed"
SECRET = "kafka-governed-mirrormaker"

# Processes (MirrorMaker2, ConnectWorker) whose log tails a failing test report shows.
PROCESSES: list = []


# ---- specs -> rendered -> localised


@dataclass(frozen=True)
class Topic:
    legacy: str
    new: str
    partitions: int


@dataclass
class FlowUnderTest:
    token: str
    specs_dir: Path
    rendered: dict[str, str]
    topics: list[Topic]
    groups: dict[str, list[str]]  # group -> legacy topics it reads
    offset_lag_max: int
    mm2_config: Path
    connect_dir: Path

    @property
    def name(self) -> str:
        return f"{SOURCE}--{TARGET}"

    def topic(self, suffix: str) -> Topic:
        """The topic whose legacy name ends with ``suffix`` (orders, payments, shipments)."""
        (match,) = [t for t in self.topics if t.legacy.endswith(suffix)]
        return match

    def group(self, suffix: str) -> str:
        (match,) = [g for g in self.groups if g.endswith(suffix)]
        return match


def instantiate_specs(dest: Path, token: str) -> Path:
    """Copy tests/mm2/specs to ``dest`` with every ``run0`` replaced by ``token``."""
    if dest.exists():
        shutil.rmtree(dest)
    for path in sorted(SPECS.rglob("*.yaml")):
        out = dest / path.relative_to(SPECS)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(path.read_text().replace(TOKEN, token))
    return dest


def render(specs_dir: Path) -> dict[str, str]:
    result = validate_specs(specs_dir)
    assert result.ok and result.specs is not None, [d.message for d in result.diagnostics]
    return render_specs(result.specs)


def make_flow(work: Path, token: str, bootstraps: Mapping[str, str], secrets_dir: Path) -> FlowUnderTest:
    """Instantiate, validate and render the specs; write the localised MM2 file and connectors."""
    specs_dir = instantiate_specs(work / "specs", token)
    rendered = render(specs_dir)
    specs = validate_specs(specs_dir).specs
    assert specs is not None
    (migration,) = specs.migrations
    model = migration.model
    topics = [
        Topic(legacy, model.renamed(legacy).to, model.renamed(legacy).partitions or 1)
        for legacy in sorted(model.topics)
    ]
    groups = {name: list(group.topics or model.topics) for name, group in model.consumer_groups.items()}
    mm2_config = work / "mm2" / f"{SOURCE}--{TARGET}.properties"
    mm2_config.parent.mkdir(parents=True, exist_ok=True)
    mm2_config.write_text(
        substitute_mm2_properties(rendered[f"mm2/{SOURCE}--{TARGET}.properties"], bootstraps, secrets_dir)
    )
    connect_dir = work / "connect"
    for rel, text in rendered.items():
        if rel.startswith("connect/"):
            out = work / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            body = substitute_connector(json.loads(text), bootstraps, secrets_dir)
            out.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    return FlowUnderTest(
        token, specs_dir, rendered, topics, groups, specs.policy.model.mirrormaker.offset_lag_max,
        mm2_config, connect_dir,
    )


def write_base_specs(root: Path, source: str, secret: str) -> None:
    """tests/mm2/specs' clusters.yaml and policy.yaml under ``root`` with the legacy cluster named ``source``,
    the target's Secret named ``secret`` (a module's own flow beside the others'), and MM2 flushing offsets
    every second (so a quiet group's last offset sync lands quickly); ``root/migrations/shop/`` made."""
    (root / "migrations" / "shop").mkdir(parents=True)
    clusters = (SPECS / "clusters.yaml").read_text().replace("legacy-service", source)
    (root / "clusters.yaml").write_text(clusters.replace("kafka-governed-mirrormaker", secret))
    policy = (SPECS / "policy.yaml").read_text().replace(
        "offset_lag_max: 20", "offset_lag_max: 20\n  offset_flush_interval_seconds: 1")
    (root / "policy.yaml").write_text(policy)


def commit_offsets(config: Mapping[str, str], group: str, topic: str, offsets: Mapping[int, int]) -> None:
    """Commit ``offsets`` for ``group`` without joining it: the last commit of a stopped (fenced) group."""
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        consumer.close()


def localise_flow(work: Path, rendered: Mapping[str, str], nodes: tuple[KafkaNode, KafkaNode],
                  aliases: tuple[str, str] = (SOURCE, TARGET), secret: str = SECRET) -> tuple[Path, Path]:
    """The flow's rendered MM2 properties localised to the session's two nodes (the target's credentials in a
    Secret-like folder), and a `--connections` file for the live commands (`ferry cutover`, `preflight`)
    naming both clusters: (properties file, connections file), written under ``work``. ``nodes`` and
    ``aliases`` are (legacy, target); ``secret`` is the target's `security.secret` in the specs."""
    (legacy, target), (source, target_alias) = nodes, aliases
    secrets = work / "secrets"
    write_secret(secrets, secret, "ferry", target.users["ferry"])
    config = work / "mm2.properties"
    addresses = {source: legacy.bootstrap, target_alias: target.bootstrap}
    config.write_text(substitute_mm2_properties(rendered[f"mm2/{source}--{target_alias}.properties"], addresses,
                                                secrets))
    sasl = target.client_config()
    conns = work / "sandbox.json"
    conns.write_text(json.dumps({"clusters": {
        source: {"bootstrap": legacy.bootstrap},
        target_alias: {"bootstrap": target.bootstrap, "security_protocol": "SASL_PLAINTEXT",
                 "sasl_mechanism": sasl["sasl.mechanism"], "sasl_username": sasl["sasl.username"],
                 "sasl_password": sasl["sasl.password"]},
    }}))
    return config, conns


def create_legacy_topics(config: Mapping[str, str], flow: FlowUnderTest) -> None:
    for topic in flow.topics:
        create_topic(config, topic.legacy, partitions=topic.partitions)


# ---- records

Header = tuple[str, str | bytes | None]  # as confluent-kafka gives and takes them


@dataclass(frozen=True)
class Seen:
    """A record as a consumer saw it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    timestamp: int

    def content(self) -> tuple:
        return (self.key, self.value, self.headers)

    def placed(self) -> tuple:
        """Everything but the topic: where the record sits and what it holds."""
        return (self.partition, self.offset, self.key, self.value, self.headers, self.timestamp)


def _seen(message: Message, headers: list[Header] | None = None) -> Seen:
    """``headers``: what was sent (delivery reports do not carry them)."""
    sent = message.headers() if headers is None else headers
    assert not isinstance(sent, dict)  # consumers hand headers over as a list of pairs
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None  # a delivered or consumed record
    return Seen(topic, partition, offset, message.key(), message.value(), tuple(sent or ()), message.timestamp()[1])


def payload(tag: str, i: int) -> tuple[bytes, bytes, list[Header]]:
    """Keyed (keys repeat, so per-key order matters) with headers, one of them repeated."""
    return (
        f"key-{i % 11}".encode(),
        f"{tag}-{i:06d}".encode(),
        [("trace-id", f"{tag}/{i}".encode()), ("tag", b"a"), ("tag", b"b"), ("bin", bytes([0, 255, i % 256]))],
    )


def produce(config: Mapping[str, str], topic: str, tag: str, count: int, start: int = 0,
            timeout: float = 30.0) -> list[Seen]:
    producer = Producer({**config, "enable.idempotence": True, "linger.ms": 5})
    delivered: list[Seen] = []
    failures: list[str] = []

    def report(headers: list[Header], error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(str(error))
        else:
            delivered.append(_seen(message, headers))

    for i in range(start, start + count):
        key, value, headers = payload(tag, i)
        producer.produce(topic, key=key, value=value, headers=headers, on_delivery=partial(report, headers))
        producer.poll(0)
    left = producer.flush(timeout)
    if failures or left:
        raise KafkaException(f"produce to {topic}: {failures[:3]}, {left} undelivered")
    return delivered


class BackgroundProducer:
    """Produces ``rate`` records per second round-robin to ``topics`` until stopped."""

    def __init__(self, config: Mapping[str, str], topics: Iterable[str], tag: str, rate: float = 40.0) -> None:
        self.topics = list(topics)
        self.tag = tag
        self.rate = rate
        self.delivered: dict[str, list[Seen]] = defaultdict(list)
        self.failures: list[str] = []
        self._producer = Producer({**config, "enable.idempotence": True, "linger.ms": 5})
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"producer-{tag}", daemon=True)

    def _report(self, headers: list[Header], error: KafkaError | None, message: Message) -> None:
        with self._lock:
            if error is not None:
                self.failures.append(str(error))
            else:
                seen = _seen(message, headers)
                self.delivered[seen.topic].append(seen)

    def _run(self) -> None:
        i = 0
        started = time.monotonic()
        while not self._stop.is_set():
            topic = self.topics[i % len(self.topics)]
            key, value, headers = payload(self.tag, i)
            self._producer.produce(topic, key=key, value=value, headers=headers,
                                   on_delivery=partial(self._report, headers))
            i += 1
            self._producer.poll(0)
            # Pace by the clock, not by sleeps adding up.
            delay = started + i / self.rate - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)

    def start(self) -> BackgroundProducer:
        self._thread.start()
        return self

    def count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self.delivered.values())

    def stop(self, timeout: float = 30.0) -> dict[str, list[Seen]]:
        self._stop.set()
        self._thread.join(timeout)
        left = self._producer.flush(timeout)
        if self.failures or left:
            raise KafkaException(f"background producer {self.tag}: {self.failures[:3]}, {left} undelivered")
        return dict(self.delivered)


class TopicReader:
    """Reads a whole topic from the beginning (assigned, no group) and keeps what it saw."""

    def __init__(self, config: Mapping[str, str], topic: str) -> None:
        self.topic = topic
        self.records: list[Seen] = []
        self._config = dict(config)
        self._consumer = Consumer({**config, "group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False,
                                   "auto.offset.reset": "earliest"})
        self._assigned = False

    def _assign(self) -> bool:
        if not self._assigned:
            info = self._consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
            if info is None or info.error is not None or not info.partitions:
                return False
            self._consumer.assign([TopicPartition(self.topic, p, 0) for p in info.partitions])
            self._assigned = True
        return True

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self._assign():
                time.sleep(0.2)
                continue
            for message in self._consumer.consume(500, timeout=min(0.5, max(0.0, deadline - time.monotonic()))):
                error = message.error()
                if error:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(error)
                self.records.append(_seen(message))

    def wait_for(self, count: int, timeout: float, alive: Callable[[], None] | None = None) -> list[Seen]:
        """Until at least ``count`` records were seen; TimeoutError saying how many came."""
        deadline = time.monotonic() + timeout
        while len(self.records) < count:
            if alive is not None:
                alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.topic}: {len(self.records)} of {count} records after {timeout:.0f} s")
            self.poll(0.5)
        return self.records

    def wait_for_values(
        self, values: set[bytes | None], timeout: float, alive: Callable[[], None] | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            missing = values - {r.value for r in self.records}
            if not missing:
                return
            if alive is not None:
                alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.topic}: {len(missing)} of {len(values)} values missing after "
                                   f"{timeout:.0f} s, e.g. {sorted(map(repr, missing))[:3]}")
            self.poll(0.5)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_all(config: Mapping[str, str], topic: str, timeout: float = 30.0) -> list[Seen]:
    """Every record up to the end offsets as of the call."""
    ends = end_offsets(config, topic)
    with TopicReader(config, topic) as reader:
        deadline = time.monotonic() + timeout
        while True:
            last: dict[int, int] = {}
            for r in reader.records:
                last[r.partition] = max(last.get(r.partition, -1), r.offset)
            if all(last.get(p, -1) + 1 >= end for p, end in ends.items() if end > 0):
                return reader.records
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: read {len(reader.records)} records, not at the end {ends}")
            reader.poll(0.5)


def end_offsets(config: Mapping[str, str], topic: str) -> dict[int, int]:
    consumer = Consumer({**config, "group.id": f"ends-{uuid.uuid4().hex}"})
    try:
        info = consumer.list_topics(topic, timeout=10).topics[topic]
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in info.partitions}
    finally:
        consumer.close()


def topic_partitions(config: Mapping[str, str]) -> dict[str, int]:
    metadata = fetch_metadata(config)
    return {name: len(info.partitions) for name, info in metadata.topics.items()}


def is_mirror_internal(name: str) -> bool:
    """MM2's and Connect's own topics (and Kafka's)."""
    return name == "heartbeats" or name.endswith(".internal") or name.startswith(("__", "ferry-connect"))


# ---- consumer groups


@dataclass
class GroupRun:
    records: list[Seen] = field(default_factory=list)
    committed: dict[tuple[str, int], int] = field(default_factory=dict)


def run_group(
    config: Mapping[str, str],
    topics: list[str],
    group: str,
    *,
    done: Callable[[list[Seen], Consumer], bool],
    timeout: float = 60.0,
    commit_every: int = 20,
    client_id: str | None = None,
) -> GroupRun:
    """One consumer of ``group`` reads until ``done(records, consumer)``, committing as it goes
    (synchronously, every ``commit_every`` records and at the end), then leaves the group."""
    settings = {**config, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    if client_id:
        settings["client.id"] = client_id
    consumer = Consumer(settings)
    run = GroupRun()
    try:
        consumer.subscribe(topics)
        deadline = time.monotonic() + timeout
        since_commit = 0
        while not done(run.records, consumer):
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {group}: read {len(run.records)} records in {timeout:.0f} s, not done")
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(error)
            run.records.append(_seen(message))
            since_commit += 1
            if since_commit >= commit_every:
                consumer.commit(asynchronous=False)
                since_commit = 0
        # Commit the positions explicitly: a commit with nothing new stored would be refused.
        positions = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
        if positions:
            consumer.commit(offsets=positions, asynchronous=False)
            run.committed = {(tp.topic, tp.partition): tp.offset for tp in positions}
    finally:
        consumer.close()
    return run


def at_end(ends: Mapping[tuple[str, int], int]) -> Callable[[list[Seen], Consumer], bool]:
    """done() for run_group: the consumer's position reached ``ends`` on every partition."""

    def done(_records: list[Seen], consumer: Consumer) -> bool:
        if not consumer.assignment():
            return False
        wanted = [TopicPartition(t, p) for (t, p), end in ends.items() if end > 0]
        reached = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(wanted)}
        # Until a partition yields a record its position is unknown: it starts at the committed offset.
        unknown = [tp for tp in wanted if reached[(tp.topic, tp.partition)] < 0]
        if unknown:
            for tp in consumer.committed(unknown, timeout=10):
                reached[(tp.topic, tp.partition)] = tp.offset
        return all(reached[(tp.topic, tp.partition)] >= ends[(tp.topic, tp.partition)] for tp in wanted)

    return done


def group_offsets(config: Mapping[str, str], group: str, topic: str, partitions: int) -> dict[int, int]:
    """Committed offsets (-1001 when none) of ``group`` on ``topic``."""
    return committed_offsets(config, topic, partitions, group)


def by_partition(records: Iterable[Seen]) -> dict[int, list[Seen]]:
    out: dict[int, list[Seen]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        out[r.partition].append(r)
    return out
