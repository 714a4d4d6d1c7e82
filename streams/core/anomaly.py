"""Online anomaly scoring with bounded memory: learn and score each observation once.

Each feature of a sensor (a value, or a vibration second's RMS, peak, ...) is scored in three
steps, chosen by measurement on NAB and SKAB (`load/compare_detectors.py`, `load/RESULTS.md`):

1. deviation: how many fading standard deviations the value lies from its fading mean, squashed
   into [0, 1); values judged anomalous are kept out of these statistics (a bounded quarantine),
   so that a fault does not become the new normal;
2. likelihood: the mean of the last few deviations against the distribution of recent ones, an
   adaptive threshold that follows how noisy the feature usually is (Numenta's anomaly
   likelihood, with Student's t tail so that a young model trusts its estimate less); a value
   beyond the range seen so far, plus a tolerance, is certain;
3. score: the likelihood's tail probability p as -log10(p) / 10 in [0, 1], so 0.5 is p = 1e-5.
   After an onset the score rests (half its value, below the threshold) for a while, so that one
   lasting fault is reported once; `is_anomaly` still says whether the feature is anomalous now,
   with hysteresis: once anomalous, until the score falls below `release` times the threshold.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from river import base
from scipy.special import stdtr

from streams.core.asset_rounds import AssetRounds

_SMALLEST_TAIL = 1e-10
_LOG_SMALLEST_TAIL = math.log(_SMALLEST_TAIL)


@dataclass(frozen=True)
class DetectorSettings:
    """The detectors' hyperparameters: warm-up, threshold, window sizes, rest and quarantine."""

    warmup: int = 300
    threshold: float = 0.5
    window_size: int = 6400
    score_window: int = 8640
    smoothing: int = 10
    rest: int = 100
    quarantine: int = 400
    range_tolerance: float = 0.05
    relative_noise_floor: float = 0.001
    release: float = 0.6
    reestimate_every: int = 100


@dataclass(frozen=True)
class Scored:
    """The outcome of scoring one observation."""

    score: float  # as reported: below the threshold while resting after an onset
    is_anomaly: bool
    warming_up: bool
    evidence: float = 0.0  # the score before the rest: how anomalous the observation is


class FadingMoments:
    """Mean and variance that weigh the last `span` values most: a plain running mean and
    variance until `span` values are in, exponentially fading after that, in constant memory."""

    def __init__(self, span: int) -> None:
        self.fading = 2.0 / (span + 1)
        self.count = 0
        self.mean = 0.0
        self.var = 0.0

    def update(self, value: float) -> None:
        """Take one value into the mean and variance."""
        self.count += 1
        weight = max(1.0 / self.count, self.fading)
        delta = value - self.mean
        self.mean += weight * delta
        self.var = (1.0 - weight) * (self.var + weight * delta * delta)

    @property
    def std(self) -> float:
        """The standard deviation."""
        return math.sqrt(max(self.var, 0.0))


class ValueDeviation:
    """How unusual one feature's value is against its own recent past."""

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self.moments = FadingMoments(settings.window_size)
        self.lowest = math.inf
        self.highest = -math.inf

    def deviation(self, value: float) -> float:
        """How far `value` lies from the mean, squashed into [0, 1)."""
        return 1.0 - math.exp(-self.sigmas(value) / 3.0)

    def sigmas(self, value: float) -> float:
        """How many standard deviations `value` lies from the mean (0 before two values)."""
        if self.moments.count < 2:
            return 0.0
        spread = max(
            self.moments.std, abs(self.moments.mean) * self.settings.relative_noise_floor, 1e-12
        )
        return abs(value - self.moments.mean) / spread

    def beyond_range(self, value: float) -> bool:
        """Beyond the range seen so far (plus the tolerance): anomalous without weighing
        recent deviations."""
        if self.highest <= self.lowest:
            return False
        tolerance = (self.highest - self.lowest) * self.settings.range_tolerance
        return value > self.highest + tolerance or value < self.lowest - tolerance

    def learn(self, value: float, quarantined: bool) -> None:
        """Take the value into the range seen, and into the statistics unless quarantined."""
        if not quarantined:
            self.moments.update(value)
        self.lowest = min(self.lowest, value)
        self.highest = max(self.highest, value)


class DeviationLikelihood:
    """The adaptive threshold: recent deviations against their own usual distribution, whose
    mean and spread are re-estimated every `reestimate_every` observations."""

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self.recent: deque[float] = deque(maxlen=settings.smoothing)
        self.usual = FadingMoments(settings.score_window)
        self.usual_mean = 0.0
        self.usual_std = 1.0
        self.usual_samples = 0
        self.seen = 0
        self.anomalous_run = 0
        # the first deviations, from statistics of a handful of values, are not learned
        self.settles_after = min(settings.warmup // 2, 3 * settings.smoothing)

    def quarantined(self, anomalous: bool) -> bool:
        """Whether this observation stays out of training: anomalous, and not yet anomalous for
        longer than the quarantine (a lasting change of regime is learned in the end)."""
        self.anomalous_run = self.anomalous_run + 1 if anomalous else 0
        return anomalous and self.anomalous_run <= self.settings.quarantine

    @property
    def warming_up(self) -> bool:
        """True until `warmup` deviations have been learned."""
        return self.seen < self.settings.warmup

    def smoothed(self, deviation: float) -> float:
        """The mean of the last `smoothing` deviations, `deviation` included."""
        window = [*self.recent, deviation][-(self.recent.maxlen or 1) :]
        return sum(window) / len(window)

    def score(self, deviation: float) -> float:
        """-log10 of the tail probability of the smoothed deviation, divided by 10."""
        if self.warming_up:
            return 0.0
        z = (self.smoothed(deviation) - self.usual_mean) / max(self.usual_std, 1e-4)
        # Student's t: a distribution estimated from few (overlapping) averages is trusted
        # less, so a young model does not take its first surprise for an anomaly
        tail = float(stdtr(max(1.0, self.usual_samples / 3), -z))
        return min(1.0, max(0.0, math.log(tail + _SMALLEST_TAIL) / _LOG_SMALLEST_TAIL))

    def learn(self, deviation: float, quarantined: bool) -> None:
        """Take one deviation into the recent ones and, unless quarantined, into the usual ones."""
        self.recent.append(deviation)
        settled = self.seen >= self.settles_after
        if settled and not quarantined:
            self.usual.update(sum(self.recent) / len(self.recent))
        self.seen += 1
        # a young model re-estimates more often: every third of what it has seen, at first
        every = min(self.settings.reestimate_every, max(1, self.seen // 3))
        if self.seen % every == 0 or self.seen == self.settings.warmup:
            self.usual_mean = self.usual.mean
            self.usual_std = self.usual.std
            self.usual_samples = min(self.usual.count, self.settings.score_window)


class LikelihoodDetector(base.AnomalyDetector):
    """One feature's detector as a River anomaly detector (`score_one`, then `learn_one`)."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.values = ValueDeviation(self.settings)
        self.likelihood = DeviationLikelihood(self.settings)
        self._last_scored: tuple[float, float] | None = None
        self.anomalous = False

    @property
    def warming_up(self) -> bool:
        """True until `warmup` observations have been learned."""
        return self.likelihood.warming_up

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """The anomaly score in [0, 1] of the one value in `x`."""
        value = _only_value(x)
        if self.warming_up:
            score = 0.0
        elif self.values.beyond_range(value):
            score = 1.0
        else:
            score = self.likelihood.score(self.values.deviation(value))
        self._last_scored = (value, score)
        return score

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        """Learn the one value in `x`, scoring it first unless `score_one` just did."""
        value = _only_value(x)
        last = self._last_scored
        score = last[1] if last is not None and last[0] == value else self.score_one(x)
        self._last_scored = None
        self.anomalous = _hysteresis(self.anomalous, score, self.settings)
        quarantined = self.likelihood.quarantined(self.anomalous)
        self.likelihood.learn(self.values.deviation(value), quarantined)
        self.values.learn(value, quarantined)


class Rest:
    """After an onset, scores are reported below the threshold for `length` observations."""

    def __init__(self, length: int, threshold: float) -> None:
        self.length = length
        self.threshold = threshold
        self.since_onset = length

    def report(self, score: float) -> float:
        """The score to report: resting after an onset, else `score` as it is."""
        if self.since_onset < self.length:
            self.since_onset += 1
            return min(score / 2.0, self.threshold * 0.98)
        if score >= self.threshold:
            self.since_onset = 0
        return score


class SensorDetector:
    """A sensor's observation (one or more features) scored by one detector per feature; the
    observation's score is the largest, and it is anomalous when any feature is."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.learned = 0
        self._features: dict[str, LikelihoodDetector] = {}
        self._rest: dict[str, Rest] = {}

    @property
    def warming_up(self) -> bool:
        """True until `warmup` observations have been learned."""
        return self.learned < self.settings.warmup

    def observe(self, features: dict[str, float]) -> Scored:
        """Score the observation's features, then learn them."""
        best, strongest, anomalous = 0.0, 0.0, False
        for name, value in features.items():
            detector = self._features.get(name)
            if detector is None:
                detector = self._features[name] = LikelihoodDetector(self.settings)
                self._rest[name] = Rest(self.settings.rest, self.settings.threshold)
            x: dict[Hashable, Any] = {name: value}
            evidence = detector.score_one(x)
            detector.learn_one(x)
            anomalous = anomalous or detector.anomalous
            best = max(best, self._rest[name].report(evidence))
            strongest = max(strongest, evidence)
        warming_up = self.warming_up
        self.learned += 1
        return Scored(best, anomalous and not warming_up, warming_up, strongest)


class AssetDetector:
    """The multivariate option: one score for an asset from all its sensors, per round of
    event time (`AssetRounds`: a round closes when every sensor has reported past it). Each
    feature's deviations in the round are averaged (a feature with no value in the round
    carries its last average, for up to the rounds' stall time) and the root mean square over
    the features goes through one likelihood, so small deviations of several sensors at once
    add up; a single sensor's break out of its range is left to that sensor's own model.
    Warm-up, smoothing, rest and quarantine count rounds."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.learned = 0
        self._values: dict[str, ValueDeviation] = {}
        self._rounds = AssetRounds()
        self._carried: dict[str, tuple[float, int]] = {}  # key -> last average, its round
        self._quarantined = False
        self._anomalous = False
        self.likelihood = DeviationLikelihood(self.settings)
        self.rest = Rest(self.settings.rest, self.settings.threshold)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a checkpoint from before event-time rounds: its half-gathered round is dropped
        state.pop("_round", None)
        state.pop("_reports", None)
        state.setdefault("_rounds", AssetRounds())
        state.setdefault("_carried", {})
        self.__dict__.update(state)

    @property
    def warming_up(self) -> bool:
        """True until `warmup` rounds have been learned."""
        return self.likelihood.warming_up

    def observe(
        self, sensor: str, time_ms: int, features: dict[str, float]
    ) -> list[tuple[int, Scored]]:
        """The scores (with each round's start) of the rounds this observation closes."""
        return [
            (closed.start_ms, self._score_round(closed.start_ms, closed.values))
            for closed in self._rounds.add(sensor, time_ms, features)
        ]

    def observe_row(self, features: dict[str, float]) -> Scored:
        """Score one row of features as a whole round (offline scoring of a table)."""
        start_ms = (self.learned + 1) * self._rounds.round_ms
        return self._score_round(start_ms, {name: [v] for name, v in features.items()})

    def _score_round(self, start_ms: int, values: dict[str, list[float]]) -> Scored:
        for key in sorted(values):
            deviation = self._values.get(key) or self._values.setdefault(
                key, ValueDeviation(self.settings)
            )
            total = 0.0
            for value in values[key]:
                total += deviation.deviation(value)
                deviation.learn(value, self._quarantined)
            self._carried[key] = (total / len(values[key]), start_ms)
        oldest = start_ms - self._rounds.stall_ms
        self._carried = {k: c for k, c in self._carried.items() if c[1] >= oldest}
        averages = [average for average, _ in self._carried.values()]
        combined = math.sqrt(sum(a * a for a in averages) / len(averages))
        evidence = self.likelihood.score(combined)
        anomalous = self._anomalous = _hysteresis(self._anomalous, evidence, self.settings)
        self._quarantined = self.likelihood.quarantined(anomalous)
        self.likelihood.learn(combined, self._quarantined)
        warming_up = self.warming_up
        self.learned += 1
        return Scored(
            self.rest.report(evidence), anomalous and not warming_up, warming_up, evidence
        )


def _hysteresis(anomalous: bool, score: float, settings: DetectorSettings) -> bool:
    """Anomalous from the threshold up; once anomalous, until the score falls below
    `release` times the threshold, so a score hovering at the threshold does not flap."""
    limit = settings.threshold * settings.release if anomalous else settings.threshold
    return score >= limit


def _only_value(x: dict[Hashable, Any]) -> float:
    if len(x) != 1:
        msg = f"a feature detector scores one value at a time, got {list(x)}"
        raise ValueError(msg)
    return float(next(iter(x.values())))
