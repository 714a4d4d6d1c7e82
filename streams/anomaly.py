"""Online anomaly scoring of one sensor with River: learn and score each observation once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from river import stats, utils


@dataclass(frozen=True)
class DetectorSettings:
    window_size: int = 600
    warmup: int = 60
    threshold: float = 0.9995
    relative_noise_floor: float = 0.01


@dataclass(frozen=True)
class Scored:
    score: float
    is_anomaly: bool
    warming_up: bool


class RollingGaussianScore:
    """Two-sided Gaussian tail score, 2·|CDF(x) − 0.5| in [0, 1], over a rolling window of
    River statistics. The spread has a floor (a share of the mean's magnitude), so a feature
    that barely moves in normal operation cannot turn measurement jitter into alarms."""

    def __init__(self, window_size: int, relative_floor: float) -> None:
        self.mean: Any = utils.Rolling(stats.Mean, window_size=window_size)
        self.var: Any = utils.Rolling(stats.Var, window_size=window_size)
        self.relative_floor = relative_floor

    def score(self, value: float) -> float:
        mean = float(self.mean.get())
        spread = max(
            math.sqrt(max(float(self.var.get()), 0.0)), abs(mean) * self.relative_floor, 1e-9
        )
        return math.erf(abs(value - mean) / spread / math.sqrt(2))

    def learn(self, value: float) -> None:
        self.mean.update(value)
        self.var.update(value)


class SensorDetector:
    """One rolling Gaussian score per feature; the observation's score is the largest.

    Observations scored as anomalous are not learned, so that a fault does not become the new
    normal; nothing is flagged during the warm-up.
    """

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.learned = 0
        self._scorers: dict[str, RollingGaussianScore] = {}

    def _scorer(self, feature: str) -> RollingGaussianScore:
        if feature not in self._scorers:
            self._scorers[feature] = RollingGaussianScore(
                self.settings.window_size, self.settings.relative_noise_floor
            )
        return self._scorers[feature]

    def observe(self, features: dict[str, float]) -> Scored:
        warming_up = self.learned < self.settings.warmup
        score = 0.0
        if not warming_up:
            score = max((self._scorer(f).score(v) for f, v in features.items()), default=0.0)
        is_anomaly = not warming_up and score >= self.settings.threshold
        if not is_anomaly:
            for feature, value in features.items():
                self._scorer(feature).learn(value)
            self.learned += 1
        return Scored(min(max(score, 0.0), 1.0), is_anomaly, warming_up)
