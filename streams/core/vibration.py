"""Vibration physics of one window of samples (pure, vectorised numpy): velocity RMS in the ISO
band, integrated from acceleration in the frequency domain, and the squared-envelope spectrum of
the band around the structural resonance, where bearing impacts show as lines at their defect
frequencies."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from schemas.vibration import VibrationUnit

FloatArray = npt.NDArray[np.float64]
STANDARD_GRAVITY = 9.80665
TO_M_S2: dict[str, float] = {"g": STANDARD_GRAVITY, "m/s2": 1.0}
TO_MM_S: dict[str, float] = {"mm/s": 1.0, "in/s": 25.4}
SLOW_SHAFT_RPM = 600.0  # ISO 10816-3: below it the band starts at 2 Hz, not 10
BAND_LEVELS = 5


@lru_cache(maxsize=32)
def hann(size: int) -> FloatArray:
    """A Hann window of `size` points (kept: windows of a sensor's size recur every second)."""
    window = np.hanning(size)
    window.flags.writeable = False
    return window


def iso_band_hz(shaft_rpm: float | None) -> tuple[float, float]:
    """The band ISO 10816-3 measures velocity over: 10-1000 Hz, 2-1000 Hz below 600 rpm."""
    if shaft_rpm is not None and shaft_rpm < SLOW_SHAFT_RPM:
        return (2.0, 1000.0)
    return (10.0, 1000.0)


def velocity_rms_mm_s(
    samples: npt.ArrayLike,
    sample_rate_hz: float,
    unit: VibrationUnit,
    band_hz: tuple[float, float] = (10.0, 1000.0),
) -> float:
    """RMS velocity in mm/s over `band_hz` (cut at the Nyquist frequency): acceleration is
    divided by j·2πf bin by bin, velocity is band-limited as it is. A Hann window keeps the
    leakage of strong low lines out of the band; Parseval's sum is corrected for its power."""
    signal = np.asarray(samples, dtype=np.float64)
    if signal.size < 4:
        return 0.0
    signal = signal - signal.mean()
    window = hann(signal.size)
    spectrum = np.fft.rfft(signal * window)
    freqs = np.fft.rfftfreq(signal.size, 1.0 / sample_rate_hz)
    low, high = band_hz
    in_band = (freqs >= low) & (freqs <= min(high, sample_rate_hz / 2)) & (freqs > 0)
    if unit in TO_M_S2:
        velocity = spectrum[in_band] * (TO_M_S2[unit] * 1000.0) / (2 * np.pi * freqs[in_band])
    else:
        velocity = spectrum[in_band] * TO_MM_S[unit]
    power = velocity.real**2 + velocity.imag**2
    one_sided = np.where(freqs[in_band] >= sample_rate_hz / 2, 1.0, 2.0)
    mean_square = float(np.sum(power * one_sided)) / (signal.size**2 * np.mean(window * window))
    return float(np.sqrt(mean_square))


@dataclass(frozen=True)
class EnvelopeSpectrum:
    """The squared-envelope spectrum of one window: amplitude per frequency (Hz) and the band
    it was demodulated from, with that band's spectral kurtosis."""

    freqs: FloatArray
    amplitude: FloatArray
    band_hz: tuple[float, float]
    kurtosis: float

    @property
    def resolution_hz(self) -> float:
        """The spacing of its lines."""
        return float(self.freqs[1] - self.freqs[0]) if self.freqs.size > 1 else 0.0


@dataclass(frozen=True)
class Spectrum:
    """The one-sided spectrum of a window (mean removed), computed once for every band."""

    values: npt.NDArray[np.complex128]
    samples: int
    sample_rate_hz: float

    @classmethod
    def of(cls, samples: npt.ArrayLike, sample_rate_hz: float) -> Spectrum:
        """The spectrum of `samples`."""
        signal = np.asarray(samples, dtype=np.float64)
        return cls(np.fft.rfft(signal - signal.mean()), signal.size, sample_rate_hz)

    @property
    def hz_per_bin(self) -> float:
        """The spacing of its bins."""
        return self.sample_rate_hz / max(self.samples, 1)

    def bins_of(self, band_hz: tuple[float, float]) -> tuple[int, int]:
        """The first and (exclusive) last bin of a band in Hz, at least two bins."""
        first = max(1, int(np.ceil(band_hz[0] / self.hz_per_bin)))
        last = min(self.values.size, int(np.floor(band_hz[1] / self.hz_per_bin)) + 1)
        return first, max(last, first + 2)

    def bands(self, min_bandwidth_hz: float) -> list[tuple[int, int]]:
        """Candidate bands to demodulate: the halves, quarters, ... of the spectrum and the same
        shifted by half their width (the tree of Antoni's fast kurtogram), none narrower than
        `min_bandwidth_hz`."""
        bins = self.values.size
        found = []
        for level in range(1, BAND_LEVELS + 1):
            width = bins // 2**level
            if width * self.hz_per_bin < min_bandwidth_hz or width < 8:
                break
            found += [
                (max(start, 1), start + width) for start in range(0, bins - width + 1, width // 2)
            ]
        return found or [(1, bins)]

    def envelope(self, first: int, last: int) -> EnvelopeSpectrum:
        """The squared-envelope spectrum of the band from bin `first` to `last`; amplitudes are
        those of a Hann-windowed spectrum (a line of amplitude a reads a)."""
        envelope = (
            _complex_envelope(self.values, first, last) * (4.0 / self.samples) * (last - first)
        )
        squared = envelope.real**2 + envelope.imag**2
        kurtosis = _spectral_kurtosis(squared)
        squared = squared - squared.mean()
        window = hann(squared.size)
        amplitude = np.abs(np.fft.rfft(squared * window)) * (2.0 / window.sum())
        rate = 2 * (last - first) * self.hz_per_bin
        return EnvelopeSpectrum(
            freqs=np.fft.rfftfreq(squared.size, 1.0 / rate).astype(np.float64),
            amplitude=amplitude,
            band_hz=(first * self.hz_per_bin, last * self.hz_per_bin),
            kurtosis=kurtosis,
        )


def _complex_envelope(spectrum: npt.NDArray[np.complex128], first: int, last: int) -> Any:
    """The band's analytic signal shifted to baseband, at twice the band's rate (zero-padded so
    that the squared envelope does not alias)."""
    band = spectrum[first:last]
    padded = np.zeros(2 * band.size, dtype=np.complex128)
    padded[: band.size] = band
    return np.fft.ifft(padded)


def _spectral_kurtosis(power: FloatArray) -> float:
    """Kurtosis of a complex envelope from its power (0 for Gaussian noise, high for impacts)."""
    mean_power = float(power.mean())
    if mean_power <= 0:
        return 0.0
    return float(np.mean(power * power) / (mean_power * mean_power) - 2.0)


def envelope_spectrum(
    samples: npt.ArrayLike,
    sample_rate_hz: float,
    band_hz: tuple[float, float] | None = None,
    min_bandwidth_hz: float = 500.0,
) -> EnvelopeSpectrum:
    """The squared-envelope spectrum of the samples demodulated around `band_hz`, or, when none
    is given, around the candidate band of highest spectral kurtosis (a simplified kurtogram)."""
    spectrum = Spectrum.of(samples, sample_rate_hz)
    if band_hz is not None:
        return spectrum.envelope(*spectrum.bins_of(band_hz))
    candidates = (spectrum.envelope(*band) for band in spectrum.bands(min_bandwidth_hz))
    return max(candidates, key=lambda e: e.kurtosis)
