"""Readiness: the store is open and reachable, and the production context is current."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from streams import metrics
from streams.store.clickhouse import Store
from streams.worker.feeds import TopicFeed
from streams.worker.kafka_input import KafkaInput


@dataclass
class Readiness:
    """What the agents wait for and /health reports: the store, its reachability, the feeds."""

    store: Store | None = None
    needs_store: bool = True  # a compute process (--processes) has no store
    clickhouse_reachable: bool = True
    feeds: list[TopicFeed] = field(default_factory=list)
    input: KafkaInput | None = None  # the processors' input, in a process that computes
    sink_input: KafkaInput | None = None  # the sink's, in a process that stores

    @property
    def inputs(self) -> list[KafkaInput]:
        """The inputs this process reads."""
        return [i for i in (self.input, self.sink_input) if i is not None]

    _context_was_current: bool = False

    @property
    def context_current(self) -> bool:
        """The whole-topic feeds have started and read what their topics held then (once
        current, they stay so: cheap to ask per batch)."""
        if not self._context_was_current:
            self._context_was_current = bool(self.feeds) and all(
                feed.caught_up.is_set() for feed in self.feeds
            )
        return self._context_was_current

    async def wait_context(self) -> None:
        """Hold an agent until the production context and the sensor specs are current: input
        waiting in Kafka when a worker starts would otherwise be enriched with no context."""
        while not self.context_current:
            await asyncio.sleep(0.05)

    async def opened_store(self) -> Store:
        """The store, once it is open."""
        while self.store is None:
            await asyncio.sleep(0.2)
        return self.store

    def reachable(self, yes: bool) -> None:
        """Record whether ClickHouse takes inserts now."""
        self.clickhouse_reachable = yes
        metrics.CLICKHOUSE_REACHABLE.set(1 if yes else 0)

    @property
    def feed_events(self) -> int:
        """MES and spec events the feeds have applied."""
        return sum(feed.applied for feed in self.feeds)
