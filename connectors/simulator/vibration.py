"""Physically plausible vibration of a machine on rolling bearings (numpy): shaft rotation
harmonics, broadband noise, and a local bearing defect as periodic impacts at its defect
frequency that ring a structural resonance - amplitude-modulated at shaft speed for the inner
race (the defect turns with the shaft through the load zone), at cage speed for a rolling
element - with a little random slip, growing with `wear`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from schemas.vibration import BearingGeometry, DefectMultipliers

Defect = Literal["outer_race", "inner_race", "rolling_element", "cage"]
# every simulated machine runs on this deep-groove ball bearing (an SKF 6205)
BEARING = BearingGeometry(rolling_elements=9, ball_diameter_mm=7.94, pitch_diameter_mm=39.04)
SHAFT_G = 0.02  # shaft-rate acceleration of a sound machine: ~0.9 mm/s RMS, zone A
BEARING_GROWTH_S = 60.0  # a bearing fault adds the sound machine's vibration every minute


@dataclass(frozen=True)
class MachineVibration:
    """The machine's vibration as acceleration in g: shaft harmonics of `shaft_g` (1x, 2x, 3x
    falling off), noise of `noise_g` RMS, a resonance at `resonance_hz` damped by `damping`."""

    shaft_hz: float = 29.95
    shaft_g: float = 0.05
    noise_g: float = 0.02
    resonance_hz: float = 3000.0
    damping: float = 0.05
    slip: float = 0.01


def _impact_times(
    rate_hz: float, start_s: float, duration_s: float, slip: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    first = np.ceil(start_s * rate_hz)
    count = int(duration_s * rate_hz) + 2
    times = (first + np.arange(count)) / rate_hz
    return times + rng.normal(0.0, slip / rate_hz, count)


def vibration(
    machine: MachineVibration,
    sample_rate_hz: float,
    start_s: float,
    samples: int,
    rng: np.random.Generator,
    defect: Defect | None = None,
    multipliers: DefectMultipliers | None = None,
    impact_g: float = 0.0,
) -> npt.NDArray[np.float64]:
    """`samples` of acceleration in g from `start_s` (continuous across calls: the phases are
    those of absolute time); with a `defect` of the bearing of `multipliers`, its impacts ring
    the resonance with a peak of `impact_g`."""
    t = start_s + np.arange(samples) / sample_rate_hz
    shaft = 2 * np.pi * machine.shaft_hz * t
    signal = machine.shaft_g * (
        np.sin(shaft) + 0.5 * np.sin(2 * shaft + 0.3) + 0.25 * np.sin(3 * shaft + 1.1)
    )
    signal += rng.normal(0.0, machine.noise_g, samples)
    if defect is None or multipliers is None or impact_g <= 0:
        return signal
    factor = {
        "outer_race": multipliers.bpfo,
        "inner_race": multipliers.bpfi,
        "rolling_element": 2 * multipliers.bsf,
        "cage": multipliers.ftf,
    }[defect]
    rate = factor * machine.shaft_hz
    duration = samples / sample_rate_hz
    ring_s = 5.0 / (machine.damping * 2 * np.pi * machine.resonance_hz)
    impacts = _impact_times(rate, start_s - ring_s, duration + ring_s, machine.slip, rng)
    if defect == "inner_race":
        strength = 1.0 + 0.8 * np.cos(2 * np.pi * machine.shaft_hz * impacts)
    elif defect == "rolling_element":
        strength = 1.0 + 0.8 * np.cos(2 * np.pi * multipliers.ftf * machine.shaft_hz * impacts)
    else:
        strength = np.ones_like(impacts)
    omega = 2 * np.pi * machine.resonance_hz
    decay = machine.damping * omega
    ring_samples = int(ring_s * sample_rate_hz) + 1
    for impact, weight in zip(impacts, strength, strict=True):
        first = int(np.ceil((impact - start_s) * sample_rate_hz))
        lo, hi = max(first, 0), min(first + ring_samples, samples)
        if lo >= hi:
            continue
        since = t[lo:hi] - impact
        signal[lo:hi] += impact_g * weight * np.exp(-decay * since) * np.sin(omega * since)
    return signal


@dataclass(frozen=True)
class MachineCondition:
    """What shapes a simulated machine's vibration in one second: whether it runs, its wear,
    a spike fault, and a failing bearing component with how long it has been failing."""

    running: bool
    wear: float
    spiking: bool = False
    failing: tuple[Defect, float] | None = None


def second_of_vibration(
    shaft_hz: float,
    sample_rate_hz: int,
    start_s: float,
    rng: np.random.Generator,
    condition: MachineCondition,
) -> npt.NDArray[np.float64]:
    """One second of a simulated machine's acceleration in g, as its condition makes it."""
    load = 1.0 if condition.running else 0.1
    shaft_g = SHAFT_G * load * (1.0 + 60 * condition.wear)
    if condition.spiking:
        shaft_g *= 6.0
    impact_g, defect = 0.0, None
    if condition.failing is not None:  # the defect grows, and the machine shakes more with it
        defect, failing_s = condition.failing
        impact_g = (0.05 + 0.004 * failing_s) * load
        shaft_g *= 1.0 + failing_s / BEARING_GROWTH_S
    elif condition.wear > 0:  # a worn machine's bearing knocks: impacts that grow with wear
        defect, impact_g = "outer_race", 3.0 * condition.wear * load
    physics = MachineVibration(
        shaft_hz=shaft_hz,
        shaft_g=shaft_g,
        noise_g=0.01 * (1.0 + 200 * condition.wear),  # wear shakes the machine broadband
        resonance_hz=min(0.3 * sample_rate_hz, 3000.0),
    )
    return vibration(
        physics,
        sample_rate_hz,
        start_s,
        sample_rate_hz,
        rng,
        defect,
        BEARING.multipliers(),
        impact_g,
    )
