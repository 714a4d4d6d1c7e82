"""Feeds every worker's context book from the whole MES topic.

Each worker needs the context of every asset it scores or stores, whichever partitions it owns,
so a plain consumer outside the consumer group reads all partitions of the MES topic, from
`lookback_s` ago (the oldest event time the pipeline accepts) and then as events come.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from schemas import topics
from schemas.codec import decode_mes
from schemas.exceptions import InvalidEventError
from streams.context import ContextBook

log = logging.getLogger(__name__)


class ContextFeed:
    def __init__(self, book: ContextBook, kafka_config: dict[str, Any], lookback_s: float) -> None:
        self.book = book
        self.lookback_s = lookback_s
        self._config = {
            **kafka_config,
            "group.id": f"linepulse-context-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
        self._stop = threading.Event()
        self.caught_up = threading.Event()
        self.applied = 0
        self._thread = threading.Thread(target=self._run, name="context-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _assign(self, consumer: Consumer) -> dict[int, int]:
        """Assign every partition from `lookback_s` ago; returns the end offsets to catch up to."""
        metadata = consumer.list_topics(topics.MES_EVENTS, timeout=10)
        partitions = sorted(metadata.topics[topics.MES_EVENTS].partitions)
        since_ms = int((time.time() - self.lookback_s) * 1000)
        wanted = [TopicPartition(topics.MES_EVENTS, p, since_ms) for p in partitions]
        starts = consumer.offsets_for_times(wanted, timeout=10)
        consumer.assign(
            [
                tp if tp.offset >= 0 else TopicPartition(tp.topic, tp.partition, OFFSET_END)
                for tp in starts
            ]
        )
        ends = {}
        for tp in starts:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            start = tp.offset if tp.offset >= 0 else high
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
                self._apply(message.value() or b"")
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
                log.warning("context feed cannot read %s yet: %s", topics.MES_EVENTS, exc)
                self._stop.wait(2)
        return {}

    def _apply(self, value: bytes) -> None:
        try:
            event = decode_mes(value)
        except InvalidEventError:
            return  # the OEE agent dead-letters it
        if self.book.apply(event):
            self.applied += 1
