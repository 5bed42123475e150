"""The client matrix's driver for librdkafka through confluent-kafka (the contract: ../README.md).

    python confluent_driver.py '<request JSON>'

Every client (AdminClient, Producer, Consumer) gets ``client.id``; everything else is the
library's default. The application's errors are what ``error_cb`` reports, the exceptions the
calls raise, the per-message errors, and librdkafka's warning and error log lines (through the
``logger`` setting into the ``logging`` module).
"""

from __future__ import annotations

import logging
from typing import Any

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from contract import NotFinished, Run, main

LIBRDKAFKA_LOG = logging.getLogger("librdkafka")


def config(run: Run) -> dict[str, Any]:
    req = run.req

    def on_error(err: KafkaError) -> None:
        run.errors.add(f"error_cb {err.name()}: {err.str()}")
        if err.fatal():
            run.fatal = True

    conf: dict[str, Any] = {"bootstrap.servers": req.bootstrap, "client.id": req.client_id,
                            "error_cb": on_error, "logger": LIBRDKAFKA_LOG}
    if req.sasl:
        conf.update({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": req.sasl["mechanism"],
                     "sasl.username": req.sasl["username"], "sasl.password": req.sasl["password"]})
    return {**conf, **req.options}


def consumer_config(run: Run) -> dict[str, Any]:
    return {**config(run), "group.id": run.req.need("group"), "auto.offset.reset": "earliest"}


def metadata(run: Run) -> None:
    admin = AdminClient(config(run))
    with run.calling("AdminClient.list_topics()"):
        md = admin.list_topics(timeout=run.left())
    run.result["brokers"] = sorted(f"{b.host}:{b.port}" for b in md.brokers.values())
    run.result["cluster_id"] = md.cluster_id


def produce(run: Run) -> None:
    topic, count = run.req.need("topic"), run.req.need("count")
    producer = Producer(config(run))
    run.result["produced"] = 0
    failures: list[str] = []

    def delivered(err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            run.result["produced"] += 1
        else:
            failures.append(f"{err.name()}: {err.str()}")
            run.errors.add(f"delivery {err.name()}: {err.str()}")

    for i in range(count):
        producer.produce(topic, key=f"k{i}", value=f"v{i}", on_delivery=delivered)
    with run.calling("Producer.flush()"):
        producer.flush(run.left())
    if run.result["produced"] < count:
        raise NotFinished(f"{run.result['produced']} of {count} records acknowledged within {run.req.timeout_s:g} s"
                          + (f"; first delivery error: {failures[0]}" if failures else ""))


def consume(run: Run) -> None:
    topic, count = run.req.need("topic"), run.req.need("count")
    consumer = Consumer(consumer_config(run))
    consumer.subscribe([topic])
    values: list[str] = []
    run.result.update(values=values, committed=False)
    last: Message | None = None
    while len(values) < count and run.left() > 0:
        with run.calling("Consumer.poll()"):
            msg = consumer.poll(min(1.0, run.left()))
        if msg is None:
            continue
        err = msg.error()
        if err is not None:
            run.errors.add(f"poll {err.name()}: {err.str()}")
            continue
        values.append((msg.value() or b"").decode())
        last = msg
    if last is not None:
        with run.calling("Consumer.commit(asynchronous=False)"):
            partitions = consumer.commit(message=last, asynchronous=False) or []
        failed = [tp for tp in partitions if tp.error is not None]
        run.result["committed"] = not failed
        if failed:
            run.errors.add(f"commit: {failed[0].error}")
    with run.calling("Consumer.close()"):
        consumer.close()
    if len(values) < count:
        raise NotFinished(f"{len(values)} of {count} records read within {run.req.timeout_s:g} s")


def observe(run: Run) -> None:
    topic = run.req.need("topic")
    if run.req.role == "producer":
        producer = Producer(config(run))

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                run.delivered += 1
            else:
                run.errors.add(f"delivery {err.name()}: {err.str()}")

        def send(i: int) -> None:
            with run.calling("Producer.produce()"):
                producer.produce(topic, key=f"k{i}", value=f"v{i}", on_delivery=delivered)

        def wait(seconds: float) -> None:
            with run.calling("Producer.poll()"):
                producer.poll(seconds)

        # Records still queued when the window closes are dropped unreported, as when an application stops.
        run.paced(send, wait)
        return
    consumer = Consumer(consumer_config(run))
    consumer.subscribe([topic])

    def poll(seconds: float) -> None:
        with run.calling("Consumer.poll()"):
            msg = consumer.poll(seconds)
        if msg is None:
            return
        err = msg.error()
        if err is None:
            run.delivered += 1
            return
        run.errors.add(f"poll {err.name()}: {err.str()}")
        if err.fatal():
            run.fatal = True

    run.polling(poll)
    with run.calling("Consumer.close()"):
        consumer.close()


if __name__ == "__main__":
    main("librdkafka (confluent-kafka)",
         f"confluent-kafka {confluent_kafka.__version__}, librdkafka {confluent_kafka.libversion()[0]}",
         {"metadata": metadata, "produce": produce, "consume": consume, "observe": observe},
         library_errors=(KafkaException, BufferError), loggers=("librdkafka",))
