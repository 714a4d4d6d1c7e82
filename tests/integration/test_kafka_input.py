"""The processors' librdkafka input and changelog tables, against a real Kafka."""

from __future__ import annotations

import asyncio
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.processors.protocol import Message
from streams.worker.changelog import ChangelogTable
from streams.worker.kafka_input import KafkaInput
from streams.worker.producer import OutputProducer


def new_topic(bootstrap: str, partitions: int, messages: int) -> str:
    topic = f"input-{uuid.uuid4().hex[:8]}"
    config = {"bootstrap.servers": bootstrap}
    admin = AdminClient(config)  # held: a client collected early cancels its requests
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=30)
    producer = Producer(config)
    for i in range(messages):
        producer.produce(topic, str(i).encode(), partition=i % partitions)
    assert producer.flush(30) == 0
    return topic


async def read(source: KafkaInput, seen: list[Message], until: asyncio.Event) -> None:
    """Consume and mark done, as the loop does, until `until` is set; a batch takes 0.1 s to
    process, so that the other input joins mid-stream."""
    while not until.is_set():
        messages = await source.consume(50, 0.2)
        source.changes()
        seen.extend(messages)
        await asyncio.sleep(0.1)
        await source.done(messages)


async def test_two_inputs_in_one_group_hand_out_every_message_once_across_a_rebalance(
    kafka_bootstrap,
):
    total = 4_000
    topic = new_topic(kafka_bootstrap, 4, total)
    config = {"bootstrap.servers": kafka_bootstrap}
    group = f"g-{uuid.uuid4().hex[:8]}"
    first, second = (KafkaInput(config, group, [topic], commit_interval_s=0.5) for _ in range(2))
    seen_first: list[Message] = []
    seen_second: list[Message] = []
    stop = asyncio.Event()
    await first.start()
    reading_first = asyncio.create_task(read(first, seen_first, stop))
    deadline = time.monotonic() + 90
    while not seen_first:
        assert time.monotonic() < deadline, "the first input read nothing"
        await asyncio.sleep(0.05)
    await second.start()  # joins while the first is reading: a rebalance mid-stream
    reading_second = asyncio.create_task(read(second, seen_second, stop))
    while len(seen_first) + len(seen_second) < total:
        assert time.monotonic() < deadline, (len(seen_first), len(seen_second))
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # anything handed out twice would come by now
    stop.set()
    await asyncio.gather(reading_first, reading_second)
    await first.close()
    await second.close()

    handed = [(m.partition, m.offset) for m in seen_first + seen_second]
    assert len(handed) == total == len(set(handed))
    assert {int(m.value) for m in seen_first + seen_second} == set(range(total))
    assert seen_second, "the rebalance gave the second input nothing"
    for messages in (seen_first, seen_second):
        for partition in {m.partition for m in messages}:
            offsets = [m.offset for m in messages if m.partition == partition]
            assert offsets == sorted(offsets)  # in order within each partition


async def test_a_new_group_starts_where_the_reset_policy_says_and_commits_that_start(
    kafka_bootstrap,
):
    topic = new_topic(kafka_bootstrap, 2, 10)
    config = {"bootstrap.servers": kafka_bootstrap}
    group = f"g-{uuid.uuid4().hex[:8]}"
    source = KafkaInput(config, group, [topic], offset_reset="latest")
    await source.start()
    deadline = time.monotonic() + 60
    while not source.holds(topic, 1):
        assert time.monotonic() < deadline
        assert await source.consume(10, 0.2) == []  # the backlog before the start is not read
    assert (source.start_of(topic, 0), source.start_of(topic, 1)) == (5, 5)
    assert source.changes().assigned == {(topic, 0), (topic, 1)}

    producer = Producer(config)
    producer.produce(topic, b"after", partition=0)
    producer.flush(30)
    messages: list[Message] = []
    while not messages:
        assert time.monotonic() < deadline
        messages = await source.consume(10, 0.2)
    assert [(m.partition, m.offset, m.value) for m in messages] == [(0, 5, b"after")]
    await source.close()

    reader = Consumer({**config, "group.id": group})
    committed = reader.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=30)
    reader.close()
    assert [tp.offset for tp in committed] == [5, 5]  # the message was read, never done


async def test_a_changelog_table_recovers_only_the_partitions_asked_for_with_deletes(
    kafka_bootstrap,
):
    config = {"bootstrap.servers": kafka_bootstrap}
    producer = OutputProducer(config)
    name = f"t-{uuid.uuid4().hex[:8]}"
    written = ChangelogTable(f"{name}-changelog", config, producer, partitions=2)
    written.create_topic()
    written.put(0, "partition/0/a", b"1")
    written.put(0, "partition/0/b", b"2")
    written.put(0, "partition/0/a", None)
    written.put(1, "partition/1/a", b"3")
    await producer.settle()

    recovered = ChangelogTable(f"{name}-changelog", config, producer, partitions=2)
    recovered.recover([0])
    assert recovered.data == {b"partition/0/b": b"2"}
    recovered.recover([1])
    assert recovered.keys_from("partition/") == ["partition/0/b", "partition/1/a"]
    recovered.forget([0])
    assert recovered.data == {b"partition/1/a": b"3"}
    producer.close()
