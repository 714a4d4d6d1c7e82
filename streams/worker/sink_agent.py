"""The sink agent: every stored topic's events go to ClickHouse in batches; offsets are
committed only after the insert (Faust commits what the agent has finished)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.types import TP, EventT

from schemas import topics
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.store.clickhouse import StoreError
from streams.store.exactly_once import Position, ReplayGuard
from streams.store.sink import SINK_OWNED_TOPICS, SINK_TOPICS, write_batch
from streams.worker.app import Pipeline

log = logging.getLogger(__name__)


def register(pipeline: Pipeline) -> None:
    source = pipeline.topic(*SINK_TOPICS)
    worker = pipeline.worker
    guard = ReplayGuard()

    def unreachable(error: StoreError) -> None:
        pipeline.clickhouse_reachable = False
        metrics.SINK_RETRIES.inc()
        metrics.CLICKHOUSE_REACHABLE.set(0)

    @pipeline.app.agent(source, name="store_events")
    async def store_events(stream: Any) -> None:
        """Batch every event into ClickHouse; offsets advance only after the rows are stored."""
        async for batch in stream.take_events(worker.sink_batch_rows, within=worker.sink_batch_s):
            if not pipeline.context_current:
                await pipeline.wait_context()
            store = pipeline.store
            while store is None:
                await asyncio.sleep(0.2)
                store = pipeline.store
            for event in batch:
                _count_in(event)
            values = [bytes(e.value or b"") for e in batch]
            positions = [(e.message.topic, e.message.partition, e.message.offset) for e in batch]
            ends = _end_offsets(pipeline, positions)
            result = await asyncio.to_thread(
                write_batch,
                store,
                values,
                positions,
                guard,
                unreachable,
                pipeline.context,
                ends,
            )
            pipeline.clickhouse_reachable = True
            metrics.CLICKHOUSE_REACHABLE.set(1)
            pipeline.count("sink_rows", result.rows)
            for index, error in result.undecodable.items():
                if batch[index].message.topic in SINK_OWNED_TOPICS:
                    await pipeline.dead_letter(batch[index], error)
            for index, reason in result.refused.items():
                message = batch[index].message
                if message.topic == topics.DEAD_LETTERS:
                    # it stays on the dead-letter topic; sending it there again would loop
                    log.error(
                        "dead letter %s[%s]@%s not stored: %s",
                        message.topic,
                        message.partition,
                        message.offset,
                        reason,
                    )
                    continue
                refused = InvalidEventError(f"not stored: {reason}", "store_refused")
                await pipeline.dead_letter(batch[index], refused)


def _end_offsets(pipeline: Pipeline, positions: list[Position]) -> dict[tuple[str, int], int]:
    consumer = pipeline.app.consumer
    ends = {}
    for topic, partition in {(t, p) for t, p, _ in positions}:
        end = consumer.highwater(TP(topic, partition)) if consumer else None
        if end is not None:
            ends[(topic, partition)] = end
    return ends


def _count_in(event: EventT) -> None:
    metrics.EVENTS_IN.labels("sink", event.message.topic).inc()
