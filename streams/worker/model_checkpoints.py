"""Detector models checkpointed in a changelog table, so that a restarted or rebalanced
worker resumes scoring without a new warm-up.

Models are pickled (River's own persistence); the changelog topic is internal to LinePulse and
must be writable only by its workers.
"""

from __future__ import annotations

from streams.worker.changelog import ChangelogTable


class ModelCheckpoints:
    """The sensor processor's `ModelStore` on a changelog table."""

    def __init__(self, table: ChangelogTable) -> None:
        self.table = table

    def load(self, key: str) -> bytes | None:
        """The model's last checkpoint, if any."""
        return self.table.get(f"model/{key}")

    def save(self, partition: int, key: str, blob: bytes) -> None:
        """Checkpoint a model of `partition` to that partition's changelog."""
        self.table.put(partition, f"model/{key}", blob)
