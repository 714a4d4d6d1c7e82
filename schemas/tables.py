"""The stored tables' shapes, declared once: the columns LinePulse writes, the sort key, the
retention group, and the identity that finds a stored row again (exactly-once inserts).

The DDL in `migrations/` creates these tables; a test holds the two together. The row builders,
the sink's exactly-once guard and the retention settings read their facts from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DATABASE = "linepulse"
RetentionGroup = Literal["raw", "detail", "events", "aggregate"]

_CONTEXT = ("vin", "operator", "work_order")
_OEE = (
    "asset",
    "level",
    "window",
    "window_start",
    "window_end",
    "version",
    "provisional",
    "availability",
    "performance",
    "quality",
    "oee",
    "planned_time_s",
    "run_time_s",
    "unknown_time_s",
    "excluded_time_s",
    "ideal_time_s",
    "good",
    "scrap",
    "total",
    "performance_over_one",
    "losses_s",
    "event_id",
)


@dataclass(frozen=True)
class TableShape:
    """One stored table: `columns` are those LinePulse writes (None for a table a materialized
    view fills); a row is found again by its `event_id` and `time_column`, narrowed by the sort
    key's columns before the time."""

    name: str
    columns: tuple[str, ...] | None
    sort_key: tuple[str, ...]
    time_column: str
    retention: RetentionGroup | None  # None: kept until deleted

    @property
    def qualified(self) -> str:
        """The table's name with its database."""
        return f"{DATABASE}.{self.name}"

    @property
    def lookup_prefix(self) -> tuple[str, ...]:
        """The sort-key columns before the time column (all of them when time is not in it)."""
        if self.time_column not in self.sort_key:
            return self.sort_key
        return self.sort_key[: self.sort_key.index(self.time_column)]


TABLES: dict[str, TableShape] = {
    shape.name: shape
    for shape in (
        TableShape(
            "sensor_readings",
            ("time", "asset", "sensor", "value", "unit", "quality", *_CONTEXT, "event_id"),
            ("asset", "sensor", "time"),
            "time",
            "raw",
        ),
        TableShape(
            "sensor_seconds",
            (
                "second",
                "asset",
                "sensor",
                "samples",
                "mean",
                "min",
                "max",
                "rms",
                "peak",
                "crest_factor",
                "kurtosis",
                "band_low",
                "band_mid",
                "band_high",
                "unit",
                "event_id",
            ),
            ("asset", "sensor", "second"),
            "second",
            "detail",
        ),
        TableShape(
            "anomaly_scores",
            (
                "time",
                "asset",
                "sensor",
                "score",
                "threshold",
                "is_anomaly",
                "warming_up",
                "features",
                "event_id",
            ),
            ("asset", "sensor", "time"),
            "time",
            "detail",
        ),
        TableShape(
            "dead_letters",
            (
                "time",
                "source_topic",
                "partition",
                "offset",
                "error_type",
                "reason",
                "key",
                "payload",
                "event_id",
            ),
            ("source_topic", "time"),
            "time",
            "detail",
        ),
        TableShape(
            "quality_findings",
            (
                "time",
                "asset",
                "sensor",
                "rule",
                "value",
                "detail",
                *_CONTEXT,
                "event_id",
                "reading_id",
            ),
            ("asset", "sensor", "time"),
            "time",
            "detail",
        ),
        TableShape(
            "machine_events",
            (
                "time",
                "asset",
                "kind",
                "state",
                "state_name",
                "reason",
                "good",
                "scrap",
                "rework",
                "counter",
                "counter_value",
                *_CONTEXT,
                "event_id",
            ),
            ("asset", "time", "event_id"),
            "time",
            "events",
        ),
        TableShape(
            "mes_events",
            (
                "time",
                "asset",
                "kind",
                "work_order",
                "product",
                "ideal_cycle_time_s",
                "shift",
                "vin",
                "operator",
                "detail",
                "event_id",
            ),
            ("asset", "time", "event_id"),
            "time",
            "events",
        ),
        TableShape(
            "oee_windows", _OEE, ("asset", "window", "window_start"), "window_start", "aggregate"
        ),
        TableShape(
            "oee_rollups", _OEE, ("asset", "window", "window_start"), "window_start", "aggregate"
        ),
        TableShape(
            "vibration_seconds",
            (
                "second",
                "asset",
                "sensor",
                "velocity_rms_mm_s",
                "zone",
                "held_zone",
                "shaft_rpm",
                "band_low_hz",
                "band_high_hz",
                "suspected",
                "bpfo_ratio",
                "bpfi_ratio",
                "bsf_ratio",
                "ftf_ratio",
                "predicted_limit",
                "predicted_limit_at",
                "predicted_limit_low",
                "predicted_limit_high",
                *_CONTEXT,
                "event_id",
            ),
            ("asset", "sensor", "second"),
            "second",
            "detail",
        ),
        TableShape(
            "alerts",
            (
                "time",
                "alert_id",
                "alert_kind",
                "status",
                "severity",
                "asset",
                "source",
                "message",
                "value",
                "threshold",
                "raised_at",
                "vin",
                "station",
                "operator",
                "work_order",
                "event_id",
                "zone",
                "component",
                "evidence",
                "predicted_limit",
                "predicted_limit_at",
                "predicted_limit_low",
                "predicted_limit_high",
                "alarm_state",
                "version",
                "actor",
                "acknowledged_by",
                "acknowledged_at",
                "assignee",
                "shelved_until",
                "comment",
                "shift",
            ),
            ("alert_id", "time", "status"),
            "time",
            "aggregate",
        ),
        TableShape(
            "sensor_specs",
            (
                "time",
                "asset",
                "sensor",
                "unit",
                "expected_min",
                "expected_max",
                "interval_ms",
                "source",
                "event_id",
            ),
            ("asset", "sensor"),
            "time",
            None,
        ),
        TableShape("sensor_minutes", None, ("asset", "sensor", "minute"), "minute", "aggregate"),
        TableShape("sensor_hours", None, ("asset", "sensor", "hour"), "hour", "aggregate"),
    )
}
