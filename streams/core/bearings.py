"""Which part of a rolling bearing is failing, read from the squared-envelope spectrum (pure).

A local defect makes an impact each time a rolling element passes it; the impacts ring the
structure's resonance, so after demodulating that band the spectrum shows a family of lines at
the defect frequency: BPFO for the outer race, BPFI for the inner race, BSF (and twice it, a
ball striking both races) for a rolling element, FTF for the cage.

A component is suspected when its principal line (the defect frequency; for a rolling element
BSF or twice it) stands well above the spectrum around it and another line of its family stands
above it too: one line alone is too often something else. Of the components suspected, the one
whose principal line stands out most is named, and the cage only when nothing else is (a
rolling element's fault turns with the cage, so its lines are modulated at FTF). Harmonics are
not compared across components, as families overlap (three BPFO lie within 1 % of two BPFI on
many bearings). Lines at whole multiples of the shaft speed are not bearing evidence
(unbalance, looseness and the electrical supply put lines there), so they are left out of the
search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.vibration import DefectMultipliers
from streams.core.vibration import EnvelopeSpectrum, Spectrum

# each component's defect multiplier, the multiples of it that make its family of lines, and how
# many of the first lines may be its principal one: a rolling element strikes both races once a
# spin, so BSF or twice it
COMPONENTS: dict[str, tuple[str, tuple[int, ...], int]] = {
    "outer_race": ("bpfo", (1, 2, 3), 1),
    "inner_race": ("bpfi", (1, 2, 3), 1),
    "rolling_element": ("bsf", (1, 2, 3, 4), 2),
    "cage": ("ftf", (1, 2, 3), 1),
}
COMPONENT_NAMES = {
    "outer_race": "outer race",
    "inner_race": "inner race",
    "rolling_element": "rolling element",
    "cage": "cage",
}


LOCAL_SPAN = 0.4  # a line is compared with the spectrum within 40 % of its frequency
LOCAL_MIN_LINES = 10  # and at least this many lines either side
SHAFT_ORDER_LINES = 1  # lines within this many of a shaft order are left out of the search


@dataclass(frozen=True)
class DiagnosisSettings:
    """`slip`: how far a line may lie from its kinematic frequency (rolling elements slip);
    `min_ratio`: how far above the spectrum's median around it the principal line must stand,
    `min_harmonic_ratio`: and another line of the family. For Gaussian noise a line exceeds r
    times the median with probability 2^-r²; choosing the band of clearest evidence compares
    ~10^3 lines a window (bands x components x lines in the slip), and real spectra have heavier
    tails than Gaussian noise, hence 6 rather than the 4 one line alone would need."""

    slip: float = 0.03
    min_ratio: float = 6.0
    min_harmonic_ratio: float = 2.5


@dataclass(frozen=True)
class DefectEvidence:
    """What the envelope spectrum shows at one component's defect frequency and harmonics."""

    component: str
    frequency_hz: float  # kinematic
    found_hz: float  # where its principal line lies
    ratios: tuple[float, ...]  # of each line of the family to the spectrum's median around it
    principal: int  # index of the principal line in `ratios`

    def detected(self, settings: DiagnosisSettings) -> bool:
        """A strong principal line and another line of the family."""
        if self.ratio < settings.min_ratio:
            return False
        others = [r for i, r in enumerate(self.ratios) if i != self.principal]
        return max(others) >= settings.min_harmonic_ratio

    @property
    def ratio(self) -> float:
        """How far its principal line stands out: which detected component is named."""
        return self.ratios[self.principal]


@dataclass(frozen=True)
class BearingDiagnosis:
    """The evidence for each component and the suspected one (None: nothing stands out)."""

    evidence: tuple[DefectEvidence, ...]
    background: float
    suspected: str | None
    shaft_hz: float

    def of(self, component: str) -> DefectEvidence:
        """The evidence of one component."""
        return next(e for e in self.evidence if e.component == component)


def _median(values: npt.NDArray[np.float64]) -> float:
    """The (upper) median, without np.median's checks: it runs a dozen times a second."""
    middle = values.size // 2
    return float(np.partition(values, middle)[middle]) if values.size else 0.0


def _lines(
    spectrum: EnvelopeSpectrum,
    frequencies_hz: npt.NDArray[np.float64],
    slip: float,
    shaft_hz: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """For each frequency, the strongest line within its slip (at least one line either side),
    shaft orders left out: where it lies and its ratio to the spectrum's median around it. The
    ratio is 0 beyond the spectrum, and where the frequency itself cannot be told from a shaft
    order at this resolution. (All lines at once: this runs every second for every sensor.)"""
    step, amplitude, size = spectrum.resolution_hz, spectrum.amplitude, spectrum.amplitude.size
    if step <= 0:
        return frequencies_hz.copy(), np.zeros(frequencies_hz.size)
    orders = np.maximum(np.round(frequencies_hz / shaft_hz), 1) * shaft_hz
    usable = (frequencies_hz + step <= spectrum.freqs[-1]) & (
        np.abs(frequencies_hz - orders) > SHAFT_ORDER_LINES * step
    )
    reach = np.maximum(frequencies_hz * slip, step)
    first = np.maximum(1, np.floor((frequencies_hz - reach) / step).astype(np.int64))
    last = np.ceil((frequencies_hz + reach) / step).astype(np.int64) + 1
    index = first[:, None] + np.arange(int((last - first).max()))[None, :]
    inside = index < last[:, None]
    index = np.minimum(index, size - 1)
    line_hz = spectrum.freqs[index]
    line_orders = np.maximum(np.round(line_hz / shaft_hz), 1) * shaft_hz
    candidates = np.where(
        inside & (np.abs(line_hz - line_orders) > SHAFT_ORDER_LINES * step), amplitude[index], -1.0
    )
    best = np.argmax(candidates, axis=1)
    rows = np.arange(frequencies_hz.size)
    peaks, found_hz = candidates[rows, best], line_hz[rows, best]
    around = np.maximum(frequencies_hz * LOCAL_SPAN, LOCAL_MIN_LINES * step)
    local_first = np.maximum(1, ((frequencies_hz - around) / step).astype(np.int64))
    local_last = ((frequencies_hz + around) / step).astype(np.int64) + 1
    ratios = np.zeros(frequencies_hz.size)
    for i in np.flatnonzero(usable & (peaks >= 0)):
        local = _median(amplitude[local_first[i] : local_last[i]])
        ratios[i] = peaks[i] / local if local > 0 else 0.0
    return np.where(usable, found_hz, frequencies_hz), ratios


def background(spectrum: EnvelopeSpectrum, up_to_hz: float) -> float:
    """The median line of the spectrum from its first line to `up_to_hz` (for the record: each
    line is judged against the median around it, as the background falls with frequency)."""
    step = spectrum.resolution_hz
    last = int(up_to_hz / step) + 1 if step > 0 else 0
    lines = spectrum.amplitude[1 : max(last, 2)]
    return float(np.median(lines)) if lines.size else 0.0


def diagnose(
    spectrum: EnvelopeSpectrum,
    shaft_hz: float,
    multipliers: DefectMultipliers,
    settings: DiagnosisSettings | None = None,
) -> BearingDiagnosis:
    """The evidence of every component in one envelope spectrum and the suspected one: of the
    components detected, the one whose strongest line stands out most."""
    settings = settings or DiagnosisSettings()
    floor = background(spectrum, highest_line_hz(shaft_hz, multipliers) * (1 + settings.slip))
    fundamentals = [getattr(multipliers, name) * shaft_hz for name, _, _ in COMPONENTS.values()]
    wanted = np.array(
        [
            k * f
            for f, (_, multiples, _) in zip(fundamentals, COMPONENTS.values(), strict=True)
            for k in multiples
        ]
    )
    found_hz, all_ratios = _lines(spectrum, wanted, settings.slip, shaft_hz)
    evidence, at = [], 0
    for frequency, (component, (_, multiples, principals)) in zip(
        fundamentals, COMPONENTS.items(), strict=True
    ):
        ratios = tuple(float(r) for r in all_ratios[at : at + len(multiples)])
        principal = int(np.argmax(ratios[:principals]))
        found = float(found_hz[at + principal]) if ratios[principal] > 0 else frequency
        evidence.append(DefectEvidence(component, frequency, found, ratios, principal))
        at += len(multiples)
    detected = [e for e in evidence if e.detected(settings)]
    if any(e.component != "cage" for e in detected):
        # a rolling element turns with the cage: its fault's lines are modulated at FTF
        detected = [e for e in detected if e.component != "cage"]
    suspected = max(detected, key=lambda e: e.ratio).component if detected else None
    return BearingDiagnosis(tuple(evidence), floor, suspected, shaft_hz)


def _clarity(diagnosis: BearingDiagnosis, settings: DiagnosisSettings) -> tuple[bool, float]:
    detected = [e.ratio for e in diagnosis.evidence if e.detected(settings)]
    return bool(detected), max(detected or [e.ratio for e in diagnosis.evidence])


def diagnose_in_best_band(
    spectrum: Spectrum,
    shaft_hz: float,
    multipliers: DefectMultipliers,
    settings: DiagnosisSettings | None = None,
) -> tuple[BearingDiagnosis, EnvelopeSpectrum]:
    """The diagnosis in the candidate band that shows a defect most clearly, with that band's
    envelope spectrum. Judging bands by the defect lines themselves, not by their kurtosis,
    keeps a band of random spikes or of the anti-alias filter's edge from being chosen."""
    settings = settings or DiagnosisSettings()
    best: tuple[tuple[bool, float], BearingDiagnosis, EnvelopeSpectrum] | None = None
    for band in spectrum.bands(min_bandwidth_hz(shaft_hz, multipliers, settings.slip)):
        envelope = spectrum.envelope(*band)
        diagnosis = diagnose(envelope, shaft_hz, multipliers, settings)
        clarity = _clarity(diagnosis, settings)
        if best is None or clarity > best[0]:
            best = (clarity, diagnosis, envelope)
    assert best is not None  # bands() gives at least one  # noqa: S101
    return best[1], best[2]


def highest_line_hz(shaft_hz: float, multipliers: DefectMultipliers) -> float:
    """The highest line of any defect family."""
    return shaft_hz * max(getattr(multipliers, m) * k[-1] for m, k, _ in COMPONENTS.values())


def min_bandwidth_hz(shaft_hz: float, multipliers: DefectMultipliers, slip: float) -> float:
    """The narrowest band worth demodulating: one whose envelope spectrum reaches the highest
    line of every defect family (impacts ring the resonance with lines a defect frequency apart,
    so any two of them in the band beat at it), with a margin."""
    return 1.2 * highest_line_hz(shaft_hz, multipliers) * (1 + slip)
