"""What the sensor processor derives from readings and batches, and what its alerts say (pure)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from schemas.events import BatchHeader, SensorSecond, SensorSpec
from schemas.states import State, state_family
from streams.core.anomaly import Scored
from streams.core.features import per_second_features

RUNNING_FAMILIES = frozenset({State.PRODUCING, State.REDUCED_SPEED})
ASSET_SOURCE = "all sensors"
Observation = tuple[int, dict[str, float]]  # time, features


def operating_mode(state: int) -> str:
    """Sensors behave differently while a machine runs and while it stands still; each mode
    gets its own model so that a normal stop is not an anomaly."""
    return "running" if state_family(state) in RUNNING_FAMILIES else "stopped"


def second_features(second: SensorSecond) -> dict[str, float]:
    """The features of a per-second summary that the detector scores."""
    return {
        "rms": second.rms,
        "peak": second.peak,
        "crest_factor": second.crest_factor,
        "kurtosis": second.kurtosis,
        "band_low": second.band_low,
        "band_mid": second.band_mid,
        "band_high": second.band_high,
    }


def seconds_of(batch: BatchHeader, samples: NDArray[np.floating[Any]]) -> list[SensorSecond]:
    """The per-second summaries of a batch's samples."""
    return [
        SensorSecond(
            id=f"{batch.id}|{s.second}",
            time=s.second,
            asset=batch.asset,
            context=batch.context,
            sensor=batch.sensor,
            samples=s.samples,
            mean=s.mean,
            minimum=s.minimum,
            maximum=s.maximum,
            rms=s.rms,
            peak=s.peak,
            crest_factor=s.crest_factor,
            kurtosis=s.kurtosis,
            band_low=s.band_energy[0],
            band_mid=s.band_energy[1],
            band_high=s.band_energy[2],
            unit=batch.unit,
            batch_id=batch.id,
        )
        for s in per_second_features(batch.time, batch.sample_rate_hz, samples)
    ]


def crossed_limit(value: float, spec: SensorSpec) -> float | None:
    """The limit a value is beyond (else the upper one, for the record)."""
    if spec.expected_min is not None and value < spec.expected_min:
        return spec.expected_min
    return spec.expected_max


def anomaly_message(source: str, asset: str, scored: Scored) -> str:
    """What an anomaly alert step says."""
    if source == ASSET_SOURCE:
        if scored.is_anomaly:
            return (
                f"the sensors of {asset} together behave unlike their recent past "
                f"(score {scored.evidence:.4f})"
            )
        return f"the sensors of {asset} are back to normal"
    if scored.is_anomaly:
        return f"{source} on {asset} behaves unlike its recent past (score {scored.evidence:.4f})"
    return f"{source} on {asset} is back to normal"
