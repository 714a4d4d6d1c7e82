"""Data quality of one partition's sensors: findings per reading and their alert episodes —
stuck values, values outside the declared range, a drifted rate, silence (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas import topics
from schemas.events import BatchHeader, QualityFinding, SensorReading, SensorSpec
from streams import metrics
from streams.core.alerts import AlertEpisodes, AlertPolicy
from streams.core.sensor_health import Finding, HealthRules, SensorHealth
from streams.processors.protocol import Outputs, Snapshot
from streams.processors.sensor_events import crossed_limit


def _episodes(clear_after: int) -> dict[str, AlertEpisodes]:
    return {
        "stuck": AlertEpisodes(AlertPolicy("data_quality", "warning", 1, clear_after)),
        "silence": AlertEpisodes(AlertPolicy("sensor_silent", "warning", 1, 1)),
        "out_of_range": AlertEpisodes(AlertPolicy("data_quality", "warning", 1, clear_after)),
        "rate": AlertEpisodes(AlertPolicy("data_quality", "info", 1, clear_after)),
    }


@dataclass
class SensorQuality:
    """Every sensor's health and the data-quality episodes of one partition."""

    rules: HealthRules
    clear_after: int
    health: dict[str, SensorHealth] = field(default_factory=dict)  # by "asset|sensor"
    episodes: dict[str, AlertEpisodes] = field(init=False)

    def __post_init__(self) -> None:
        self.episodes = _episodes(self.clear_after)

    def check(
        self,
        event: SensorReading | BatchHeader,
        spec: SensorSpec | None,
        arrival_ms: int,
        out: Outputs,
    ) -> bool:
        """Record the findings of a reading and step its episodes; False when the reading
        must not be scored or learned (a duplicate, stuck, out of range or bad)."""
        key = f"{event.asset}|{event.sensor}"
        health = self.health.setdefault(key, SensorHealth(self.rules))
        value = event.value if isinstance(event, SensorReading) else None
        findings = health.observe(event.time, value, arrival_ms, spec)
        for finding in findings:
            metrics.QUALITY_FINDINGS.labels(finding).inc()
            out.emit(topics.QUALITY_FINDINGS, _finding(event, finding, value, spec))
        if self.episodes["silence"].active(event.asset, event.sensor):
            out.alert(self._observe("silence", event, event.sensor, False, None, None, "again"))
        if "duplicate" in findings:
            return False
        stuck = "stuck" in findings
        held = f"has held {value} for {self.rules.stuck_after_s:.0f} s or more: a stuck sensor"
        out.alert(
            self._observe(
                "stuck",
                event,
                event.sensor,
                stuck,
                value,
                self.rules.stuck_after_s,
                held if stuck else "changes again",
            )
        )
        if spec is not None:
            self._spec_episodes(event, value, spec, findings, health, out)
        return not stuck and "out_of_range" not in findings and event.quality != "bad"

    def _observe(
        self,
        kind: str,
        event: SensorReading | BatchHeader,
        source: str,
        bad: bool,
        value: float | None,
        threshold: float | None,
        what: str,
    ) -> Any:
        subject = event.sensor if kind == "silence" else f"{event.sensor} on {event.asset}"
        message = f"{event.sensor} sends data again" if kind == "silence" else f"{subject} {what}"
        return self.episodes[kind].observe(
            source=source,
            asset=event.asset,
            time=event.time,
            bad=bad,
            value=value,
            threshold=threshold,
            context=event.context,
            message=message,
        )

    def _spec_episodes(
        self,
        event: SensorReading | BatchHeader,
        value: float | None,
        spec: SensorSpec,
        findings: list[Finding],
        health: SensorHealth,
        out: Outputs,
    ) -> None:
        """Episodes of a value outside the declared range and of a drifted rate."""
        if value is not None and (spec.expected_min is not None or spec.expected_max is not None):
            bad = "out_of_range" in findings
            limits = f"{spec.expected_min}..{spec.expected_max} {spec.unit}".strip()
            what = (
                f"reads {value}, outside its expected {limits}"
                if bad
                else f"is within {limits} again"
            )
            threshold = crossed_limit(value, spec)
            out.alert(
                self._observe(
                    "out_of_range", event, f"{event.sensor} range", bad, value, threshold, what
                )
            )
        if spec.interval_ms:
            drifted = "rate_drift" in findings
            median = health.expected_interval_ms() or 0.0
            what = (
                f"arrives every {median / 1000:.2f} s, expected every "
                f"{spec.interval_ms / 1000:.2f} s"
                if drifted
                else "arrives at its expected rate again"
            )
            out.alert(
                self._observe(
                    "rate", event, f"{event.sensor} rate", drifted, median, spec.interval_ms, what
                )
            )

    def find_silent(self, tick_ms: int, out: Outputs) -> None:
        """Raise a sensor-silent episode for every sensor quiet for too long; clear none (a
        reading clears it)."""
        silence = self.episodes["silence"]
        for key, health in self.health.items():
            asset, sensor = key.split("|", 1)
            silent = health.silent(tick_ms)
            if not silent and not silence.active(asset, sensor):
                continue
            quiet_s = (tick_ms - (health.last_arrival_ms or tick_ms)) / 1000
            interval_s = (health.expected_interval_ms() or 0) / 1000
            alert = silence.observe(
                source=sensor,
                asset=asset,
                time=tick_ms,
                bad=silent,
                value=quiet_s,
                threshold=interval_s * self.rules.silent_after_intervals,
                message=f"{sensor} on {asset} sent nothing for {quiet_s:.0f} s "
                f"(usually every {interval_s:.1f} s)",
            )
            if alert is not None and alert.status == "raised":
                metrics.QUALITY_FINDINGS.labels("silent").inc()
                finding = QualityFinding(
                    time=tick_ms,
                    asset=asset,
                    sensor=sensor,
                    rule="silent",
                    value=quiet_s,
                    detail=f"usually every {interval_s:.1f} s",
                )
                out.emit(topics.QUALITY_FINDINGS, finding)
            out.alert(alert)

    def to_dict(self) -> Snapshot:
        """Health and episodes as plain data."""
        return {
            "health": {key: h.to_dict() for key, h in self.health.items()},
            "episodes": {kind: e.to_dict() for kind, e in self.episodes.items()},
        }

    @classmethod
    def from_dict(cls, data: Snapshot, rules: HealthRules, clear_after: int) -> SensorQuality:
        """The quality state of `to_dict`."""
        quality = cls(
            rules,
            clear_after,
            {key: SensorHealth.from_dict(h, rules) for key, h in data["health"].items()},
        )
        for kind, episodes in data["episodes"].items():
            quality.episodes[kind].restore(episodes)
        return quality


def _finding(
    event: SensorReading | BatchHeader, rule: Finding, value: float | None, spec: SensorSpec | None
) -> QualityFinding:
    detail = ""
    if rule == "out_of_range" and spec is not None:
        detail = f"expected {spec.expected_min}..{spec.expected_max} {spec.unit}".strip()
    elif rule == "rate_drift" and spec is not None:
        detail = f"expected every {spec.interval_ms} ms"
    return QualityFinding(
        time=event.time,
        asset=event.asset,
        context=event.context,
        sensor=event.sensor,
        rule=rule,
        value=value,
        detail=detail,
        reading_id=event.id,
    )
