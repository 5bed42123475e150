"""The client matrix's driver for aiokafka (the contract: ../README.md).

    python aiokafka_driver.py '<request JSON>'

Every client (AIOKafkaAdminClient, AIOKafkaProducer, AIOKafkaConsumer) gets ``client_id``;
everything else is the library's default. aiokafka connects in ``start()``, which raises
``KafkaConnectionError`` when no bootstrap server answers and does not try again by itself: the
observing application builds a new client on its next try, and every failed start is one more
error it saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition, __version__  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from contract import NotFinished, Run, keyword_config, keyword_consumer_config, main

T = TypeVar("T")
C = TypeVar("C", AIOKafkaProducer, AIOKafkaConsumer)


def in_loop(action: Callable[[Run], Coroutine[Any, Any, None]]) -> Callable[[Run], None]:
    """An asyncio action as the contract's worker runs it: in a loop of its own."""
    return lambda run: asyncio.run(action(run))


async def bounded(run: Run, what: str, step: Awaitable[T]) -> T:
    with run.calling(what):
        try:
            return await asyncio.wait_for(step, max(0.1, run.left()))
        except TimeoutError:
            raise NotFinished(f"{what} did not return within timeout_s {run.req.timeout_s:g} s") from None


async def metadata(run: Run) -> None:
    admin = AIOKafkaAdminClient(**keyword_config(run))
    try:
        await bounded(run, "AIOKafkaAdminClient.start()", admin.start())
        cluster = await bounded(run, "AIOKafkaAdminClient.describe_cluster()", admin.describe_cluster())
    finally:
        with run.calling("AIOKafkaAdminClient.close()"):
            await admin.close()
    run.result["brokers"] = sorted(f"{b['host']}:{b['port']}" for b in cluster["brokers"])
    run.result["cluster_id"] = cluster["cluster_id"]


async def produce(run: Run) -> None:
    topic, count = run.req.need("topic"), run.req.need("count")
    producer = AIOKafkaProducer(**keyword_config(run))
    run.result["produced"] = 0
    try:
        await bounded(run, "AIOKafkaProducer.start()", producer.start())
        futures = [await bounded(run, "AIOKafkaProducer.send()",
                                 producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode()))
                   for i in range(count)]
        for future in futures:
            await bounded(run, "the acknowledgement", future)
            run.result["produced"] += 1
    finally:
        with run.calling("AIOKafkaProducer.stop()"):
            await producer.stop()


async def consume(run: Run) -> None:
    topic, count = run.req.need("topic"), run.req.need("count")
    consumer = AIOKafkaConsumer(topic, **keyword_consumer_config(run))
    values: list[str] = []
    run.result.update(values=values, committed=False)
    try:
        await bounded(run, "AIOKafkaConsumer.start()", consumer.start())
        last: Any = None
        while len(values) < count and run.left() > 0:
            with run.calling("AIOKafkaConsumer.getmany()"):
                batches = await consumer.getmany(timeout_ms=int(min(1.0, run.left()) * 1000),
                                                 max_records=count - len(values))
            for records in batches.values():
                for record in records:
                    values.append(record.value.decode())
                    last = record
        if last is not None:
            await bounded(run, "AIOKafkaConsumer.commit()",
                          consumer.commit({TopicPartition(last.topic, last.partition): last.offset + 1}))
            run.result["committed"] = True
    finally:
        with run.calling("AIOKafkaConsumer.stop()"):
            await consumer.stop()
    if len(values) < count:
        raise NotFinished(f"{len(values)} of {count} records read within {run.req.timeout_s:g} s")


async def observe(run: Run) -> None:
    topic = run.req.need("topic")
    producers: list[AIOKafkaProducer] = []
    consumers: list[AIOKafkaConsumer] = []
    starting = asyncio.Lock()

    async def started(clients: list[C], make: Callable[[], C]) -> C:
        # One client at a time; a client whose start() failed is stopped and made anew next time.
        async with starting:
            if not clients:
                client = make()
                try:
                    with run.calling(f"{type(client).__name__}.start()"):
                        await client.start()
                except KafkaError:
                    await client.stop()
                    raise
                clients.append(client)
            return clients[0]

    async def send(i: int) -> None:
        producer = await started(producers, lambda: AIOKafkaProducer(**keyword_config(run)))
        with run.calling("AIOKafkaProducer.send_and_wait()"):
            await producer.send_and_wait(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
        run.delivered += 1

    async def poll(seconds: float) -> None:
        consumer = await started(consumers, lambda: AIOKafkaConsumer(topic, **keyword_consumer_config(run)))
        with run.calling("AIOKafkaConsumer.getmany()"):
            batches = await consumer.getmany(timeout_ms=int(seconds * 1000))
        run.delivered += sum(len(records) for records in batches.values())

    await (run.apaced(send) if run.req.role == "producer" else run.apolling(poll))
    for client in [*producers, *consumers]:
        with run.calling(f"{type(client).__name__}.stop()"):
            await client.stop()


if __name__ == "__main__":
    main("aiokafka", __version__,
         {"metadata": in_loop(metadata), "produce": in_loop(produce), "consume": in_loop(consume),
          "observe": in_loop(observe)},
         library_errors=(KafkaError,), loggers=("aiokafka",))
