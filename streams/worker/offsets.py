"""Where the processors stand in their input: ends of partitions from the broker, against the
offsets processed and the offsets reading began at.

The consumer's own end figure for a partition is as old as its last fetch of that partition; the
admin client answers ends in milliseconds, so that a tick asking never stalls the input.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
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


class InputProgress:
    """How far this worker has read its input partitions, from the broker's ends and the
    positions where reading began."""

    def __init__(self, ends: EndOffsets, start_of: Callable[[str, int], int | None]) -> None:
        self.ends = ends
        self.start_of = start_of  # where reading of a partition began, None if not assigned

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
                next_offset = self.start_of(tp.topic, tp.partition)
            if end is None or next_offset is None:  # silence cannot be told from not reading
                behind.add(tp.topic)
                continue
            lag = max(0, end - next_offset)
            metrics.CONSUMER_LAG.labels(tp.topic, str(partition)).set(lag)
            if lag:
                behind.add(tp.topic)
        return frozenset(behind)
