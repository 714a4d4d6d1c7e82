"""What the sensor processor is told (its configuration), what it remembers of a partition, and
where its models are checkpointed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from streams.core.alerts import AlertEpisodes
from streams.core.anomaly import DetectorSettings
from streams.core.condition import ConditionSettings
from streams.core.event_time import TimeLimits
from streams.core.sensor_health import HealthRules
from streams.processors.condition import ConditionState
from streams.processors.protocol import Snapshot
from streams.processors.sensor_quality import SensorQuality
from streams.settings import WorkerSettings

__all__ = ["ModelStore", "NoModelStore", "SensorConfig", "SensorPartition"]


class ModelStore(Protocol):
    """Where detector models are checkpointed (pickled), by model key."""

    def load(self, key: str) -> bytes | None:
        """The model's last checkpoint, if any."""
        ...

    def save(self, partition: int, key: str, blob: bytes) -> None:
        """Checkpoint a model of `partition`."""
        ...


class NoModelStore:
    """Keeps no checkpoints (a processor whose models start afresh)."""

    def load(self, key: str) -> bytes | None:
        """Nothing is kept."""
        return None

    def save(self, partition: int, key: str, blob: bytes) -> None:
        """Nothing is kept."""


@dataclass(frozen=True)
class SensorConfig:
    """What the sensor processor is told: the detector, its scope, quality rules, alerts."""

    detector: DetectorSettings = field(default_factory=DetectorSettings)
    per_asset: bool = False
    limits: TimeLimits = field(default_factory=TimeLimits)
    raise_after: int = 3
    clear_after: int = 10
    health: HealthRules = field(default_factory=HealthRules)
    checkpoint_ms: int = 30_000
    condition: ConditionSettings = field(default_factory=ConditionSettings)

    @classmethod
    def from_settings(cls, settings: WorkerSettings) -> SensorConfig:
        """The configuration of a worker's settings."""
        return cls(
            detector=settings.anomaly.detector(),
            per_asset=settings.anomaly.scope == "asset",
            limits=settings.time_limits(),
            raise_after=settings.alerts.raise_after,
            clear_after=settings.alerts.clear_after,
            health=settings.quality.rules(),
            checkpoint_ms=int(settings.anomaly.checkpoint_s * 1000),
            condition=settings.vibration.condition(),
        )


@dataclass
class SensorPartition:
    """What the processor remembers of one input partition (its models aside)."""

    quality: SensorQuality
    anomalies: AlertEpisodes
    condition: ConditionState
    applied: dict[str, int] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)  # asset -> running | stopped
    models: set[str] = field(default_factory=set)  # keys of the partition's models
    checkpointed_at: int = 0

    def to_dict(self) -> Snapshot:
        """Plain JSON data of everything above."""
        return {
            "quality": self.quality.to_dict(),
            "anomalies": self.anomalies.to_dict(),
            "condition": self.condition.to_dict(),
            "applied": dict(self.applied),
            "modes": dict(self.modes),
            "models": sorted(self.models),
            "checkpointed_at": self.checkpointed_at,
        }
