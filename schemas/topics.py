"""Every topic LinePulse reads or writes, with the configuration it is created with."""

from __future__ import annotations

from dataclasses import dataclass, field

SENSOR_READINGS = "linepulse.sensor.readings.v1"
SENSOR_BATCHES = "linepulse.sensor.batches.v1"
SENSOR_SECONDS = "linepulse.sensor.seconds.v1"
SENSOR_SPECS = "linepulse.sensor.specs.v1"
VIBRATION_SECONDS = "linepulse.vibration.seconds.v1"
MACHINE_EVENTS = "linepulse.machine.events.v1"
MES_EVENTS = "linepulse.mes.events.v1"
OEE_RESULTS = "linepulse.oee.results.v1"
ANOMALY_SCORES = "linepulse.anomaly.scores.v1"
ALERTS = "linepulse.alerts.v1"
ALARM_ACTIONS = "linepulse.alarm.actions.v1"  # operators' actions on alarms, keyed by asset
ALERT_CONDITIONS = "linepulse.internal.alert-conditions.v1"  # the processors' alert steps
QUALITY_FINDINGS = "linepulse.quality.findings.v1"
DEAD_LETTERS = "linepulse.dlq.events.v1"
WINDOW_TICKS = "linepulse.internal.ticks.v1"

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    """A topic's name, partition count and topic configuration."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(partitions: int, retention_days: int = 7) -> list[TopicSpec]:
    """All topics. Inputs the OEE agent joins share one partition count (co-partitioned)."""
    retention = {"retention.ms": str(retention_days * DAY_MS)}
    big = {**retention, "compression.type": "producer", "max.message.bytes": str(8 * 1024 * 1024)}
    return [
        TopicSpec(SENSOR_READINGS, partitions, retention),
        TopicSpec(SENSOR_BATCHES, partitions, big),
        TopicSpec(SENSOR_SECONDS, partitions, retention),
        TopicSpec(SENSOR_SPECS, partitions, {"cleanup.policy": "compact"}),
        TopicSpec(VIBRATION_SECONDS, partitions, retention),
        TopicSpec(MACHINE_EVENTS, partitions, retention),
        TopicSpec(MES_EVENTS, partitions, retention),
        TopicSpec(WINDOW_TICKS, partitions, {"retention.ms": str(DAY_MS)}),
        TopicSpec(OEE_RESULTS, partitions, {"retention.ms": str(30 * DAY_MS)}),
        TopicSpec(ANOMALY_SCORES, partitions, retention),
        TopicSpec(ALERT_CONDITIONS, partitions, {"retention.ms": str(7 * DAY_MS)}),
        TopicSpec(ALARM_ACTIONS, partitions, {"retention.ms": str(30 * DAY_MS)}),
        TopicSpec(ALERTS, partitions, {"retention.ms": str(30 * DAY_MS)}),
        TopicSpec(QUALITY_FINDINGS, partitions, retention),
        TopicSpec(DEAD_LETTERS, partitions, {"retention.ms": str(30 * DAY_MS)}),
    ]
