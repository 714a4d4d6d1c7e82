"""The sink's handler: every stored topic's events go to ClickHouse in batches, read in a
group of their own (`<app id>-store`); a batch is done only after its insert."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas import topics
from schemas.events import now_ms
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.core.context import ContextBook
from streams.processors.protocol import Message, dead_letter_of
from streams.settings import WorkerSettings
from streams.store.clickhouse import StoreError
from streams.store.exactly_once import once_each
from streams.store.sink import SINK_OWNED_TOPICS, SINK_TOPICS, BatchResult, Sink
from streams.worker.kafka_input import KafkaInput
from streams.worker.outbox import Counters, Outbox
from streams.worker.readiness import Readiness

log = logging.getLogger(__name__)


@dataclass
class SinkHandler:
    """Stores each batch of the stored topics, dead-letters what the store refused."""

    source: KafkaInput
    context: ContextBook
    worker: WorkerSettings
    readiness: Readiness
    shared: tuple[Outbox, Counters]
    sink: Sink | None = None

    @property
    def topics(self) -> frozenset[str]:
        """The stored topics."""
        return frozenset(SINK_TOPICS)

    async def take_up(self, partitions: set[int]) -> None:
        """Nothing to recover: the store holds what was stored."""

    def forget(self, partitions: Iterable[int]) -> None:
        """Nothing to forget."""

    async def ready(self) -> None:
        """Hold the first batch until the store is open, and every batch until the production
        context is current."""
        if self.sink is None:
            store = await self.readiness.opened_store()
            self.sink = Sink(
                store, self.context, self.worker.time_limits(), on_retry=self._unreachable
            )
        await self.readiness.wait_context()

    def _unreachable(self, error: StoreError) -> None:
        """Record that ClickHouse cannot be reached (the sink waits and retries)."""
        self.readiness.reachable(False)
        metrics.SINK_RETRIES.inc()

    async def step(self, batch: Sequence[Message]) -> None:
        """Store one batch; returns once its rows are in ClickHouse and its dead letters in
        Kafka."""
        assert self.sink is not None, "ready() opens the sink"
        outbox, counters = self.shared
        messages = once_each(list(batch))
        for topic, count in Counter(m.topic for m in messages).items():
            metrics.EVENTS_IN.labels("sink", topic).inc(count)
        ends = await self.source.ends({(m.topic, m.partition) for m in messages})
        result = await asyncio.to_thread(self.sink.write, messages, ends)
        self.readiness.reachable(True)
        counters.add("sink_rows", result.rows)
        await _dead_letter_refused(outbox, messages, result)
        await outbox.settle()


async def _dead_letter_refused(
    outbox: Outbox, messages: list[Message], result: BatchResult
) -> None:
    """Dead-letter what the sink refused on the topics it owns, and what ClickHouse refused."""
    now = now_ms()
    for index, error in result.undecodable.items():
        if messages[index].topic in SINK_OWNED_TOPICS:
            await outbox.dead_letter(dead_letter_of(messages[index], error, now), error)
    for index, reason in result.refused.items():
        message = messages[index]
        if message.topic == topics.DEAD_LETTERS:
            # it stays on the dead-letter topic; sending it there again would loop
            log.error("dead letter %s[%s]@%s not stored: %s", *message.where, reason)
            continue
        refused = InvalidEventError(f"not stored: {reason}", "store_refused")
        await outbox.dead_letter(dead_letter_of(message, refused, now), refused)
