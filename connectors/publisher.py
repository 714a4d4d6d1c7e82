"""The one Kafka producer every connector publishes through."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from prometheus_client import Counter

from schemas import topics
from schemas.codec import encode
from schemas.events import (
    IngestEvent,
    MachineState,
    PlcCounter,
    ProductionCount,
    SensorBatch,
    SensorReading,
)
from schemas.exceptions import LinePulseError

log = logging.getLogger(__name__)

PUBLISHED = Counter("linepulse_publisher_events_total", "Events delivered to Kafka", ["topic"])
FAILED = Counter("linepulse_publisher_failures_total", "Events Kafka did not accept", ["topic"])


class PublishError(LinePulseError):
    """Kafka did not acknowledge events before the deadline."""


def topic_for(event: IngestEvent) -> str:
    if isinstance(event, SensorReading):
        return topics.SENSOR_READINGS
    if isinstance(event, SensorBatch):
        return topics.SENSOR_BATCHES
    if isinstance(event, MachineState | ProductionCount | PlcCounter):
        return topics.MACHINE_EVENTS
    return topics.MES_EVENTS


def producer_config(base: dict[str, Any]) -> dict[str, Any]:
    return {
        **base,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "message.max.bytes": 8 * 1024 * 1024,
        "partitioner": "murmur2_random",
        "queue.buffering.max.kbytes": 262_144,
    }


class Publisher:
    """Idempotent, acks=all, compressed producer keyed by asset. Failures are counted, logged
    and kept in `failures`; nothing is dropped silently."""

    def __init__(self, kafka_config: dict[str, Any]) -> None:
        self._producer = Producer(producer_config(kafka_config))
        self.delivered = 0
        self.failures: list[tuple[str, str]] = []

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        topic = message.topic() or "?"
        if error is None:
            self.delivered += 1
            PUBLISHED.labels(topic).inc()
            return
        FAILED.labels(topic).inc()
        self.failures.append((topic, str(error)))
        log.error("kafka did not accept an event for %s: %s", topic, error)

    def send(self, topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key.encode(), on_delivery=self._on_delivery
                )
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def publish(self, event: IngestEvent) -> None:
        self.send(topic_for(event), event.asset, encode(event))

    def flush(self, timeout_s: float = 30.0) -> None:
        remaining = self._producer.flush(timeout_s)
        if remaining:
            msg = (
                f"{remaining} events were not acknowledged by Kafka within {timeout_s:.0f} s; "
                "check that the broker is reachable"
            )
            raise PublishError(msg)
