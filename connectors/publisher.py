"""The one Kafka producer every connector publishes through."""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import numpy as np
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from prometheus_client import Counter

from connectors.spool import DiskSpool
from schemas import topics
from schemas.binary import encode_batch
from schemas.codec import encode
from schemas.events import (
    IngestEvent,
    MachineState,
    PlcCounter,
    ProductionCount,
    SensorBatch,
    SensorReading,
    SensorSpec,
)
from schemas.exceptions import LinePulseError

log = logging.getLogger(__name__)
BatchFormat = Literal["binary", "json"]

PUBLISHED = Counter("linepulse_publisher_events_total", "Events delivered to Kafka", ["topic"])
FAILED = Counter("linepulse_publisher_failures_total", "Events Kafka did not accept", ["topic"])


class PublishError(LinePulseError):
    """Kafka did not acknowledge events before the deadline."""


def topic_for(event: IngestEvent) -> str:
    """The topic an ingest event is published on."""
    if isinstance(event, SensorReading):
        return topics.SENSOR_READINGS
    if isinstance(event, SensorBatch):
        return topics.SENSOR_BATCHES
    if isinstance(event, MachineState | ProductionCount | PlcCounter):
        return topics.MACHINE_EVENTS
    return topics.MES_EVENTS


def batch_bytes(batch: SensorBatch) -> bytes:
    """A sample batch as a binary batch of float32 samples; as JSON when a value does not fit
    in float32 (beyond ±3.4e38), so that no sample is changed into infinity."""
    with np.errstate(over="ignore"):
        samples = np.asarray(batch.values, dtype=np.float32)
    if not np.isfinite(samples).all():
        return encode(batch)
    return encode_batch(batch, samples)


def producer_config(base: dict[str, Any]) -> dict[str, Any]:
    """`base` with LinePulse's producer settings: idempotent, acks=all, lz4, large batches."""
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
    """Idempotent, acks=all, compressed producer keyed by asset.

    With a spool, messages Kafka could not take (broker away longer than the message timeout)
    go to disk; from then on new messages queue behind them in the spool, and `maintain`
    replays the spool in order once the broker answers, so each asset's order is kept.
    Without a spool, failures are counted, logged and kept in `failures`. Nothing is dropped
    silently.
    """

    def __init__(
        self,
        kafka_config: dict[str, Any],
        spool: DiskSpool | None = None,
        message_timeout_s: float | None = None,
        retry_every_s: float = 2.0,
        batch_format: BatchFormat = "binary",
    ) -> None:
        config = producer_config(kafka_config)
        if message_timeout_s is not None:
            config["message.timeout.ms"] = int(message_timeout_s * 1000)
        self._producer = Producer(config)
        self._probe = kafka_config
        self.spool = spool
        self.spooling = spool is not None and spool.size > 0
        self.retry_every_s = retry_every_s
        self.batch_format = batch_format
        self._last_try = 0.0
        self.delivered = 0
        self.failures: list[tuple[str, str]] = []

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        topic = message.topic() or "?"
        if error is None:
            self.delivered += 1
            PUBLISHED.labels(topic).inc()
            return
        FAILED.labels(topic).inc()
        if self.spool is not None:
            self.spooling = True
            if self.spool.append(topic, message.key(), message.value() or b""):
                return
        self.failures.append((topic, str(error)))
        log.error("kafka did not accept an event for %s: %s", topic, error)

    def _produce(self, topic: str, key: bytes | None, value: bytes, callback: Any) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=callback)
                return
            except BufferError:
                self._producer.poll(0.05)

    def send(self, topic: str, key: str, value: bytes) -> None:
        """Produce `value` on `topic` under `key`; while spooling, queue it in the spool instead."""
        if self.spooling and self.spool is not None:
            while len(self._producer) > 0:  # older messages reach Kafka or the spool first
                self._producer.poll(0.1)
            self.spool.append(topic, key.encode(), value)
        else:
            self._produce(topic, key.encode(), value, self._on_delivery)
        self._producer.poll(0)

    def publish(self, event: IngestEvent) -> None:
        """Publish an ingest event on its topic, keyed by its asset."""
        if isinstance(event, SensorBatch) and self.batch_format == "binary":
            self.send(topics.SENSOR_BATCHES, event.asset, batch_bytes(event))
        else:
            self.send(topic_for(event), event.asset, encode(event))

    def publish_spec(self, spec: SensorSpec) -> None:
        """Keyed by asset and sensor: the compacted topic keeps each sensor's latest spec."""
        self.send(topics.SENSOR_SPECS, spec.key, encode(spec))

    def _broker_answers(self) -> bool:
        try:
            self._producer.list_topics(timeout=2)
        except KafkaException:
            return False
        return True

    def maintain(self) -> None:
        """Serve delivery reports and, while spooling, try to replay the spool."""
        self._producer.poll(0)
        if not self.spooling or time.monotonic() - self._last_try < self.retry_every_s:
            return
        self._last_try = time.monotonic()
        self._replay()

    def _replay(self, batch: int = 5000) -> None:
        assert self.spool is not None
        while self.spooling and self._broker_answers():
            records = self.spool.take(batch)
            outcomes: list[bool | None] = [None] * len(records)

            for index, (topic, key, value) in enumerate(records):
                self._produce(topic, key, value, self._reporter(outcomes, index))
            self._producer.flush(60)
            sent = next((i for i, ok in enumerate(outcomes) if not ok), len(records))
            self.spool.done(sent)
            if sent < len(records):
                log.warning("replay of the spool stopped after %d messages; retrying later", sent)
                return
            if self.spool.size == 0:
                self.spooling = False
                log.info("spool replayed; publishing directly again")

    def _reporter(self, outcomes: list[bool | None], index: int) -> Any:
        def on_delivery(error: KafkaError | None, message: Message) -> None:
            """Record whether the replayed message at `index` was delivered."""
            outcomes[index] = error is None
            if error is None:
                self.delivered += 1
                PUBLISHED.labels(message.topic() or "?").inc()

        return on_delivery

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every message is acknowledged by Kafka, or safe in the spool."""
        remaining = self._producer.flush(timeout_s)
        if self.spooling:
            self._replay()
            remaining = self._producer.flush(timeout_s)
        if remaining:
            msg = (
                f"{remaining} events were not acknowledged by Kafka within {timeout_s:.0f} s; "
                "check that the broker is reachable"
            )
            raise PublishError(msg)
