"""Partition snapshots in a changelogged table: saved in parts, only the changed ones written."""

from __future__ import annotations

from typing import Any

from streams.worker.snapshots import ChangelogTable, PartitionSnapshots, assemble, entries


class RecordingTable:
    """What ChangelogTable uses of a Faust table, and a changelog writer that keeps what it
    was given."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.sent: list[tuple[int, bytes, bytes | None]] = []

    def get(self, key: bytes) -> Any:
        return self.data.get(key)

    def write(self, partition: int, key: bytes, value: bytes | None) -> None:
        self.sent.append((partition, key, value))


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
    recorded = RecordingTable()
    snapshots = PartitionSnapshots(ChangelogTable(recorded, recorded.write))
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
    assert PartitionSnapshots(ChangelogTable(recorded, recorded.write)).load(3) == changed
    assert PartitionSnapshots(ChangelogTable(recorded, recorded.write)).load(4) is None
