"""A table of processor state kept in memory and in a compacted changelog topic, with a
changelog partition per input partition, so that whichever worker takes an input partition over
reads that partition's state back before it processes any of its messages.

The topic is `<app id>-<table>-changelog`, the name Faust gave its tables' changelogs, so that
state written by earlier versions of the worker is read back as it is.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.settings import KafkaSettings
from streams.worker.producer import OutputProducer

log = logging.getLogger(__name__)

RETRY_S = 2.0  # between attempts to read a changelog while the broker is away


class ChangelogTable:
    """Keys to bytes, each key in the changelog partition of the input partition it belongs
    to. `put` queues the change on the producer: it is in Kafka once the producer has settled."""

    def __init__(
        self,
        topic: str,
        kafka_config: dict[str, Any],
        producer: OutputProducer,
        partitions: int,
        replication_factor: int = 1,
    ) -> None:
        self.topic = topic
        self.kafka_config = kafka_config
        self.producer = producer
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.data: dict[bytes, bytes] = {}
        self._keys_of: dict[int, set[bytes]] = {}  # the keys of each recovered partition

    @classmethod
    def named(
        cls, app_id: str, table: str, kafka: KafkaSettings, producer: OutputProducer
    ) -> ChangelogTable:
        """The table `table` of application `app_id` on the brokers of `kafka` (its settings)."""
        return cls(
            f"{app_id}-{table}-changelog",
            kafka.confluent_config(),
            producer,
            kafka.partitions,
            kafka.replication_factor,
        )

    def create_topic(self) -> None:
        """Create the compacted changelog topic unless it exists."""
        admin = AdminClient(self.kafka_config)
        if self.topic in admin.list_topics(timeout=30).topics:
            return
        topic = NewTopic(
            self.topic,
            self.partitions,
            self.replication_factor,
            config={"cleanup.policy": "compact"},
        )
        try:
            admin.create_topics([topic])[self.topic].result(timeout=30)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise

    def recover(self, partitions: Iterable[int]) -> None:
        """Read the state of `partitions` back from the changelog, replacing what was held;
        waits while the broker cannot be reached."""
        wanted = sorted(set(partitions))
        if not wanted:
            return
        while True:
            try:
                found = self._read(wanted)
                break
            except KafkaException as exc:
                log.warning("cannot read %s yet, retrying: %s", self.topic, exc)
                time.sleep(RETRY_S)
        self.forget(wanted)
        for partition, values in found.items():
            self.data.update(values)
            self._keys_of[partition] = set(values)

    def _read(self, partitions: list[int]) -> dict[int, dict[bytes, bytes]]:
        consumer = Consumer(
            {
                **self.kafka_config,
                "group.id": f"linepulse-recovery-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        try:
            return self._read_with(consumer, partitions)
        finally:
            consumer.close()

    def _read_with(
        self, consumer: Consumer, partitions: list[int]
    ) -> dict[int, dict[bytes, bytes]]:
        found: dict[int, dict[bytes, bytes]] = {p: {} for p in partitions}
        reading = set()
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=30
            )
            if high > low:
                reading.add(partition)
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in reading])
        while reading:
            for record in consumer.consume(10_000, 1.0):
                error = record.error()
                partition = record.partition() or 0
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(error)
                    reading.discard(partition)
                    continue
                key = record.key() or b""
                value = record.value()
                if value is None:
                    found[partition].pop(key, None)
                else:
                    found[partition][key] = value
        return found

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the state of `partitions` (revoked from this worker)."""
        for partition in partitions:
            for key in self._keys_of.pop(partition, set()):
                self.data.pop(key, None)

    def get(self, key: str) -> bytes | None:
        """The value held for `key`, or None."""
        return self.data.get(key.encode())

    def keys_from(self, prefix: str) -> list[str]:
        """The keys held that start with `prefix`."""
        raw = prefix.encode()
        return [k.decode() for k in self.data if k.startswith(raw)]

    def put(self, partition: int, key: str, value: bytes | None) -> None:
        """Hold `value` for `key` and queue it for changelog partition `partition` (None
        deletes it)."""
        raw_key = key.encode()
        if value is None:
            self.data.pop(raw_key, None)
            self._keys_of.get(partition, set()).discard(raw_key)
        else:
            self.data[raw_key] = value
            self._keys_of.setdefault(partition, set()).add(raw_key)
        self.producer.produce_now(self.topic, raw_key, value, partition)
