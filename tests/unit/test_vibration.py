"""Vibration physics on synthetic signals with known answers: velocity RMS and its ISO zone,
bearing defect frequencies, the envelope diagnosis, the zone tracker and the time to limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from connectors.simulator.vibration import MachineVibration, vibration
from schemas.vibration import BearingGeometry, DefectMultipliers, VibrationSpec
from streams.core.condition import ConditionMonitor
from streams.core.severity import (
    ISO_10816_3,
    ZONES,
    ZoneRules,
    ZoneTracker,
    boundaries_of,
    zone_of,
)
from streams.core.trend import TrendFit, TrendRules
from streams.core.vibration import (
    STANDARD_GRAVITY,
    envelope_spectrum,
    iso_band_hz,
    velocity_rms_mm_s,
)

FS = 12_000.0
SKF_6205 = BearingGeometry(rolling_elements=9, ball_diameter_mm=7.94, pitch_diameter_mm=39.04)


def _acceleration_sine(velocity_rms: float, freq: float, unit: str, seconds: float = 1.0):
    """Acceleration whose velocity has the given RMS in mm/s."""
    t = np.arange(int(FS * seconds)) / FS
    amplitude_m_s2 = velocity_rms * math.sqrt(2) * 2 * math.pi * freq / 1000
    scale = 1 / STANDARD_GRAVITY if unit == "g" else 1.0
    return amplitude_m_s2 * scale * np.sin(2 * math.pi * freq * t + 0.4)


@pytest.mark.parametrize("unit", ["g", "m/s2"])
@pytest.mark.parametrize("freq", [24.7, 50.0, 157.3, 800.0])
def test_velocity_rms_of_an_acceleration_sine_is_its_integral(unit: str, freq: float) -> None:
    signal = _acceleration_sine(3.2, freq, unit)
    assert velocity_rms_mm_s(signal, FS, unit) == pytest.approx(3.2, rel=0.02)  # type: ignore[arg-type]


def test_velocity_in_mm_s_or_in_s_is_band_limited_not_integrated() -> None:
    t = np.arange(int(FS)) / FS
    in_band = 2.0 * math.sqrt(2) * np.sin(2 * math.pi * 60 * t)
    below_band = 5.0 * np.sin(2 * math.pi * 4 * t)
    assert velocity_rms_mm_s(in_band + below_band, FS, "mm/s") == pytest.approx(2.0, rel=0.02)
    assert velocity_rms_mm_s(in_band / 25.4, FS, "in/s") == pytest.approx(2.0, rel=0.02)


def test_the_band_starts_at_2_hz_below_600_rpm_and_at_10_hz_above() -> None:
    assert iso_band_hz(450) == (2.0, 1000.0)
    assert iso_band_hz(1480) == (10.0, 1000.0)
    assert iso_band_hz(None) == (10.0, 1000.0)
    slow = _acceleration_sine(2.0, 5.0, "g", seconds=2.0)
    assert velocity_rms_mm_s(slow, FS, "g", iso_band_hz(300)) == pytest.approx(2.0, rel=0.03)
    assert velocity_rms_mm_s(slow, FS, "g", iso_band_hz(1500)) < 0.2


@pytest.mark.parametrize(("group", "foundation"), sorted(ISO_10816_3))
def test_a_sine_of_known_velocity_lands_in_the_zone_of_its_group_and_foundation(
    group: int, foundation: str
) -> None:
    spec = VibrationSpec(unit="g", machine_group=group, foundation=foundation)  # type: ignore[arg-type]
    bounds = boundaries_of(spec)
    middles = [
        bounds[0] / 2,
        *((lo + hi) / 2 for lo, hi in zip(bounds, bounds[1:], strict=False)),
        bounds[2] * 1.5,
    ]
    for expected, velocity in zip(ZONES, middles, strict=True):
        measured = velocity_rms_mm_s(_acceleration_sine(velocity, 49.5, "g"), FS, "g")
        assert zone_of(measured, bounds) == expected


def test_group_2_rigid_boundaries_are_the_standards() -> None:
    assert boundaries_of(VibrationSpec(unit="g")) == (1.4, 2.8, 4.5)
    own = VibrationSpec(unit="g", zone_boundaries_mm_s=(1.0, 2.0, 3.0))
    assert boundaries_of(own) == (1.0, 2.0, 3.0)
    assert zone_of(2.8, (1.4, 2.8, 4.5)) == "C"


def test_bearing_geometry_gives_the_makers_multipliers() -> None:
    multipliers = SKF_6205.multipliers()
    assert multipliers.bpfo == pytest.approx(3.5848, abs=2e-3)
    assert multipliers.bpfi == pytest.approx(5.4152, abs=2e-3)
    assert multipliers.bsf == pytest.approx(2.3570, abs=2e-3)
    assert multipliers.ftf == pytest.approx(0.3983, abs=1e-3)
    spec = VibrationSpec(unit="g", bearing=SKF_6205)
    assert spec.multipliers == multipliers


def test_impossible_specs_are_refused_with_what_to_check() -> None:
    with pytest.raises(ValidationError, match="data sheet"):
        BearingGeometry(rolling_elements=9, ball_diameter_mm=40, pitch_diameter_mm=39)
    with pytest.raises(ValidationError, match="must rise"):
        VibrationSpec(unit="g", zone_boundaries_mm_s=(2.8, 1.4, 4.5))
    with pytest.raises(ValidationError):
        VibrationSpec(unit="furlong/s")  # type: ignore[arg-type]


def _diagnosed(defect, seed: int, impact_g: float = 0.3, seconds: int = 3, band=None):
    """The component the condition monitor names in each second of a simulated bearing."""
    machine = MachineVibration()
    multipliers = SKF_6205.multipliers()
    spec = VibrationSpec(
        unit="g", shaft_rpm=machine.shaft_hz * 60, bearing=SKF_6205, resonance_band_hz=band
    )
    monitor = ConditionMonitor(spec)
    rng = np.random.default_rng(seed)
    found = []
    for second in range(seconds):
        signal = vibration(machine, FS, second, int(FS), rng, defect, multipliers, impact_g)
        found.append(monitor.observe(second * 1000, signal, FS).suspected)
    return found


@pytest.mark.parametrize("defect", ["outer_race", "inner_race", "rolling_element"])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_bearing_defect_is_named_for_its_component_and_no_other(defect: str, seed: int) -> None:
    assert _diagnosed(defect, seed) == [defect] * 3


def test_a_weak_defect_deep_in_noise_is_still_named_and_a_healthy_bearing_is_not() -> None:
    assert _diagnosed("outer_race", 3, impact_g=0.08) == ["outer_race"] * 3
    assert _diagnosed(None, 3, seconds=20) == [None] * 20


def test_a_declared_resonance_band_is_used_instead_of_the_kurtogram() -> None:
    assert _diagnosed("inner_race", 4, band=(2500.0, 3500.0)) == ["inner_race"] * 3
    signal = vibration(MachineVibration(), FS, 0, int(FS), np.random.default_rng(0))
    assert envelope_spectrum(signal, FS, (2500.0, 3500.0)).band_hz == (2500.0, 3501.0)


def test_multipliers_may_be_declared_instead_of_geometry() -> None:
    declared = DefectMultipliers(bpfo=3.5848, bpfi=5.4152, bsf=2.357, ftf=0.3983)
    spec = VibrationSpec(unit="g", bearing=declared, shaft_rpm=1797)
    assert spec.multipliers == declared


def test_the_zone_changes_only_after_it_held_and_comes_back_below_the_hysteresis() -> None:
    tracker = ZoneTracker((1.4, 2.8, 4.5), ZoneRules(hold_s=10, hysteresis=0.1))
    assert tracker.observe(0, 1.0) == "A"
    assert [tracker.observe(t * 1000, 3.0) for t in range(1, 11)] == [None] * 10
    assert tracker.observe(11_000, 3.0) == "C"  # held from 1 s to 11 s
    assert tracker.observe(12_000, 5.0) is None
    assert tracker.observe(13_000, 3.0) is None  # the rise to D was not held
    assert [tracker.observe(t * 1000, 2.6) for t in range(14, 30)] == [None] * 16  # 2.6 > 2.52
    changes = [tracker.observe(t * 1000, 2.4) for t in range(30, 41)]
    assert changes == [None] * 10 + ["B"]
    restored = ZoneTracker((1.4, 2.8, 4.5))
    restored.restore(tracker.to_dict())
    assert restored.zone == "B"


def test_a_rise_through_two_zones_lands_where_it_was_held() -> None:
    tracker = ZoneTracker((1.4, 2.8, 4.5), ZoneRules(hold_s=5, hysteresis=0.1))
    tracker.observe(0, 1.0)
    steps = [tracker.observe(t * 1000, 3.0 if t < 3 else 6.0) for t in range(1, 13)]
    # C was held from 1 s, D only from 3 s: C at 6 s, then D after D's own hold, at 12 s
    assert steps == [None] * 5 + ["C"] + [None] * 5 + ["D"]


def _drift(fit: TrendFit, hours: float, level: float, per_hour: float, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    for second in range(int(hours * 3600)):
        fit.observe(second * 1000, level + per_hour * second / 3600 + rng.normal(0, noise))


def test_a_linear_drift_forecasts_its_crossing_within_ten_percent() -> None:
    fit = TrendFit()
    _drift(fit, hours=3, level=1.0, per_hour=0.5, noise=0.3, seed=5)
    forecast = fit.forecast(4.5)  # true crossing at 7 h
    assert forecast is not None
    true_ms = 7 * 3_600_000
    now_ms = 3 * 3_600_000
    assert abs(forecast.at_ms - true_ms) <= 0.1 * (true_ms - now_ms)
    assert forecast.low_ms <= true_ms <= forecast.high_ms
    assert forecast.low_ms <= forecast.at_ms <= forecast.high_ms
    assert forecast.slope_per_hour == pytest.approx(0.5, rel=0.1)
    assert len(fit.means) <= TrendRules().points


@pytest.mark.parametrize("seed", range(5))
def test_pure_noise_gives_no_forecast(seed: int) -> None:
    fit = TrendFit()
    rng = np.random.default_rng(seed)
    forecasts = []
    for second in range(6 * 3600):
        fit.observe(second * 1000, 2.0 + rng.normal(0, 0.5))
        if second % 60 == 59:
            forecasts.append(fit.forecast(4.5))
    assert forecasts.count(None) == len(forecasts)
    assert len(fit.means) == TrendRules().points


def test_no_forecast_away_from_the_limit_beyond_it_or_too_far_ahead() -> None:
    falling = TrendFit()
    _drift(falling, hours=2, level=3.0, per_hour=-0.5, noise=0.1, seed=1)
    assert falling.forecast(4.5) is None
    rising = TrendFit()
    _drift(rising, hours=2, level=1.0, per_hour=0.5, noise=0.1, seed=1)
    assert rising.forecast(1.5) is None  # already beyond
    assert rising.forecast(40.0) is None  # 78 h ahead of 2 h of data
    restored = TrendFit()
    restored.restore(rising.to_dict())
    assert restored.forecast(4.5) == rising.forecast(4.5)
