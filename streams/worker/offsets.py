"""Where the consumer stands in its input: ends of partitions and where reading began.

The consumer's own end figure for a partition is as old as its last fetch of that partition, and
asking the consumer anything waits behind its fetch (half a second, longer while a partition has
no position yet). The admin client answers ends in milliseconds, and start positions are found
in the background, so that an agent asking never stalls its stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from faust.types import TP

from streams import metrics

log = logging.getLogger(__name__)


class EndOffsets:
    """Partition ends from the broker, through the admin client."""

    def __init__(self, kafka_config: dict[str, Any], timeout_s: float = 5.0) -> None:
        self.kafka_config = kafka_config
        self.timeout_s = timeout_s
        self._admin: AdminClient | None = None

    @property
    def admin(self) -> AdminClient:
        """The admin client, made at first use (building the app connects to nothing)."""
        if self._admin is None:
            self._admin = AdminClient(self.kafka_config)
        return self._admin

    async def latest(self, partitions: list[TP]) -> dict[TP, int | None]:
        """The offset the next record of each partition will get; None where the broker did not
        answer in time."""
        request = {TopicPartition(tp.topic, tp.partition): OffsetSpec.latest() for tp in partitions}
        futures = self.admin.list_offsets(request, request_timeout=self.timeout_s)
        ends: dict[TP, int | None] = {}
        for asked, future in futures.items():
            tp = TP(asked.topic, asked.partition)
            try:
                ends[tp] = (await asyncio.wrap_future(future)).offset
            except KafkaException:
                ends[tp] = None
        return ends


class StartPositions:
    """The consumer's position in each partition when it was assigned, found in the background
    (later positions include records fetched but not yet processed)."""

    def __init__(
        self, position: Callable[[TP], Awaitable[int | None]], timeout_s: float = 10.0
    ) -> None:
        self._position = position
        self.timeout_s = timeout_s
        self.known: dict[TP, int] = {}
        self._pending: dict[TP, asyncio.Task[None]] = {}
        self._generation = 0

    def reset(self, partitions: Iterable[TP]) -> None:
        """A new assignment: forget every position and start finding those of `partitions`."""
        self._generation += 1
        self.known.clear()
        for task in self._pending.values():
            task.cancel()
        self._pending.clear()
        for tp in partitions:
            self._find(tp)

    def get(self, tp: TP) -> int | None:
        """The start position, or None while it is being found."""
        if tp in self.known:
            return self.known[tp]
        if tp not in self._pending:
            self._find(tp)
        return None

    def _find(self, tp: TP) -> None:
        self._pending[tp] = asyncio.ensure_future(self._ask(tp, self._generation))

    async def _ask(self, tp: TP, generation: int) -> None:
        while generation == self._generation:
            try:
                position = await asyncio.wait_for(self._position(tp), self.timeout_s)
            except Exception as exc:  # noqa: BLE001 - not known yet: asked again
                log.debug("position of %s not known yet: %s", tp, exc)
                position = None
            if generation != self._generation:
                return
            if position is not None:
                self.known[tp] = position
                self._pending.pop(tp, None)
                return
            await asyncio.sleep(1)


class InputProgress:
    """How far this worker has read its input partitions, from the broker's ends and the
    positions where reading began."""

    def __init__(self, ends: EndOffsets, starts: StartPositions) -> None:
        self.ends = ends
        self.starts = starts

    async def lagging(
        self, partition: int, applied: Mapping[str, int], names: Iterable[str]
    ) -> frozenset[str]:
        """The topics of `names` whose `partition` this worker has not read to the end the
        broker gives now (`applied`: the last offset processed per topic): silence is only
        silence once the worker has read everything. A topic with nothing processed yet is read
        when its end is where the consumer started reading it (a worker that started at the end
        of the topic, or reads nothing new there)."""
        partitions = [TP(topic, partition) for topic in names]
        ends = await self.ends.latest(partitions)
        behind = set()
        for tp in partitions:
            end = ends.get(tp)
            if tp.topic in applied:
                next_offset: int | None = applied[tp.topic] + 1
            else:
                next_offset = self.starts.get(tp)
            if end is None or next_offset is None:  # silence cannot be told from not reading
                behind.add(tp.topic)
                continue
            lag = max(0, end - next_offset)
            metrics.CONSUMER_LAG.labels(tp.topic, str(partition)).set(lag)
            if lag:
                behind.add(tp.topic)
        return frozenset(behind)
