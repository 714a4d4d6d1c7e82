"""Detector state kept in a changelogged Faust table, so that a restarted or rebalanced worker
resumes scoring without a new warm-up.

Models are pickled (River's own persistence); the changelog topic is internal to LinePulse and
must be writable only by its workers.
"""

from __future__ import annotations

import base64
import pickle  # noqa: S403 - River models persist with pickle; the topic is internal
from typing import Any

from streams.core.anomaly import AssetDetector, SensorDetector

Model = SensorDetector | AssetDetector


class ModelCheckpoints:
    def __init__(self, table: Any, every_ms: int) -> None:
        self.table = table
        self.every_ms = every_ms
        self._dirty: dict[str, int] = {}  # key -> partition
        self._saved_at: dict[int, int] = {}

    def load(self, key: str) -> Model | None:
        data = self.table.get(key)
        if not data:
            return None
        model: Model = pickle.loads(base64.b64decode(data))  # noqa: S301
        return model

    def touched(self, key: str, partition: int) -> None:
        self._dirty[key] = partition

    def save_due(self, partition: int, now_ms: int, detectors: dict[str, Model]) -> int:
        """Write the changed models of `partition` when the last save is `every_ms` old; must
        run in the partition's stream context (a tick) so the changelog lands there."""
        if now_ms - self._saved_at.get(partition, 0) < self.every_ms:
            return 0
        self._saved_at[partition] = now_ms
        keys = [k for k, p in self._dirty.items() if p == partition]
        for key in keys:
            self.table[key] = base64.b64encode(pickle.dumps(detectors[key])).decode()
            del self._dirty[key]
        return len(keys)
