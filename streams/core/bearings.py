"""Which part of a rolling bearing is failing, read from the squared-envelope spectrum (pure).

A local defect makes an impact each time a rolling element passes it; the impacts ring the
structure's resonance, so after demodulating that band the spectrum shows a family of lines at
the defect frequency: BPFO for the outer race, BPFI for the inner race, BSF (and twice it, a
ball striking both races) for a rolling element, FTF for the cage. A component is suspected when
the strongest of its first two lines stands well above the spectrum's background and another
line of its family stands above it too: one line alone is too often something else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.vibration import DefectMultipliers
from streams.core.vibration import EnvelopeSpectrum

# each component's defect multiplier and the multiples of it that make its family of lines: a
# rolling element strikes both races once a spin, so its lines are those of twice the BSF too
COMPONENTS: dict[str, tuple[str, tuple[int, ...]]] = {
    "outer_race": ("bpfo", (1, 2, 3)),
    "inner_race": ("bpfi", (1, 2, 3)),
    "rolling_element": ("bsf", (1, 2, 3, 4)),
    "cage": ("ftf", (1, 2, 3)),
}
COMPONENT_NAMES = {
    "outer_race": "outer race",
    "inner_race": "inner race",
    "rolling_element": "rolling element",
    "cage": "cage",
}


@dataclass(frozen=True)
class DiagnosisSettings:
    """`slip`: how far a line may lie from its kinematic frequency (rolling elements slip);
    `min_ratio`: how far above the background median the strongest of the first two lines must
    stand, `min_harmonic_ratio`: and another line of the family (for Gaussian noise a line
    exceeds r times the median with probability 2^-r², so 4 is ~1e-5 per line)."""

    slip: float = 0.03
    min_ratio: float = 4.0
    min_harmonic_ratio: float = 2.5


@dataclass(frozen=True)
class DefectEvidence:
    """What the envelope spectrum shows at one component's defect frequency and harmonics."""

    component: str
    frequency_hz: float  # kinematic
    found_hz: float  # where its strongest line lies
    amplitude: float  # of that line
    ratios: tuple[float, ...]  # of each line of the family to the background median

    def detected(self, settings: DiagnosisSettings) -> bool:
        """A strong line among the first two and another line of the family."""
        principal = int(np.argmax(self.ratios[:2]))
        if self.ratios[principal] < settings.min_ratio:
            return False
        others = [r for i, r in enumerate(self.ratios) if i != principal]
        return max(others) >= settings.min_harmonic_ratio

    @property
    def score(self) -> float:
        """The family's lines summed: which detected component the spectrum favours."""
        return float(sum(self.ratios))


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


def _line(
    spectrum: EnvelopeSpectrum, frequency_hz: float, slip: float
) -> tuple[float, float] | None:
    """The strongest line within the slip of `frequency_hz` (at least one line either side):
    its frequency and amplitude; None beyond the spectrum."""
    step = spectrum.resolution_hz
    if step <= 0 or frequency_hz + step > spectrum.freqs[-1]:
        return None
    reach = max(frequency_hz * slip, step)
    first = max(1, int(np.floor((frequency_hz - reach) / step)))
    last = int(np.ceil((frequency_hz + reach) / step)) + 1
    index = first + int(np.argmax(spectrum.amplitude[first:last]))
    return float(spectrum.freqs[index]), float(spectrum.amplitude[index])


def background(spectrum: EnvelopeSpectrum, up_to_hz: float) -> float:
    """The median line of the spectrum from its first line to `up_to_hz`: what the lines of a
    defect are compared with (robust to the lines themselves)."""
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
    """The evidence of every component in one envelope spectrum and the suspected one."""
    settings = settings or DiagnosisSettings()
    floor = background(spectrum, highest_line_hz(shaft_hz, multipliers) * (1 + settings.slip))
    evidence = []
    for component, (name, multiples) in COMPONENTS.items():
        frequency = getattr(multipliers, name) * shaft_hz
        lines = [_line(spectrum, k * frequency, settings.slip) for k in multiples]
        found = [line for line in lines if line is not None]
        if not found or floor <= 0:
            nothing = (0.0,) * len(multiples)
            evidence.append(DefectEvidence(component, frequency, frequency, 0.0, nothing))
            continue
        ratios = tuple(line[1] / floor if line else 0.0 for line in lines)
        strongest = max(found[:2], key=lambda line: line[1])
        evidence.append(DefectEvidence(component, frequency, strongest[0], strongest[1], ratios))
    detected = [e for e in evidence if e.detected(settings)]
    suspected = max(detected, key=lambda e: e.score).component if detected else None
    return BearingDiagnosis(tuple(evidence), floor, suspected, shaft_hz)


def highest_line_hz(shaft_hz: float, multipliers: DefectMultipliers) -> float:
    """The highest line of any defect family."""
    return shaft_hz * max(getattr(multipliers, m) * k[-1] for m, k in COMPONENTS.values())


def min_bandwidth_hz(shaft_hz: float, multipliers: DefectMultipliers, slip: float) -> float:
    """The narrowest band worth demodulating: one whose envelope spectrum reaches the highest
    line of every defect family (impacts ring the resonance with lines a defect frequency apart,
    so any two of them in the band beat at it), with a margin."""
    return 1.2 * highest_line_hz(shaft_hz, multipliers) * (1 + slip)
