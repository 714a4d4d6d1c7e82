"""Processor state in changelogged Faust tables, written to the changelog partition of the
input partition it belongs to, so that whichever worker takes the partition over recovers it.

Values are bytes made when saved (JSON snapshots, pickled models), so that what reaches the
changelog is the state of that moment, whatever the processor does next.
"""

from __future__ import annotations

from typing import Any

import faust
import orjson

from streams.processors.protocol import Snapshot
from streams.settings import KafkaSettings


class ChangelogTable:
    """A Faust table of raw bytes written with an explicit partition (Faust's own
    `table[key] = value` takes the partition of the event being processed, which a batch of
    several partitions or a timer does not have)."""

    def __init__(self, app: faust.App, name: str, kafka: KafkaSettings) -> None:
        self.table: Any = app.Table(
            name,
            default=None,
            partitions=kafka.partitions,
            key_type=bytes,
            value_type=bytes,
        )

    def get(self, key: str) -> bytes | None:
        """The value held for `key`, or None."""
        value = self.table.get(key.encode())
        return bytes(value) if value is not None else None

    def put(self, partition: int, key: str, value: bytes) -> None:
        """Hold `value` for `key` here and in the changelog partition `partition`."""
        raw_key = key.encode()
        self.table.data[raw_key] = value
        self.table.send_changelog(partition, raw_key, value)


class PartitionSnapshots:
    """One JSON snapshot per input partition of a processor."""

    def __init__(self, table: ChangelogTable) -> None:
        self.table = table

    def load(self, partition: int) -> Snapshot | None:
        """The last snapshot saved for `partition`, if any."""
        raw = self.table.get(f"partition/{partition}")
        snapshot: Snapshot | None = orjson.loads(raw) if raw else None
        return snapshot

    def save(self, partition: int, snapshot: Snapshot) -> None:
        """Keep `snapshot` as the partition's state."""
        self.table.put(partition, f"partition/{partition}", orjson.dumps(snapshot))
