"""Online anomaly scoring of one sensor with River: learn and score each observation once."""

from __future__ import annotations

from dataclasses import dataclass

from river import anomaly


@dataclass(frozen=True)
class DetectorSettings:
    window_size: int = 600
    warmup: int = 60
    threshold: float = 0.9995


@dataclass(frozen=True)
class Scored:
    score: float
    is_anomaly: bool
    warming_up: bool


class SensorDetector:
    """One River GaussianScorer per feature over a rolling window; the score is the largest.

    Observations scored as anomalous are not learned, so that a fault does not become the new
    normal; nothing is flagged during the warm-up.
    """

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.learned = 0
        self._scorers: dict[str, anomaly.GaussianScorer] = {}

    def _scorer(self, feature: str) -> anomaly.GaussianScorer:
        if feature not in self._scorers:
            self._scorers[feature] = anomaly.GaussianScorer(
                window_size=self.settings.window_size, grace_period=self.settings.warmup
            )
        return self._scorers[feature]

    def observe(self, features: dict[str, float]) -> Scored:
        score = max(
            (float(self._scorer(f).score_one(None, v)) for f, v in features.items()), default=0.0
        )
        warming_up = self.learned < self.settings.warmup
        is_anomaly = not warming_up and score >= self.settings.threshold
        if not is_anomaly:
            for feature, value in features.items():
                self._scorer(feature).learn_one(None, value)
            self.learned += 1
        return Scored(min(max(score, 0.0), 1.0), is_anomaly, warming_up)
