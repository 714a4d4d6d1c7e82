"""Time to limit: a streaming straight-line fit of a feature that trends (velocity RMS, envelope
amplitude, temperature) and when it will cross a limit, with a confidence interval, given only
when the trend is statistically clear (pure). No forecast is better than a wrong one.

Values are averaged per step into points, and a bounded window of points is kept, so memory is
constant. The interval is Fieller's: the times at which the confidence band of the fitted line
crosses the limit (inverse regression), so it widens with the noise and with the distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class TrendRules:
    """`step_s`: values are averaged into one point per step; `points`: how many the window
    keeps (240 one-minute points: the last four hours); no forecast before `min_points`, nor when
    the slope is within `min_t` standard errors of flat, nor further ahead than `max_horizon`
    times the window's span; `confidence` of the interval."""

    step_s: float = 60.0
    points: int = 240
    min_points: int = 20
    min_t: float = 4.0
    max_horizon: float = 4.0
    confidence: float = 0.9


@dataclass(frozen=True)
class LimitForecast:
    """When the trend reaches `limit`: at `at_ms`, between `low_ms` and `high_ms`."""

    limit: float
    at_ms: int
    low_ms: int
    high_ms: int
    slope_per_hour: float


@lru_cache(maxsize=256)
def _t_quantile(confidence: float, degrees: int) -> float:
    from scipy.stats import t as student_t  # noqa: PLC0415 - scipy.stats is slow to import

    return float(student_t.ppf((1 + confidence) / 2, degrees))


@dataclass
class TrendFit:
    """The recent trend of one feature; `observe` values in time order, ask `forecast`."""

    rules: TrendRules = field(default_factory=TrendRules)
    times: list[float] = field(default_factory=list)  # each point's mean time, epoch ms
    means: list[float] = field(default_factory=list)
    step_start: int | None = None
    step_time_sum: float = 0.0
    step_sum: float = 0.0
    step_count: int = 0

    def observe(self, time_ms: int, value: float) -> None:
        """Add one value (a non-finite one is left out)."""
        if not math.isfinite(value):
            return
        step_ms = self.rules.step_s * 1000
        if self.step_start is None:
            self.step_start = time_ms
        elif time_ms - self.step_start >= step_ms:
            self._close_step()
            self.step_start = time_ms
        self.step_time_sum += time_ms
        self.step_sum += value
        self.step_count += 1

    def _close_step(self) -> None:
        if self.step_count:
            self.times.append(self.step_time_sum / self.step_count)
            self.means.append(self.step_sum / self.step_count)
            del self.times[: -self.rules.points], self.means[: -self.rules.points]
        self.step_time_sum, self.step_sum, self.step_count = 0.0, 0.0, 0

    def forecast(self, limit: float) -> LimitForecast | None:
        """When the fitted line crosses `limit`, if the trend is clear, points towards the limit
        and gets there within the horizon; else None."""
        n = len(self.means)
        if n < max(self.rules.min_points, 3):
            return None
        last = self.times[-1]
        x = (np.asarray(self.times) - last) / HOUR_MS
        y = np.asarray(self.means)
        x_mean, y_mean = float(x.mean()), float(y.mean())
        sxx = float(np.sum((x - x_mean) ** 2))
        if sxx <= 0:
            return None
        slope = float(np.sum((x - x_mean) * (y - y_mean))) / sxx
        residual = y - (y_mean + slope * (x - x_mean))
        spread = math.sqrt(float(np.sum(residual**2)) / (n - 2))
        if spread == 0.0 or abs(slope) / (spread / math.sqrt(sxx)) < self.rules.min_t:
            return None
        return self._crossing(limit, slope, spread, n, x_mean, y_mean, sxx, last, -float(x[0]))

    def _crossing(
        self,
        limit: float,
        slope: float,
        spread: float,
        n: int,
        x_mean: float,
        y_mean: float,
        sxx: float,
        last: float,
        span_h: float,
    ) -> LimitForecast | None:
        level_now = y_mean - slope * x_mean
        if (limit - level_now) * slope <= 0:  # moving away from it, or beyond it already
            return None
        distance = limit - y_mean
        crossing_u = distance / slope
        if crossing_u + x_mean > self.rules.max_horizon * span_h:
            return None
        q = _t_quantile(self.rules.confidence, n - 2) * spread
        a = slope * slope - q * q / sxx
        b = -2 * slope * distance
        c = distance * distance - q * q / n
        discriminant = b * b - 4 * a * c
        if a <= 0 or discriminant < 0:
            return None
        roots = sorted(
            ((-b - math.sqrt(discriminant)) / (2 * a), (-b + math.sqrt(discriminant)) / (2 * a))
        )
        at_h, low_h, high_h = (crossing_u + x_mean, roots[0] + x_mean, roots[1] + x_mean)
        return LimitForecast(
            limit=limit,
            at_ms=int(last + at_h * HOUR_MS),
            low_ms=int(last + max(low_h, 0.0) * HOUR_MS),
            high_ms=int(last + high_h * HOUR_MS),
            slope_per_hour=slope,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for snapshots."""
        return {
            "times": list(self.times),
            "means": list(self.means),
            "step": [self.step_start, self.step_time_sum, self.step_sum, self.step_count],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take up `to_dict`'s data."""
        self.times, self.means = list(data["times"]), list(data["means"])
        self.step_start, self.step_time_sum, self.step_sum, self.step_count = data["step"]
