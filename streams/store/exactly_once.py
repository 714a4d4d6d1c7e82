"""Exactly-once rows after a crash or a rebalance.

The sink stores a batch and only then lets its offsets be committed, so a worker that dies in
between leaves rows in ClickHouse whose messages the next owner of the partition reads again.
The guard notices where that can happen (the first messages of a partition in this process, or
after its offsets jumped) and looks those messages' rows up by identity (event id and time,
narrowed by the table's sort key) so that rows already stored are not inserted twice. Every
message that was already in the partition when the guard first saw it is checked (an earlier
writer may have stored any of them), and after that until a batch finds nothing stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas.tables import TABLES
from streams.processors.protocol import Message
from streams.store.clickhouse import Store, query_rows
from streams.store.rows import Row

TopicPartition = tuple[str, int]
Position = tuple[str, int, int]  # topic, partition, offset
RowIdentity = tuple[str, int]  # event id, time in epoch ms


SHAPES = {shape.qualified: shape for shape in TABLES.values()}


def once_each(messages: Sequence[Message]) -> list[Message]:
    """The messages of a batch, each position once: Faust hands messages over again after it
    seeks back to the committed offsets, and the repeat can fall into the same batch as the
    first delivery, where the store cannot hold it yet."""
    seen: set[Position] = set()
    kept = []
    for message in messages:
        if message.where not in seen:
            seen.add(message.where)
            kept.append(message)
    return kept


def row_identity(table: str, row: Row) -> RowIdentity:
    """The identity of a row of `table` (a qualified name): its event id and time in ms."""
    seconds = row[SHAPES[table].time_column]
    return str(row["event_id"]), round(float(seconds) * 1000)


def quote(text: object) -> str:
    """A ClickHouse string literal."""
    escaped = str(text).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _in_list(values: Iterable[object]) -> str:
    return ", ".join(quote(v) for v in sorted({str(v) for v in values}))


def lookup_sql(table: str, rows: list[Row]) -> str:
    """The query that finds which of `rows` `table` already holds."""
    shape = SHAPES[table]
    identities = [row_identity(table, row) for row in rows]
    times = [ms for _, ms in identities]
    conditions = [
        f"{column} IN ({_in_list(row[column] for row in rows)})" for column in shape.lookup_prefix
    ]
    time_ms = f"toUnixTimestamp64Milli(toDateTime64({shape.time_column}, 3, 'UTC'))"
    conditions.append(f"{time_ms} BETWEEN {min(times)} AND {max(times)}")
    conditions.append(f"event_id IN ({_in_list(event_id for event_id, _ in identities)})")
    return f"SELECT DISTINCT event_id, {time_ms} AS ms FROM {table} WHERE " + " AND ".join(
        conditions
    )


LOOKUP_ROWS = 1000  # rows looked up per query: ClickHouse refuses queries over 256 KiB


def stored_identities(store: Store, table: str, rows: list[Row]) -> set[RowIdentity]:
    """The identities among `rows` that `table` already holds (in queries of at most
    LOOKUP_ROWS rows each)."""
    identities: set[RowIdentity] = set()
    for first in range(0, len(rows), LOOKUP_ROWS):
        found = query_rows(store, lookup_sql(table, rows[first : first + LOOKUP_ROWS]))
        identities.update((str(row["event_id"]), int(row["ms"])) for row in found)
    return identities


@dataclass
class ReplayGuard:
    """Which messages of a batch may have been stored already by an earlier writer."""

    _next_offset: dict[TopicPartition, int] = field(default_factory=dict)
    _suspect: set[TopicPartition] = field(default_factory=set)
    _check_below: dict[TopicPartition, int] = field(default_factory=dict)

    def to_check(
        self, positions: list[Position], ends: dict[TopicPartition, int] | None = None
    ) -> set[int]:
        """Indexes of the batch's messages whose rows must be looked up before inserting;
        `ends` are the partitions' end offsets now (what an earlier writer could have seen)."""
        indexes = set()
        for index, (topic, partition, offset) in enumerate(positions):
            tp = (topic, partition)
            if self._next_offset.get(tp) != offset:
                self._suspect.add(tp)  # first seen here, or read again from elsewhere
                end = (ends or {}).get(tp)
                if end is not None:
                    self._check_below[tp] = max(self._check_below.get(tp, 0), end)
            self._next_offset[tp] = offset + 1
            if tp in self._suspect or offset < self._check_below.get(tp, 0):
                indexes.add(index)
        return indexes

    def settle(self, positions: list[Position], looked_up: set[int], found: set[int]) -> None:
        """A partition whose messages were looked up and none found stored is past the replay."""
        found_partitions = {(positions[i][0], positions[i][1]) for i in found}
        for index in looked_up:
            topic, partition, _ = positions[index]
            if (topic, partition) not in found_partitions:
                self._suspect.discard((topic, partition))

    @property
    def suspects(self) -> frozenset[TopicPartition]:
        """The partitions whose messages are still looked up before inserting."""
        return frozenset(self._suspect)
