"""Store and forward: the broker goes away for a while and every event still arrives, once, in
order per asset."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

import orjson
import pytest
from confluent_kafka import Consumer

from connectors.publisher import Publisher
from connectors.spool import SPOOLED, DiskSpool
from connectors.topics import ensure_topics
from schemas import topics
from schemas.events import SensorReading
from streams.commands.brokers import KafkaBroker

pytestmark = pytest.mark.integration


def read_all(bootstrap: str, expected: int, timeout_s: float = 60) -> list[dict]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.SENSOR_READINGS])
    values: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while len(values) < expected and time.monotonic() < deadline:
        for message in consumer.consume(500, 1.0):
            if not message.error():
                values.append(orjson.loads(message.value()))
    # anything beyond `expected` would be a duplicate: read a little longer
    for message in consumer.consume(500, 3.0):
        if not message.error():
            values.append(orjson.loads(message.value()))
    consumer.close()
    return values


def test_broker_outage_loses_nothing_and_keeps_order_per_asset(tmp_path):
    broker = KafkaBroker.create(tmp_path / "kafka")
    broker.start()
    try:
        ensure_topics({"bootstrap.servers": broker.bootstrap}, 2)
        spool = DiskSpool(tmp_path / "spool" / "publisher.jsonl", max_bytes=50_000_000)
        publisher = Publisher(
            {"bootstrap.servers": broker.bootstrap},
            spool=spool,
            message_timeout_s=4,
            retry_every_s=1,
        )
        assets = [f"out{i}/l1/s1/m1" for i in range(3)]
        spooled_before = SPOOLED._value.get()
        sent = 0
        started = time.monotonic()
        stopped = restarted = False
        while time.monotonic() - started < 40:
            elapsed = time.monotonic() - started
            if elapsed > 3 and not stopped:
                broker.stop()
                stopped = True
            if elapsed > 18 and not restarted:
                broker.start()
                restarted = True
            for asset in assets:
                publisher.publish(
                    SensorReading(
                        time=int(time.time() * 1000), asset=asset, sensor="seq", value=float(sent)
                    )
                )
            sent += 1
            publisher.maintain()
            time.sleep(0.05)
        assert publisher.spool is not None
        publisher.flush(60)
        assert not publisher.spooling
        assert len(spool) == 0
        assert publisher.failures == []
        assert SPOOLED._value.get() - spooled_before > 100  # the outage went through the spool
        received = read_all(broker.bootstrap, sent * len(assets))
    finally:
        broker.remove()
    by_asset: dict[str, list[float]] = defaultdict(list)
    for value in received:
        by_asset[value["asset"]].append(value["value"])
    for asset in assets:
        assert by_asset[asset] == [float(i) for i in range(sent)], asset
