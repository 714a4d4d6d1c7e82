"""Partition snapshots in a changelog table: saved in parts, only the changed ones written."""

from __future__ import annotations

from typing import Any

from streams.worker.changelog import ChangelogTable
from streams.worker.snapshots import PartitionSnapshots, assemble, entries


class RecordingProducer:
    """What ChangelogTable sends its changes through, keeping what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, bytes, bytes | None]] = []

    def produce_now(self, topic: str, key: bytes, value: bytes | None, partition: int) -> None:
        self.sent.append((partition, key, value))


def table_on(producer: Any) -> ChangelogTable:
    return ChangelogTable("t-changelog", {}, producer, partitions=8)


SNAPSHOT = {
    "machines": {"p/l/s/m1": {"states": [[1, 2, "a"]]}, "p/l/s/m2": {"states": []}},
    "rollups": {"p/l/s/m1": {"1h": {"start": 0}}},
    "applied": {"t": 4},
    "watermark": None,
    "empty": {},
}


def test_a_snapshot_taken_apart_is_assembled_again():
    found = dict(entries(SNAPSHOT))
    assert ("machines", "p/l/s/m1") in found
    assert ("rollups", "p/l/s/m1", "1h") in found
    assert ("applied",) in found
    assert assemble(found) == SNAPSHOT


def test_a_save_writes_only_the_changed_parts_and_deletes_the_dropped_ones():
    recorded = RecordingProducer()
    table = table_on(recorded)
    snapshots = PartitionSnapshots(table)
    snapshots.save(3, SNAPSHOT)
    first = len(recorded.sent)
    changed = {**SNAPSHOT, "machines": {"p/l/s/m1": {"states": [[1, 2, "a"], [5, 1, "b"]]}}}
    snapshots.save(3, changed)
    later = recorded.sent[first:]
    assert {partition for partition, _, _ in recorded.sent} == {3}
    written = {tuple(key.decode().split("\x1f")[1:]): value for _, key, value in later}
    # the changed machine, the dropped one, and the list of machines that says so
    assert set(written) == {("machines",), ("machines", "p/l/s/m1"), ("machines", "p/l/s/m2")}
    assert written[("machines", "p/l/s/m2")] is None  # dropped from the snapshot: deleted
    assert PartitionSnapshots(table).load(3) == changed
    assert PartitionSnapshots(table).load(4) is None
    table.forget({3})
    assert PartitionSnapshots(table).load(3) is None
