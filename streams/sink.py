"""Writes every topic's events to ClickHouse in batches; offsets are committed after the insert."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from faust.types import EventT

from schemas import topics
from schemas.codec import decode_any
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.app import Pipeline
from streams.rows import Row, rows_of
from streams.store import Store, StoreError

log = logging.getLogger(__name__)

SINK_TOPICS = (
    topics.SENSOR_READINGS,
    topics.SENSOR_SECONDS,
    topics.MACHINE_EVENTS,
    topics.MES_EVENTS,
    topics.OEE_RESULTS,
    topics.ANOMALY_SCORES,
    topics.ALERTS,
    topics.DEAD_LETTERS,
)
_MAX_BACKOFF_S = 30.0


# Topics whose messages only the sink reads: it dead-letters what it cannot decode there. The
# input topics are dead-lettered by the agent that owns them (OEE for machine and MES events,
# anomaly scoring for sensor readings).
SINK_OWNED_TOPICS = frozenset(
    {
        topics.SENSOR_SECONDS,
        topics.OEE_RESULTS,
        topics.ANOMALY_SCORES,
        topics.ALERTS,
    }
)


def rows_by_table(values: list[bytes]) -> tuple[dict[str, list[Row]], dict[int, InvalidEventError]]:
    """Rows per table of a batch, and the messages (by index) that could not be decoded."""
    tables: dict[str, list[Row]] = defaultdict(list)
    failures: dict[int, InvalidEventError] = {}
    for index, value in enumerate(values):
        try:
            event = decode_any(value)
        except InvalidEventError as error:
            failures[index] = error
            continue
        for table, row in rows_of(event):
            tables[table].append(row)
    return tables, failures


def _insert_with_retry(store: Store, tables: dict[str, list[Row]]) -> None:
    backoff = 0.5
    pending = dict(tables)
    while pending:
        table, rows = next(iter(pending.items()))
        try:
            store.insert_rows(table, rows)
        except StoreError as error:
            metrics.SINK_RETRIES.inc()
            log.warning(
                "insert of %d rows into %s failed, retrying in %.1f s: %s",
                len(rows),
                table,
                backoff,
                error,
            )
            time.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_S)
            continue
        metrics.SINK_ROWS.labels(table).inc(len(rows))
        del pending[table]


def write_batch(store: Store, values: list[bytes]) -> tuple[int, dict[int, InvalidEventError]]:
    tables, failures = rows_by_table(values)
    metrics.SINK_SKIPPED.inc(len(failures))
    rows = sum(len(r) for r in tables.values())
    with metrics.SINK_BATCH_SECONDS.time():
        _insert_with_retry(store, tables)
    metrics.SINK_BATCH_ROWS.observe(rows)
    return rows, failures


def register(pipeline: Pipeline) -> None:
    source = pipeline.topic(*SINK_TOPICS)
    worker = pipeline.worker

    @pipeline.app.agent(source, name="store_events")
    async def store_events(stream: Any) -> None:
        """Batch every event into ClickHouse; offsets advance only after the rows are stored."""
        async for batch in stream.take_events(worker.sink_batch_rows, within=worker.sink_batch_s):
            store = pipeline.store
            while store is None:
                await asyncio.sleep(0.2)
                store = pipeline.store
            for event in batch:
                _count_in(event)
            rows, failures = await asyncio.to_thread(
                write_batch, store, [bytes(e.value or b"") for e in batch]
            )
            pipeline.count("sink_rows", rows)
            for index, error in failures.items():
                if batch[index].message.topic in SINK_OWNED_TOPICS:
                    await pipeline.dead_letter(batch[index], error)


def _count_in(event: EventT) -> None:
    metrics.EVENTS_IN.labels("sink", event.message.topic).inc()
