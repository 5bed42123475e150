"""The client matrix's driver for kafka-python (the contract: ../README.md).

    python kafkapython_driver.py '<request JSON>'

Every client (KafkaAdminClient, KafkaProducer, KafkaConsumer) gets ``client_id``; everything
else is the library's default. kafka-python's constructors connect: they raise
``NoBrokersAvailable`` when no bootstrap server answers, so the observing application builds its
client again on its next try, and every failed construction is one more error it saw.
"""

from __future__ import annotations

import time
from typing import Any

from contract import NotFinished, Run, keyword_config, keyword_consumer_config, main

# One statement from the package root: ruff and mypy take `kafka` for this repository's kafka/ folder
# (Java tooling, no Python) before kafka-python, which ships no types anyway.
from kafka import (  # type: ignore[attr-defined]
    KafkaAdminClient,
    KafkaConsumer,
    KafkaProducer,
    OffsetAndMetadata,
    TopicPartition,
    __version__,
    errors,
)


def metadata(run: Run) -> None:
    with run.calling("KafkaAdminClient()"):
        admin = KafkaAdminClient(**keyword_config(run))
    try:
        with run.calling("KafkaAdminClient.describe_cluster()"):
            cluster = admin.describe_cluster()
    finally:
        admin.close()
    run.result["brokers"] = sorted(f"{b['host']}:{b['port']}" for b in cluster["brokers"])
    run.result["cluster_id"] = cluster["cluster_id"]


def produce(run: Run) -> None:
    topic, count = run.req.need("topic"), run.req.need("count")
    with run.calling("KafkaProducer()"):
        producer = KafkaProducer(**keyword_config(run))
    run.result["produced"] = 0
    failures: list[str] = []

    def acknowledged(_meta: object) -> None:
        run.result["produced"] += 1

    def failed(exc: BaseException) -> None:
        failures.append(f"{type(exc).__name__}: {exc}")
        run.errors.exception(exc)

    try:
        for i in range(count):
            with run.calling("KafkaProducer.send()"):
                future = producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
            future.add_callback(acknowledged)
            future.add_errback(failed)
        with run.calling("KafkaProducer.flush()"):
            producer.flush(timeout=run.left())
    finally:
        with run.calling("KafkaProducer.close()"):
            producer.close(timeout=max(1.0, run.left()))
    if run.result["produced"] < count:
        raise NotFinished(f"{run.result['produced']} of {count} records acknowledged within {run.req.timeout_s:g} s"
                          + (f"; first delivery error: {failures[0]}" if failures else ""))


def consume(run: Run) -> None:
    topic, count = run.req.need("topic"), run.req.need("count")
    with run.calling("KafkaConsumer()"):
        consumer = KafkaConsumer(**keyword_consumer_config(run))
    consumer.subscribe([topic])
    values: list[str] = []
    run.result.update(values=values, committed=False)
    last: Any = None
    while len(values) < count and run.left() > 0:
        with run.calling("KafkaConsumer.poll()"):
            batches = consumer.poll(timeout_ms=int(min(1.0, run.left()) * 1000), max_records=count - len(values))
        for records in batches.values():
            for record in records:
                values.append(record.value.decode())
                last = record
    if last is not None:
        offsets = {TopicPartition(last.topic, last.partition): OffsetAndMetadata(last.offset + 1, "", -1)}
        with run.calling("KafkaConsumer.commit()"):
            consumer.commit(offsets)
        run.result["committed"] = True
    with run.calling("KafkaConsumer.close()"):
        consumer.close()
    if len(values) < count:
        raise NotFinished(f"{len(values)} of {count} records read within {run.req.timeout_s:g} s")


def observe(run: Run) -> None:
    topic = run.req.need("topic")
    if run.req.role == "producer":
        producers: list[KafkaProducer] = []

        def acknowledged(_meta: object) -> None:
            run.delivered += 1

        def send(i: int) -> None:
            if not producers:
                with run.calling("KafkaProducer()"):
                    producers.append(KafkaProducer(**keyword_config(run)))
            with run.calling("KafkaProducer.send()"):
                future = producers[0].send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
            future.add_callback(acknowledged)
            future.add_errback(run.errors.exception)

        run.paced(send, time.sleep)
        for producer in producers:
            with run.calling("KafkaProducer.close()"):
                producer.close(timeout=0)
        return

    consumers: list[KafkaConsumer] = []

    def poll(seconds: float) -> None:
        if not consumers:
            with run.calling("KafkaConsumer()"):
                consumer = KafkaConsumer(**keyword_consumer_config(run))
            consumer.subscribe([topic])
            consumers.append(consumer)
        with run.calling("KafkaConsumer.poll()"):
            batches = consumers[0].poll(timeout_ms=int(seconds * 1000))
        run.delivered += sum(len(records) for records in batches.values())

    run.polling(poll)
    for consumer in consumers:
        with run.calling("KafkaConsumer.close()"):
            consumer.close()


if __name__ == "__main__":
    main("kafka-python", __version__,
         {"metadata": metadata, "produce": produce, "consume": consume, "observe": observe},
         library_errors=(errors.KafkaError,), loggers=("kafka",))
