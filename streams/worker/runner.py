"""Runs a processor over batches of its input: call the processor, send its outputs, save its
snapshots. Nothing here knows what the processor computes."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson

from schemas import topics
from schemas.events import now_ms
from streams import metrics
from streams.processors.protocol import Message, Outputs, Processor, processing_error
from streams.worker.changelog import ChangelogTable
from streams.worker.offsets import InputProgress
from streams.worker.outbox import Outbox
from streams.worker.snapshots import PartitionSnapshots

log = logging.getLogger(__name__)


def tick_time(value: bytes) -> int:
    """The time of a window tick message."""
    return int(orjson.loads(value)["time"])


@dataclass
class ProcessorAgent:
    """The shell of one processor: recovers its tables for the partitions it takes up, restores
    a partition on first sight, runs batches and ticks in their order per partition, delivers
    the outputs, then saves the snapshots."""

    name: str
    processor: Processor
    snapshots: PartitionSnapshots
    outbox: Outbox
    progress: InputProgress
    topics: frozenset[str]  # what it reads: the processor's inputs, and the ticks
    tables: tuple[ChangelogTable, ...] = field(default=())  # besides the snapshots' table

    async def take_up(self, partitions: set[int]) -> None:
        """Partitions newly assigned: read their state back from the changelogs."""
        for table in (self.snapshots.table, *self.tables):
            await asyncio.to_thread(table.recover, partitions)

    async def step(self, messages: Sequence[Message]) -> None:
        """One batch: ticks wake the processor after the messages before them."""
        now = now_ms()
        pending: dict[int, list[Message]] = defaultdict(list)
        touched: set[int] = set()
        per_topic: Counter[str] = Counter()
        with metrics.PROCESSING_SECONDS.labels(self.name).time():
            for message in messages:
                per_topic[message.topic] += 1
                if message.partition not in touched:
                    self._take_up(message.partition)
                    touched.add(message.partition)
                if message.topic == topics.WINDOW_TICKS:
                    await self._process(pending.pop(message.partition, []), now)
                    await self._tick(message.partition, tick_time(message.value))
                else:
                    pending[message.partition].append(message)
            for messages in pending.values():
                await self._process(messages, now)
            await self.outbox.settle()  # outputs are in Kafka before the state that made them
            for partition in touched:
                self.snapshots.save(partition, self.processor.snapshot(partition))
            await self.outbox.settle()  # the snapshots are in Kafka before the inputs are done
        for topic, count in per_topic.items():
            metrics.EVENTS_IN.labels(self.name, topic).inc(count)

    def _take_up(self, partition: int) -> None:
        if not self.processor.holds(partition):
            self.processor.restore(partition, self.snapshots.load(partition))

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions revoked from this worker: their state is restored again if they return."""
        gone = set(partitions)
        for partition in gone:
            self.processor.forget(partition)
        for table in (self.snapshots.table, *self.tables):
            table.forget(gone)

    async def _process(self, messages: list[Message], now: int) -> None:
        if not messages:
            return
        try:
            outputs = self.processor.process(messages, now)
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the stream
            log.exception("%s failed on a batch of %d messages", self.name, len(messages))
            outputs = Outputs()
            error = processing_error(exc)
            for message in messages:
                outputs.dead_letter(message, error, now)
        await self.outbox.deliver(outputs)

    async def _tick(self, partition: int, tick_ms: int) -> None:
        applied = self.processor.applied(partition)
        lagging = await self.progress.lagging(partition, applied, self.processor.inputs)
        try:
            outputs = self.processor.tick(partition, tick_ms, lagging)
        except Exception:  # noqa: BLE001 - a bug must not stop the stream
            log.exception("%s failed on the tick of partition %d", self.name, partition)
            return
        await self.outbox.deliver(outputs)
