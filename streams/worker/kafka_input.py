"""An input of the worker (the processors', the sink's): one librdkafka consumer in a group.

Faust's consumer is pure Python (aiokafka): fetching, decoding records and handing them one by
one through its stream queues took most of a worker's main thread. Here librdkafka fetches in
its own threads and `consume` hands over up to a batch of messages in one call.

Offsets are done only once a batch's outputs and snapshots are in Kafka: the offsets of a batch
are stored after its handlers return, and librdkafka commits stored offsets on its interval and
when partitions are revoked. Every call on the consumer runs in one thread of its own, so the
rebalance callbacks (which librdkafka runs inside `consume`) never meet a batch half done.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaException, TopicPartition
from confluent_kafka import Message as KafkaMessage

from streams.processors.protocol import Message

log = logging.getLogger(__name__)

TopicPart = tuple[str, int]


@dataclass
class Changes:
    """The partitions taken up and given away since the last look: handlers recover the state
    of the first before any of their messages, and forget that of the second."""

    assigned: set[TopicPart] = field(default_factory=set)
    revoked: set[TopicPart] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.assigned or self.revoked)


class KafkaInput:
    """A consumer of `topics` in group `group_id`, read in batches."""

    def __init__(
        self,
        kafka_config: dict[str, Any],
        group_id: str,
        topics: Iterable[str],
        offset_reset: str = "earliest",
        commit_interval_s: float = 2.8,
    ) -> None:
        self.topics = sorted(set(topics))
        self.group_id = group_id
        self.offset_reset = offset_reset
        self.config = {
            **kafka_config,
            "group.id": group_id,
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,  # stored once a batch is done
            "auto.commit.interval.ms": int(commit_interval_s * 1000),
            "auto.offset.reset": offset_reset,
            "partition.assignment.strategy": "range",  # co-partitioned topics stay together
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 3_000,
            "max.poll.interval.ms": 600_000,
            "max.partition.fetch.bytes": 16 * 1024 * 1024,
            "fetch.max.bytes": 64 * 1024 * 1024,
        }
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"input-{group_id}")
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()  # the rebalance callbacks write, the event loop reads
        self._changes = Changes()
        self.assignment: set[TopicPart] = set()
        self.starts: dict[TopicPart, int] = {}  # where reading of each partition began
        self._next: dict[TopicPart, int] = {}  # the next offset a handler is due, per partition
        self.closed = False

    async def _call(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def start(self) -> None:
        """Join the group (the first assignment comes with a later `consume`)."""
        await self._call(self._subscribe)

    def _subscribe(self) -> None:
        self._consumer = Consumer(self.config)
        self._consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Place every partition at its committed offset, or where the reset policy puts a
        partition with none, and commit that start: whoever reads the partition next starts
        there too, whatever the consumer had fetched."""
        placed, unplaced = self._placed(consumer, partitions)
        consumer.assign(placed)
        if unplaced:
            consumer.commit(offsets=unplaced, asynchronous=False)
        with self._lock:
            for tp in placed:
                key = (tp.topic, tp.partition)
                self.assignment.add(key)
                self.starts[key] = tp.offset
                self._next[key] = tp.offset
                self._changes.assigned.add(key)  # a revocation before it stays: forget first
        log.info("input partitions assigned: %s", _listed(placed))

    def _placed(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> tuple[list[TopicPartition], list[TopicPartition]]:
        """The partitions at their start offsets, and those of them with no committed offset."""
        placed, unplaced = [], []
        for tp in consumer.committed(partitions, timeout=30):
            if tp.offset >= 0:
                placed.append(TopicPartition(tp.topic, tp.partition, tp.offset))
                continue
            low, high = consumer.get_watermark_offsets(tp, timeout=30)
            start = TopicPartition(
                tp.topic, tp.partition, low if self.offset_reset == "earliest" else high
            )
            placed.append(start)
            unplaced.append(start)
        return placed, unplaced

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is done before the partitions go (every batch before this call is)."""
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:  # nothing stored since the last commit
            log.debug("nothing to commit at revocation: %s", exc)
        with self._lock:
            for tp in partitions:
                key = (tp.topic, tp.partition)
                self.assignment.discard(key)
                self.starts.pop(key, None)
                self._next.pop(key, None)
                self._changes.revoked.add(key)
                self._changes.assigned.discard(key)
        log.info("input partitions revoked: %s", _listed(partitions))

    def changes(self) -> Changes:
        """The partitions assigned and revoked since the last call."""
        with self._lock:
            found, self._changes = self._changes, Changes()
        return found

    async def consume(self, most: int, timeout_s: float) -> list[Message]:
        """Up to `most` messages, waiting at most `timeout_s` for the first: only those of
        partitions assigned now, each offset once (a rebalance inside the call can leave
        messages fetched before it in the batch)."""
        raw = await self._call(self._consume, most, timeout_s)
        return self._admitted(raw)

    def _consume(self, most: int, timeout_s: float) -> list[KafkaMessage]:
        assert self._consumer is not None, "start() the input first"
        return self._consumer.consume(most, timeout_s)

    def _admitted(self, raw: list[KafkaMessage]) -> list[Message]:
        admitted = []
        with self._lock:
            for record in raw:
                error = record.error()
                if error is not None:
                    log.warning("input: %s", error.str())
                    continue
                key = (record.topic() or "", record.partition() or 0)
                offset = record.offset() or 0
                due = self._next.get(key)
                if due is None or offset < due:
                    continue
                self._next[key] = offset + 1
                kind, stamp = record.timestamp()
                admitted.append(
                    Message(
                        key[0],
                        key[1],
                        offset,
                        record.value() or b"",
                        record.key(),
                        stamp if kind != TIMESTAMP_NOT_AVAILABLE else None,
                    )
                )
        return admitted

    async def done(self, messages: list[Message]) -> None:
        """The handlers are finished with `messages`: their offsets may be committed."""
        last: dict[TopicPart, int] = {}
        for message in messages:
            last[(message.topic, message.partition)] = message.offset
        if last:
            await self._call(self._store, last)

    def _store(self, last: dict[TopicPart, int]) -> None:
        assert self._consumer is not None
        held = [
            TopicPartition(topic, partition, offset + 1)
            for (topic, partition), offset in last.items()
            if (topic, partition) in self.assignment
        ]
        if not held:
            return
        try:
            self._consumer.store_offsets(offsets=held)
        except KafkaException as exc:  # e.g. the group moved on while a batch waited
            log.warning("offsets not stored, the batch is read again: %s", exc.args[0].str())

    async def ends(self, partitions: Iterable[TopicPart]) -> dict[TopicPart, int]:
        """The end offsets of `partitions` as of the consumer's last fetch of each (those it
        has not fetched yet are left out)."""
        return await self._call(self._ends, list(partitions))

    def _ends(self, partitions: list[TopicPart]) -> dict[TopicPart, int]:
        assert self._consumer is not None
        found = {}
        for topic, partition in partitions:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), cached=True
            )
            if high >= 0:
                found[(topic, partition)] = high
        return found

    def holds(self, topic: str, partition: int) -> bool:
        """Whether `partition` of `topic` is assigned to this consumer now."""
        return (topic, partition) in self.assignment

    def start_of(self, topic: str, partition: int) -> int | None:
        """The offset reading of the partition began at, while it is assigned here."""
        return self.starts.get((topic, partition))

    async def close(self) -> None:
        """Commit what is done and leave the group."""
        if self._consumer is not None and not self.closed:
            self.closed = True
            await self._call(self._close)
        self._executor.shutdown(wait=False)

    def _close(self) -> None:
        assert self._consumer is not None
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            log.debug("nothing to commit at close: %s", exc)
        self._consumer.close()


def _listed(partitions: Iterable[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in partitions) or "none"
