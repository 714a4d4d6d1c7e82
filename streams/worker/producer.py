"""The worker's outputs and its tables' changelogs go to Kafka through librdkafka
(confluent-kafka), not Faust's pure-Python producer: encoding requests and buffering in Python
took a fifth of the worker's main thread for the outputs, a third for the changelogs. A step
settles its outputs before it writes the snapshot they came from, and settles the snapshot
before its inputs count as done."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from connectors.publisher import producer_config
from streams import metrics

log = logging.getLogger(__name__)

WAITING_LOG_S = 30.0  # how often a settle held up by an unreachable broker says so
STOP_WAIT_S = 10.0  # how long a stopping worker waits for its last outputs


class OutputProducer:
    """Idempotent, acks=all, keyed like the Java client (murmur2), retried for as long as the
    broker is away: a step's outputs are all acknowledged before its inputs count as done.
    Made at first use, so building the worker connects to nothing."""

    def __init__(self, kafka_config: dict[str, Any]) -> None:
        self.config = {
            **producer_config(kafka_config),
            "linger.ms": 5,
            "message.timeout.ms": 0,  # never give up on a message while the broker is away
        }
        self._producer: Producer | None = None
        self._stopping = threading.Event()
        self.refused = 0

    @property
    def producer(self) -> Producer:
        """The librdkafka producer."""
        if self._producer is None:
            self._producer = Producer(self.config)
        return self._producer

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._refuse(message.topic() or "?", error.str())

    def _refuse(self, topic: str, reason: str) -> None:
        self.refused += 1
        metrics.OUTPUTS_REFUSED.labels(topic).inc()
        log.error("Kafka refused an output on %s: %s", topic, reason)

    async def send(self, topic: str, key: bytes, value: bytes, partition: int | None) -> None:
        """Queue one message; while librdkafka's queue is full, wait for it to drain."""
        chosen = -1 if partition is None else partition  # -1: by the key's hash
        while not self._queued(topic, key, value, chosen):
            await asyncio.to_thread(self.producer.poll, 0.1)

    def produce_now(self, topic: str, key: bytes, value: bytes | None, partition: int) -> None:
        """Queue one message from code that cannot await (a processor's model checkpoint, a
        snapshot); while librdkafka's queue is full, block until it drains."""
        while not self._queued(topic, key, value, partition):
            self.producer.poll(0.1)

    def _queued(self, topic: str, key: bytes, value: bytes | None, partition: int) -> bool:
        """Queue one message; False while librdkafka's queue is full (a message Kafka refuses
        outright is counted and logged, and is not retried)."""
        try:
            self.producer.produce(topic, value, key, partition, on_delivery=self._on_delivery)
        except BufferError:
            return False
        except KafkaException as refused:  # e.g. larger than the producer may send
            self._refuse(topic, refused.args[0].str())
            return True
        self.producer.poll(0)  # serve delivery reports as they come, not only at settle
        return True

    @property
    def pending(self) -> int:
        """Messages queued and not yet acknowledged (and librdkafka's own pending requests)."""
        return len(self._producer) if self._producer is not None else 0

    async def settle(self) -> None:
        """Wait until every message sent so far is acknowledged (or refused for good); raises
        OutputsNotSent when the worker stops with messages the broker has not taken."""
        if self.pending:
            await asyncio.to_thread(self._until_flushed)

    def _until_flushed(self) -> None:
        waited = 0.0
        while self.producer.flush(1.0) > 0:
            waited += 1.0
            if self._stopping.is_set() and waited >= STOP_WAIT_S:
                # the step's inputs are not done: its snapshot is not saved
                unsent = f"{self.pending} outputs not acknowledged at stop"
                raise OutputsNotSent(unsent)
            if waited % WAITING_LOG_S == 0:
                log.warning("%d outputs wait for Kafka (%.0f s so far)", self.pending, waited)

    def close(self) -> None:
        """Send what is left, waiting at most STOP_WAIT_S for an unreachable broker."""
        self._stopping.set()
        if self._producer is not None and self._producer.flush(STOP_WAIT_S) > 0:
            log.warning("%d outputs not sent at stop: their inputs are read again", self.pending)


class OutputsNotSent(RuntimeError):
    """The worker stopped before Kafka acknowledged a step's outputs."""
