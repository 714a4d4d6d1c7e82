"""Data quality of one sensor's stream: duplicates, stuck values and silence (pure)."""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.events import SensorSpec

Finding = Literal["duplicate", "stuck", "out_of_range", "rate_drift"]
INTERVALS_KEPT = 21


@dataclass(frozen=True)
class HealthRules:
    """`stuck_after_s` 0 turns the stuck check off (for sensors that may hold a value)."""

    stuck_after_s: float = 30.0
    stuck_min_readings: int = 5
    silent_after_intervals: float = 5.0
    silent_min_s: float = 5.0
    recent_times: int = 64
    rate_tolerance: float = 0.5
    rate_min_intervals: int = 10


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
    intervals: list[int] = field(default_factory=list)  # the last INTERVALS_KEPT, oldest first
    intervals_seen: int = 0

    def observe(
        self, time_ms: int, value: float | None, arrival_ms: int, spec: SensorSpec | None = None
    ) -> list[Finding]:
        """Findings of one reading (a batch passes value None: its samples are not compared);
        with the sensor's spec, also a value out of its expected range and an interval that
        drifted from the nominal one."""
        self.last_arrival_ms = arrival_ms
        if time_ms in self.recent:
            return ["duplicate"]
        self.recent = [*self.recent[-(self.rules.recent_times - 1) :], time_ms]
        if self.last_time is not None and time_ms > self.last_time:
            self.intervals = [*self.intervals[-(INTERVALS_KEPT - 1) :], time_ms - self.last_time]
            self.intervals_seen += 1
        self.last_time = max(time_ms, self.last_time or time_ms)
        findings: list[Finding] = ["stuck"] if self._stuck(time_ms, value) else []
        if spec is not None and value is not None and out_of_range(value, spec):
            findings.append("out_of_range")
        if spec is not None and spec.interval_ms and self._drifted(spec.interval_ms):
            findings.append("rate_drift")
        return findings

    def _drifted(self, nominal_ms: float) -> bool:
        median = self.expected_interval_ms()
        if median is None or self.intervals_seen < self.rules.rate_min_intervals:
            return False
        return abs(median / nominal_ms - 1) > self.rules.rate_tolerance

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
        """The median of the recent intervals between readings."""
        value = statistics.median(self.intervals) if self.intervals else None
        return float(value) if value else None

    def to_dict(self) -> dict[str, Any]:
        """What is known, as plain data (the rules come from the configuration)."""
        state = dict(vars(self))
        del state["rules"]
        return state

    @classmethod
    def from_dict(cls, data: dict[str, Any], rules: HealthRules) -> SensorHealth:
        """The health of `to_dict`, judged by `rules`."""
        return cls(rules, **data)

    def silent(self, now_ms: int) -> bool:
        """No reading for `silent_after_intervals` times the sensor's usual interval."""
        interval = self.expected_interval_ms()
        if self.last_arrival_ms is None or interval is None:
            return False
        limit = max(interval * self.rules.silent_after_intervals, self.rules.silent_min_s * 1000)
        return now_ms - self.last_arrival_ms > limit


def out_of_range(value: float, spec: SensorSpec) -> bool:
    """True if `value` lies outside the spec's expected range."""
    low, high = spec.expected_min, spec.expected_max
    return (low is not None and value < low) or (high is not None and value > high)


class SpecBook:
    """The latest spec of every sensor, as the connectors declared them."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str, str], SensorSpec] = {}
        self._speed_sensors: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def put(self, spec: SensorSpec) -> None:
        """Keep `spec` as the latest of its sensor."""
        with self._lock:
            self._specs[(spec.asset, spec.sensor)] = spec
            if spec.vibration is not None and spec.vibration.shaft_speed_sensor:
                self._speed_sensors.add((spec.asset, spec.vibration.shaft_speed_sensor))

    def is_speed_sensor(self, asset: str, sensor: str) -> bool:
        """Whether a vibration sensor of the asset takes its shaft speed (rpm) from `sensor`."""
        with self._lock:
            return (asset, sensor) in self._speed_sensors

    def get(self, asset: str, sensor: str) -> SensorSpec | None:
        """The latest spec of the asset's sensor, if one was declared."""
        with self._lock:
            return self._specs.get((asset, sensor))
