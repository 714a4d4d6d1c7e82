"""What a vibration sensor's tag declares so that the worker can speak the language of the trade:
the machine's ISO 10816-3 / 20816-3 group and foundation, the shaft speed, the sensor's unit and
the bearing's geometry or its defect-frequency multipliers; and what the worker says of such a
sensor each second (`vibration.second`)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.base import EpochMs, Event, Name

Foundation = Literal["rigid", "flexible"]
MachineGroup = Literal[1, 2, 3, 4]
# acceleration (integrated to velocity for the severity) or velocity
VibrationUnit = Literal["g", "m/s2", "mm/s", "in/s"]
Positive = Annotated[float, Field(gt=0)]


class BearingGeometry(BaseModel):
    """A rolling bearing as its data sheet gives it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rolling_elements: Annotated[int, Field(ge=3, le=200)]
    ball_diameter_mm: Positive
    pitch_diameter_mm: Positive
    contact_angle_deg: Annotated[float, Field(ge=0, lt=90)] = 0.0

    @model_validator(mode="after")
    def _fits(self) -> BearingGeometry:
        if self.ball_diameter_mm >= self.pitch_diameter_mm:
            msg = (
                f"ball diameter {self.ball_diameter_mm} mm is not below the pitch diameter "
                f"{self.pitch_diameter_mm} mm: check the bearing's data sheet"
            )
            raise ValueError(msg)
        return self

    def multipliers(self) -> DefectMultipliers:
        """The defect frequencies per shaft revolution (the usual kinematic formulas)."""
        ratio = (
            self.ball_diameter_mm
            / self.pitch_diameter_mm
            * math.cos(math.radians(self.contact_angle_deg))
        )
        half = self.rolling_elements / 2
        return DefectMultipliers(
            bpfo=half * (1 - ratio),
            bpfi=half * (1 + ratio),
            bsf=self.pitch_diameter_mm / (2 * self.ball_diameter_mm) * (1 - ratio * ratio),
            ftf=(1 - ratio) / 2,
        )


class DefectMultipliers(BaseModel):
    """Defect frequencies as multiples of the shaft speed, as bearing makers list them: ball
    pass outer and inner race, ball spin, fundamental train (cage)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bpfo: Positive
    bpfi: Positive
    bsf: Positive
    ftf: Annotated[float, Field(gt=0, lt=1)]


class VibrationSpec(BaseModel):
    """The physics a vibration sensor's tag declares; every field but the unit is optional, and
    what is left out is left out of the analysis (no bearing, no defect frequencies)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: VibrationUnit = Field(description="g or m/s2 (acceleration) or mm/s, in/s (velocity)")
    machine_group: MachineGroup = Field(
        2, description="ISO 10816-3: 1 above 300 kW, 2 from 15 to 300 kW, 3 and 4 pumps"
    )
    foundation: Foundation = "rigid"
    shaft_rpm: Annotated[float, Field(gt=0, le=120_000)] | None = None
    shaft_speed_sensor: str | None = Field(
        None, description="a sensor of the same asset that reports the shaft speed in rpm"
    )
    bearing: BearingGeometry | DefectMultipliers | None = None
    zone_boundaries_mm_s: tuple[Positive, Positive, Positive] | None = Field(
        None, description="A/B, B/C and C/D velocity boundaries in mm/s (else the standard's)"
    )
    resonance_band_hz: tuple[Positive, Positive] | None = Field(
        None, description="the band to demodulate (else the band of highest spectral kurtosis)"
    )
    limit_mm_s: Positive | None = Field(
        None, description="the velocity the forecast aims at (else the next zone boundary)"
    )
    envelope_limit: Annotated[float, Field(gt=1)] | None = Field(
        None,
        description="a defect line's ratio to its surroundings to forecast (e.g. 30: a defect "
        "well developed); rides on the bearing_defect alert",
    )

    @model_validator(mode="after")
    def _ordered(self) -> VibrationSpec:
        bounds = self.zone_boundaries_mm_s
        if bounds is not None and not bounds[0] < bounds[1] < bounds[2]:
            msg = f"zone boundaries {list(bounds)} must rise: A/B < B/C < C/D in mm/s"
            raise ValueError(msg)
        band = self.resonance_band_hz
        if band is not None and band[0] >= band[1]:
            msg = f"resonance band {list(band)} must be low, high in Hz"
            raise ValueError(msg)
        return self

    @property
    def multipliers(self) -> DefectMultipliers | None:
        """The bearing's defect multipliers, from its geometry when that is what is declared."""
        if isinstance(self.bearing, BearingGeometry):
            return self.bearing.multipliers()
        return self.bearing


Zone = Literal["A", "B", "C", "D"]


class VibrationSecond(Event):
    """The condition of one vibration sensor over one second of samples (`time`): velocity RMS
    and its ISO zone, the bearing diagnosis, and when the velocity reaches its limit. The
    ratios are how far each defect's principal envelope line stands above the spectrum around
    it; None without a declared bearing and shaft speed."""

    kind: Literal["vibration.second"] = "vibration.second"
    sensor: Name
    velocity_rms_mm_s: Annotated[float, Field(ge=0)]
    zone: Zone
    held_zone: Zone
    shaft_rpm: float | None = None
    band_low_hz: float | None = None
    band_high_hz: float | None = None
    suspected: Literal["outer_race", "inner_race", "rolling_element", "cage"] | None = None
    bpfo_ratio: float | None = None
    bpfi_ratio: float | None = None
    bsf_ratio: float | None = None
    ftf_ratio: float | None = None
    predicted_limit: float | None = None
    predicted_limit_at: EpochMs | None = None
    predicted_limit_low: EpochMs | None = None
    predicted_limit_high: EpochMs | None = None
    batch_id: str
