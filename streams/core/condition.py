"""Condition of one vibration sensor, window by window (pure): velocity RMS and its held ISO
zone, the bearing diagnosis from the envelope spectrum, and the time until the velocity reaches
the next zone boundary (or the declared limit). The worker and `linepulse vibration` run this
same code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy.typing as npt

from schemas.vibration import VibrationSpec
from streams.core.bearings import (
    BearingDiagnosis,
    DiagnosisSettings,
    diagnose,
    diagnose_in_best_band,
)
from streams.core.severity import ZONES, ZoneRules, ZoneTracker, boundaries_of, zone_of
from streams.core.trend import LimitForecast, TrendFit, TrendRules
from streams.core.vibration import Spectrum, iso_band_hz, velocity_rms_mm_s


@dataclass(frozen=True)
class ConditionSettings:
    """How the monitor judges: the diagnosis, the zones' hold and hysteresis, the trend, and how
    often the band is picked afresh (the structure's resonance does not move from second to
    second; picking it costs more than the rest of the analysis), and how near a declared
    limit must be to raise a `limit_forecast`."""

    diagnosis: DiagnosisSettings = field(default_factory=DiagnosisSettings)
    zones: ZoneRules = field(default_factory=ZoneRules)
    trend: TrendRules = field(default_factory=TrendRules)
    band_every_s: float = 60.0
    forecast_within_s: float = 7 * 86_400.0


@dataclass(frozen=True)
class ConditionWindow:
    """What one window of samples says of the machine."""

    time: int
    velocity_rms_mm_s: float
    zone: str  # of this window's velocity
    held_zone: str  # after the hold and the hysteresis
    zone_changed: bool
    shaft_rpm: float | None
    band_hz: tuple[float, float] | None
    diagnosis: BearingDiagnosis | None  # None without a bearing or a shaft speed
    forecast: LimitForecast | None
    min_ratio: float = 0.0  # what a principal line had to reach to be named
    envelope_forecast: LimitForecast | None = None  # of the strongest defect line's ratio

    @property
    def suspected(self) -> str | None:
        """The bearing component the envelope spectrum points at, if any."""
        return self.diagnosis.suspected if self.diagnosis else None


@dataclass
class ConditionMonitor:
    """The condition of one sensor; `observe` its windows in time order."""

    spec: VibrationSpec
    settings: ConditionSettings = field(default_factory=ConditionSettings)
    zones: ZoneTracker = field(init=False)
    trend: TrendFit = field(init=False)
    envelope_trend: TrendFit = field(init=False)
    band_hz: tuple[float, float] | None = None
    band_picked_at: int | None = None

    def __post_init__(self) -> None:
        self.zones = ZoneTracker(boundaries_of(self.spec), self.settings.zones)
        self.trend = TrendFit(self.settings.trend)
        self.envelope_trend = TrendFit(self.settings.trend)

    def observe(
        self,
        time_ms: int,
        samples: npt.ArrayLike,
        sample_rate_hz: float,
        shaft_rpm: float | None = None,
    ) -> ConditionWindow:
        """Judge one window; `shaft_rpm` is the measured speed (else the declared one)."""
        rpm = shaft_rpm if shaft_rpm is not None else self.spec.shaft_rpm
        velocity = velocity_rms_mm_s(samples, sample_rate_hz, self.spec.unit, iso_band_hz(rpm))
        changed = self.zones.observe(time_ms, velocity) is not None
        held = self.zones.zone or zone_of(velocity, self.zones.boundaries)
        self.trend.observe(time_ms, velocity)
        diagnosis, band = self._diagnose(time_ms, samples, sample_rate_hz, rpm)
        envelope_forecast = None
        if diagnosis is not None:
            self.envelope_trend.observe(time_ms, max(e.ratio for e in diagnosis.evidence))
            if self.spec.envelope_limit is not None:
                envelope_forecast = self.envelope_trend.forecast(self.spec.envelope_limit)
        return ConditionWindow(
            time=time_ms,
            velocity_rms_mm_s=velocity,
            zone=zone_of(velocity, self.zones.boundaries),
            held_zone=held,
            zone_changed=changed,
            shaft_rpm=rpm,
            band_hz=band,
            diagnosis=diagnosis,
            forecast=self.forecast(held),
            min_ratio=self.settings.diagnosis.min_ratio,
            envelope_forecast=envelope_forecast,
        )

    def observe_velocity(self, time_ms: int, velocity_mm_s: float) -> ConditionWindow:
        """Judge one velocity RMS a transmitter measured itself (a Modbus or OPC UA tag in
        mm/s): its zone and trend, no bearing diagnosis."""
        changed = self.zones.observe(time_ms, velocity_mm_s) is not None
        held = self.zones.zone or zone_of(velocity_mm_s, self.zones.boundaries)
        self.trend.observe(time_ms, velocity_mm_s)
        return ConditionWindow(
            time=time_ms,
            velocity_rms_mm_s=velocity_mm_s,
            zone=zone_of(velocity_mm_s, self.zones.boundaries),
            held_zone=held,
            zone_changed=changed,
            shaft_rpm=self.spec.shaft_rpm,
            band_hz=None,
            diagnosis=None,
            forecast=self.forecast(held),
        )

    def limit(self, held_zone: str) -> float | None:
        """What the forecast aims at: the declared limit, else the boundary above the zone."""
        if self.spec.limit_mm_s is not None:
            return self.spec.limit_mm_s
        index = ZONES.index(held_zone)
        return self.zones.boundaries[index] if index < len(self.zones.boundaries) else None

    def forecast(self, held_zone: str) -> LimitForecast | None:
        """When the velocity's trend reaches the limit, when that is clear."""
        limit = self.limit(held_zone)
        return self.trend.forecast(limit) if limit is not None else None

    def _diagnose(
        self, time_ms: int, samples: npt.ArrayLike, sample_rate_hz: float, rpm: float | None
    ) -> tuple[BearingDiagnosis | None, tuple[float, float] | None]:
        multipliers = self.spec.multipliers
        if multipliers is None or rpm is None:
            return None, None
        shaft_hz = rpm / 60
        spectrum = Spectrum.of(samples, sample_rate_hz)
        band = self.spec.resonance_band_hz or self._cached_band(time_ms)
        if band is not None:
            envelope = spectrum.envelope(*spectrum.bins_of(band))
            diagnosis = diagnose(envelope, shaft_hz, multipliers, self.settings.diagnosis)
        else:
            diagnosis, envelope = diagnose_in_best_band(
                spectrum, shaft_hz, multipliers, self.settings.diagnosis
            )
            self.band_hz, self.band_picked_at = envelope.band_hz, time_ms
        return diagnosis, envelope.band_hz

    def _cached_band(self, time_ms: int) -> tuple[float, float] | None:
        picked = self.band_picked_at
        if picked is None or time_ms - picked >= self.settings.band_every_s * 1000:
            return None
        return self.band_hz

    def to_dict(self) -> dict[str, Any]:
        """Plain data for snapshots."""
        return {
            "zones": self.zones.to_dict(),
            "trend": self.trend.to_dict(),
            "envelope_trend": self.envelope_trend.to_dict(),
            "band_hz": list(self.band_hz) if self.band_hz else None,
            "band_picked_at": self.band_picked_at,
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take up `to_dict`'s data."""
        self.zones.restore(data["zones"])
        self.trend.restore(data["trend"])
        self.envelope_trend.restore(data["envelope_trend"])
        band = data["band_hz"]
        self.band_hz = (band[0], band[1]) if band else None
        self.band_picked_at = data["band_picked_at"]
