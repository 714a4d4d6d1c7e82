"""Writes every topic's events to ClickHouse in batches; offsets are committed after the insert."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faust.types import TP, EventT

from schemas import topics
from schemas.codec import decode_any
from schemas.events import MachineState, PlcCounter, ProductionCount, SensorReading
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.app import Pipeline
from streams.context import ContextBook
from streams.replay import Position, ReplayGuard, row_identity, stored_identities
from streams.rows import Row, rows_of
from streams.store import Store, StoreError, until_reachable

log = logging.getLogger(__name__)

SINK_TOPICS = (
    topics.SENSOR_READINGS,
    topics.SENSOR_SECONDS,
    topics.SENSOR_SPECS,
    topics.MACHINE_EVENTS,
    topics.MES_EVENTS,
    topics.OEE_RESULTS,
    topics.ANOMALY_SCORES,
    topics.ALERTS,
    topics.QUALITY_FINDINGS,
    topics.DEAD_LETTERS,
)


# Topics whose messages only the sink reads: it dead-letters what it cannot decode there. The
# input topics are dead-lettered by the agent that owns them (OEE for machine and MES events,
# anomaly scoring for sensor readings).
SINK_OWNED_TOPICS = frozenset(
    {
        topics.SENSOR_SECONDS,
        topics.SENSOR_SPECS,
        topics.OEE_RESULTS,
        topics.ANOMALY_SCORES,
        topics.ALERTS,
        topics.QUALITY_FINDINGS,
    }
)


IndexedRows = list[tuple[int, Row]]
CONTEXT_TAKERS = (SensorReading, MachineState, ProductionCount, PlcCounter)
OnRetry = Callable[[StoreError], None] | None


def rows_by_table(
    values: list[bytes], context: ContextBook | None = None
) -> tuple[dict[str, IndexedRows], dict[int, InvalidEventError]]:
    """Rows per table of a batch, each with the index of its message, and the messages that
    could not be decoded; readings and machine events get the production context of their
    time from `context`."""
    tables: dict[str, IndexedRows] = defaultdict(list)
    failures: dict[int, InvalidEventError] = {}
    for index, value in enumerate(values):
        try:
            event = decode_any(value)
        except InvalidEventError as error:
            failures[index] = error
            continue
        if context is not None and isinstance(event, CONTEXT_TAKERS):
            event = context.enrich(event)
        for table, row in rows_of(event):
            tables[table].append((index, row))
    return tables, failures


def store_table(
    store: Store, table: str, rows: IndexedRows, on_retry: OnRetry = None
) -> dict[int, str]:
    """Insert rows; when ClickHouse refuses the block, halve it until the refused rows are
    isolated, so that the rest is stored. Returns the refused rows' indexes with the reason."""
    try:
        until_reachable(
            lambda: store.insert_rows(table, [row for _, row in rows]),
            f"storing {len(rows)} rows in {table}",
            on_retry,
        )
    except StoreError as error:
        if len(rows) == 1:
            return {rows[0][0]: str(error)}
        middle = len(rows) // 2
        return {
            **store_table(store, table, rows[:middle], on_retry),
            **store_table(store, table, rows[middle:], on_retry),
        }
    metrics.SINK_ROWS.labels(table).inc(len(rows))
    return {}


@dataclass
class BatchResult:
    rows: int
    undecodable: dict[int, InvalidEventError]
    refused: dict[int, str]


def drop_stored_rows(
    store: Store,
    tables: dict[str, IndexedRows],
    positions: list[Position],
    guard: ReplayGuard,
    on_retry: OnRetry = None,
    ends: dict[tuple[str, int], int] | None = None,
) -> int:
    """Remove from `tables` the rows of replayed messages that ClickHouse already holds."""
    to_check = guard.to_check(positions, ends)
    if not to_check:
        return 0
    looked_up: set[int] = set()
    found: set[int] = set()
    dropped = 0
    for table, rows in tables.items():
        candidates = [row for index, row in rows if index in to_check]
        stored = until_reachable(
            lambda: stored_identities(store, table, candidates),  # noqa: B023 - called at once
            f"looking up replayed rows of {table}",
            on_retry,
        )
        looked_up.update(index for index, _ in rows if index in to_check)
        kept = []
        for index, row in rows:
            if index in to_check and row_identity(table, row) in stored:
                found.add(index)
            else:
                kept.append((index, row))
        dropped += len(rows) - len(kept)
        tables[table] = kept
    guard.settle(positions, looked_up, found)
    if dropped:
        log.info("%d rows of replayed messages were stored before; not inserted again", dropped)
        metrics.SINK_REPLAYED_ROWS.inc(dropped)
    return dropped


def write_batch(
    store: Store,
    values: list[bytes],
    positions: list[Position] | None = None,
    guard: ReplayGuard | None = None,
    on_retry: OnRetry = None,
    context: ContextBook | None = None,
    ends: dict[tuple[str, int], int] | None = None,
) -> BatchResult:
    """Store a batch's rows; `on_retry` hears of every retry while ClickHouse is unreachable;
    `ends` are the partitions' end offsets (for the replay guard)."""
    tables, undecodable = rows_by_table(values, context)
    if guard is not None and positions is not None:
        drop_stored_rows(store, tables, positions, guard, on_retry, ends)
    metrics.SINK_SKIPPED.inc(len(undecodable))
    refused: dict[int, str] = {}
    with metrics.SINK_BATCH_SECONDS.time():
        for table, rows in tables.items():
            refused.update(store_table(store, table, rows, on_retry))
    stored = sum(len(r) for r in tables.values()) - len(refused)
    metrics.SINK_BATCH_ROWS.observe(stored)
    return BatchResult(stored, undecodable, refused)


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
