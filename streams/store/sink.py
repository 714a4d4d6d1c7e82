"""The sink's batch write: messages become rows per table, rows already stored by an earlier
writer are dropped, and ClickHouse's refusals are isolated so that the rest is stored."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas import topics
from schemas.events import MachineState, PlcCounter, ProductionCount, SensorReading, now_ms
from schemas.exceptions import InvalidEventError
from streams import metrics
from streams.core.context import ContextBook
from streams.core.event_time import TimeLimits
from streams.processors.acceptance import accept
from streams.processors.protocol import Message
from streams.store.clickhouse import Store, StoreError, until_reachable
from streams.store.exactly_once import Position, ReplayGuard, row_identity, stored_identities
from streams.store.rows import Row, rows_of

log = logging.getLogger(__name__)

SINK_TOPICS = (
    topics.SENSOR_READINGS,
    topics.SENSOR_SECONDS,
    topics.VIBRATION_SECONDS,
    topics.SENSOR_SPECS,
    topics.MACHINE_EVENTS,
    topics.MES_EVENTS,
    topics.OEE_RESULTS,
    topics.ANOMALY_SCORES,
    topics.ALERTS,
    topics.QUALITY_FINDINGS,
    topics.DEAD_LETTERS,
)


# Topics whose messages only the sink reads: it dead-letters what it refuses there. What it
# refuses on the input topics is dead-lettered by the agent that owns them (OEE for machine and
# MES events, the sensor agent for readings), which accepts and refuses by the same rule.
SINK_OWNED_TOPICS = frozenset(
    {
        topics.SENSOR_SECONDS,
        topics.VIBRATION_SECONDS,
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
    messages: Sequence[Message],
    context: ContextBook | None = None,
    limits: TimeLimits | None = None,
    now: int | None = None,
) -> tuple[dict[str, IndexedRows], dict[int, InvalidEventError]]:
    """Rows per table of a batch, each with the index of its message, and the messages that
    are refused (by the acceptance the agents apply); readings and machine events get the
    production context of their time from `context`."""
    tables: dict[str, IndexedRows] = defaultdict(list)
    failures: dict[int, InvalidEventError] = {}
    limits = limits or TimeLimits()
    now = now_ms() if now is None else now
    for index, message in enumerate(messages):
        try:
            event = accept(message, limits, now)
        except InvalidEventError as error:
            failures[index] = error
            continue
        if context is not None and isinstance(event, CONTEXT_TAKERS):
            event = context.enrich(event)
        for table, row in rows_of(event):  # type: ignore[arg-type]
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
    """What a batch write did: rows stored, messages refused, rows ClickHouse refused."""

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


@dataclass
class Sink:
    """Writes batches of messages to ClickHouse exactly once: `on_retry` hears of every retry
    while ClickHouse is unreachable (the caller waits meanwhile)."""

    store: Store
    context: ContextBook | None = None
    limits: TimeLimits = field(default_factory=TimeLimits)
    guard: ReplayGuard | None = field(default_factory=ReplayGuard)  # None: no replay checks
    on_retry: OnRetry = None

    def write(
        self, messages: Sequence[Message], ends: dict[tuple[str, int], int] | None = None
    ) -> BatchResult:
        """Store a batch's rows; `ends` are the partitions' end offsets (for the replay
        guard)."""
        tables, undecodable = rows_by_table(messages, self.context, self.limits)
        positions: list[Position] = [(m.topic, m.partition, m.offset) for m in messages]
        if self.guard is not None:
            drop_stored_rows(self.store, tables, positions, self.guard, self.on_retry, ends)
        metrics.SINK_SKIPPED.inc(len(undecodable))
        refused: dict[int, str] = {}
        with metrics.SINK_BATCH_SECONDS.time():
            for table, rows in tables.items():
                refused.update(store_table(self.store, table, rows, self.on_retry))
        stored = sum(len(r) for r in tables.values()) - len(refused)
        metrics.SINK_BATCH_ROWS.observe(stored)
        return BatchResult(stored, undecodable, refused)
