"""Whole-topic feeds: every worker reads a small topic in full, outside the consumer group.

Each worker needs the production context and the sensor specs of every asset it scores or
stores, whichever partitions it owns, so a plain consumer reads all partitions of the topic:
from `lookback_s` ago (MES events: the oldest event time the pipeline accepts) or from the
start (compacted sensor specs), and then as messages come.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition

from schemas import topics
from schemas.codec import decode_any, decode_mes
from schemas.events import SensorSpec
from schemas.exceptions import InvalidEventError
from streams.core.context import ContextBook
from streams.core.plans import GroupPlans
from streams.core.sensor_health import SpecBook

log = logging.getLogger(__name__)


class TopicFeed:
    """Reads all of `topic` into `apply` (which returns whether the message was used)."""

    def __init__(
        self,
        topic: str,
        apply: Callable[[bytes], bool],
        kafka_config: dict[str, Any],
        lookback_s: float | None,
    ) -> None:
        self.topic = topic
        self.apply = apply
        self.lookback_s = lookback_s
        self._config = {
            **kafka_config,
            "group.id": f"linepulse-feed-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
        self._stop = threading.Event()
        self.caught_up = threading.Event()
        self.applied = 0
        self._thread = threading.Thread(target=self._run, name=f"feed-{topic}", daemon=True)

    def start(self) -> None:
        """Start reading in a thread of its own."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the consumer."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _starts(self, consumer: Consumer, partitions: list[int]) -> list[TopicPartition]:
        if self.lookback_s is None:
            return [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions]
        since_ms = int((time.time() - self.lookback_s) * 1000)
        wanted = [TopicPartition(self.topic, p, since_ms) for p in partitions]
        found = consumer.offsets_for_times(wanted, timeout=10)
        return [
            tp if tp.offset >= 0 else TopicPartition(tp.topic, tp.partition, OFFSET_END)
            for tp in found
        ]

    def _assign(self, consumer: Consumer) -> dict[int, int]:
        """Assign every partition; returns the end offsets to catch up to."""
        metadata = consumer.list_topics(self.topic, timeout=10)
        partitions = sorted(metadata.topics[self.topic].partitions)
        starts = self._starts(consumer, partitions)
        consumer.assign(starts)
        ends = {}
        for tp in starts:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            start = (
                tp.offset if tp.offset >= 0 else (low if tp.offset == OFFSET_BEGINNING else high)
            )
            if high > max(start, low):
                ends[tp.partition] = high
        return ends

    def _run(self) -> None:
        consumer = Consumer(self._config)
        try:
            ends = self._assign_until_reachable(consumer)
            while not self._stop.is_set():
                message = consumer.poll(0.5)
                if not ends:
                    self.caught_up.set()
                if message is None or message.error():
                    continue
                if self.apply(message.value() or b""):
                    self.applied += 1
                partition, offset = message.partition() or 0, message.offset() or 0
                if partition in ends and offset + 1 >= ends[partition]:
                    del ends[partition]
        finally:
            consumer.close()

    def _assign_until_reachable(self, consumer: Consumer) -> dict[int, int]:
        while not self._stop.is_set():
            try:
                return self._assign(consumer)
            except (KafkaException, KeyError) as exc:
                log.warning("feed cannot read %s yet: %s", self.topic, exc)
                self._stop.wait(2)
        return {}


def context_feed(
    book: ContextBook, plans: GroupPlans, kafka_config: dict[str, Any], lookback_s: float
) -> TopicFeed:
    """The MES topic into the production context and the plans sent on group assets."""

    def apply(value: bytes) -> bool:
        """Apply one message; whether it was used."""
        try:
            event = decode_mes(value)
        except InvalidEventError:
            return False  # the OEE agent dead-letters it
        planned = plans.apply(event)
        return book.apply(event) or planned

    return TopicFeed(topics.MES_EVENTS, apply, kafka_config, lookback_s)


def spec_feed(book: SpecBook, kafka_config: dict[str, Any]) -> TopicFeed:
    """The sensor-spec topic into the spec book."""

    def apply(value: bytes) -> bool:
        """Apply one message; whether it was used."""
        try:
            event = decode_any(value)
        except InvalidEventError:
            return False  # the sink dead-letters it
        if not isinstance(event, SensorSpec):
            return False
        book.put(event)
        return True

    return TopicFeed(topics.SENSOR_SPECS, apply, kafka_config, None)
