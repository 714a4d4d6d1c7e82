"""Vectorised features of fast-sensor sample batches, per second of samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SecondFeatures:
    """Summary of the samples of one sensor in one second (`second` is epoch ms, floored)."""

    second: int
    samples: int
    mean: float
    minimum: float
    maximum: float
    rms: float
    peak: float
    crest_factor: float
    kurtosis: float
    band_energy: tuple[float, float, float]


def _band_energy(samples: FloatArray) -> tuple[float, float, float]:
    """Share of spectral energy (mean removed) in the low, middle and high third of the band."""
    if samples.size < 6:
        return (0.0, 0.0, 0.0)
    power = np.abs(np.fft.rfft(samples - samples.mean())) ** 2
    total = float(power.sum())
    if total <= 0.0:
        return (0.0, 0.0, 0.0)
    low, mid, high = np.array_split(power, 3)
    return (float(low.sum() / total), float(mid.sum() / total), float(high.sum() / total))


def _features(second: int, samples: FloatArray) -> SecondFeatures:
    mean = float(samples.mean())
    rms = float(np.sqrt(np.mean(samples * samples)))
    peak = float(np.max(np.abs(samples)))
    centred = samples - mean
    squared = centred * centred
    variance = float(np.mean(squared))
    kurtosis = float(np.mean(squared * squared) / variance**2) if variance > 0 else 0.0
    return SecondFeatures(
        second=second,
        samples=int(samples.size),
        mean=mean,
        minimum=float(samples.min()),
        maximum=float(samples.max()),
        rms=rms,
        peak=peak,
        crest_factor=peak / rms if rms > 0 else 0.0,
        kurtosis=kurtosis,
        band_energy=_band_energy(samples),
    )


def second_chunks(
    start_ms: int, sample_rate_hz: float, samples: FloatArray
) -> list[tuple[int, FloatArray]]:
    """The batch's samples split into whole UTC seconds of sample time: (second, samples)."""
    period = 1000.0 / sample_rate_hz
    first_second = start_ms - start_ms % 1000
    last_time = start_ms + int((samples.size - 1) * period)
    if last_time - last_time % 1000 == first_second:  # the usual batch: within one second
        return [(first_second, samples)]
    times = start_ms + (np.arange(samples.size) * period).astype(np.int64)
    seconds = times - times % 1000
    boundaries = np.flatnonzero(np.diff(seconds)) + 1
    starts = np.concatenate(([0], boundaries))
    return [
        (int(seconds[s]), chunk)
        for s, chunk in zip(starts, np.split(samples, boundaries), strict=True)
    ]


def per_second_features(
    start_ms: int, sample_rate_hz: float, values: npt.ArrayLike
) -> list[SecondFeatures]:
    """Split a batch into whole UTC seconds of sample time and summarise each (computed in
    float64 whatever the samples' type)."""
    samples = np.asarray(values, dtype=np.float64)
    return [_features(s, chunk) for s, chunk in second_chunks(start_ms, sample_rate_hz, samples)]
