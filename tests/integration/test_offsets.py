import asyncio
import time
import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from faust.types import TP

from streams.worker.offsets import EndOffsets


async def test_end_offsets_are_the_brokers_current_ends(kafka_bootstrap):
    topic = f"ends-{uuid.uuid4().hex[:8]}"
    config = {"bootstrap.servers": kafka_bootstrap}
    admin = AdminClient(config)
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    ends = EndOffsets(config)
    partitions = [TP(topic, 0), TP(topic, 1)]
    deadline = time.monotonic() + 30
    while None in (found := await ends.latest(partitions)).values():  # leaders being elected
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.2)
    assert found == {TP(topic, 0): 0, TP(topic, 1): 0}

    producer = Producer(config)
    for i in range(7):
        producer.produce(topic, b"x", partition=0 if i < 5 else 1)
    producer.flush(30)
    assert await ends.latest(partitions) == {TP(topic, 0): 5, TP(topic, 1): 2}


async def test_a_partition_the_broker_does_not_have_has_no_end(kafka_bootstrap):
    ends = EndOffsets({"bootstrap.servers": kafka_bootstrap}, timeout_s=3)
    missing = TP(f"missing-{uuid.uuid4().hex[:8]}", 0)
    assert await ends.latest([missing]) == {missing: None}
