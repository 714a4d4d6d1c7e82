"""What every tag of a tag map has, whatever the protocol: the sensor it feeds and what it may
be expected to send."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import ASSET_PATTERN, SensorSpec
from schemas.vibration import VibrationSpec


class SensorTag(BaseModel):
    """The fields every tag has: the sensor and asset it feeds and its plausible range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sensor: str = Field(min_length=1)
    asset: str = Field(pattern=ASSET_PATTERN)
    unit: str = ""
    expected_min: float | None = Field(None, description="lowest plausible value")
    expected_max: float | None = Field(None, description="highest plausible value")
    vibration: VibrationSpec | None = Field(
        None,
        description="a vibration sensor's physics: ISO group and foundation, shaft speed, "
        "unit, bearing (for severity zones and bearing diagnosis)",
    )
    limit: float | None = Field(
        None, description="a value it must not reach: the worker forecasts when its trend will"
    )

    def declared(self, interval_ms: float | None, source: str) -> SensorSpec:
        """The spec the connector publishes for this tag."""
        return SensorSpec(
            time=int(time.time() * 1000),
            asset=self.asset,
            sensor=self.sensor,
            unit=self.unit,
            expected_min=self.expected_min,
            expected_max=self.expected_max,
            interval_ms=interval_ms,
            source=source,
            vibration=self.vibration,
            limit=self.limit,
        )
