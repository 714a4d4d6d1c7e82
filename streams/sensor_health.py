"""Data quality of one sensor's stream: duplicates, stuck values and silence (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from river import stats

Finding = Literal["duplicate", "stuck"]


@dataclass(frozen=True)
class HealthRules:
    """`stuck_after_s` 0 turns the stuck check off (for sensors that may hold a value)."""

    stuck_after_s: float = 30.0
    stuck_min_readings: int = 5
    silent_after_intervals: float = 5.0
    silent_min_s: float = 5.0
    recent_times: int = 64


@dataclass
class SensorHealth:
    """What is known of one sensor's stream; `observe` each reading, ask `silent` any time."""

    rules: HealthRules = field(default_factory=HealthRules)
    last_time: int | None = None
    last_arrival_ms: int | None = None
    last_value: float | None = None
    same_since: int | None = None
    same_count: int = 0
    recent: list[int] = field(default_factory=list)
    interval: Any = field(default_factory=lambda: stats.RollingQuantile(0.5, window_size=21))

    def observe(self, time_ms: int, value: float | None, arrival_ms: int) -> list[Finding]:
        """Findings of one reading (a batch passes value None: its samples are not compared)."""
        self.last_arrival_ms = arrival_ms
        if time_ms in self.recent:
            return ["duplicate"]
        self.recent = [*self.recent[-(self.rules.recent_times - 1) :], time_ms]
        if self.last_time is not None and time_ms > self.last_time:
            self.interval.update(time_ms - self.last_time)
        self.last_time = max(time_ms, self.last_time or time_ms)
        return ["stuck"] if self._stuck(time_ms, value) else []

    def _stuck(self, time_ms: int, value: float | None) -> bool:
        if value is None or self.rules.stuck_after_s <= 0:
            return False
        if value != self.last_value or self.same_since is None:
            self.last_value, self.same_since, self.same_count = value, time_ms, 1
            return False
        self.same_count += 1
        held_s = (time_ms - self.same_since) / 1000
        return (
            held_s >= self.rules.stuck_after_s and self.same_count >= self.rules.stuck_min_readings
        )

    def expected_interval_ms(self) -> float | None:
        value = self.interval.get()
        return float(value) if value else None

    def silent(self, now_ms: int) -> bool:
        """No reading for `silent_after_intervals` times the sensor's usual interval."""
        interval = self.expected_interval_ms()
        if self.last_arrival_ms is None or interval is None:
            return False
        limit = max(interval * self.rules.silent_after_intervals, self.rules.silent_min_s * 1000)
        return now_ms - self.last_arrival_ms > limit
