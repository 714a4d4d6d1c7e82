"""How each event becomes ClickHouse rows (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from schemas.events import (
    Alert,
    AnomalyScore,
    AnyEvent,
    DeadLetter,
    MachineState,
    OeeResult,
    PlcCounter,
    ProductionContext,
    ProductionCount,
    QualityFinding,
    SensorBatch,
    SensorReading,
    SensorSecond,
    SensorSpec,
    VibrationSecond,
    WorkOrderStarted,
)
from schemas.states import state_name
from schemas.tables import TABLES

Row = dict[str, Any]


def _ms(time_ms: int) -> float:
    return time_ms / 1000.0


def _context(context: ProductionContext | None) -> Row:
    if context is None:
        return {"vin": "", "operator": "", "work_order": ""}
    return {
        "vin": context.vin or "",
        "operator": context.operator or "",
        "work_order": context.work_order or "",
    }


def _reading(event: SensorReading) -> Iterator[tuple[str, Row]]:
    yield (
        "sensor_readings",
        {
            "time": _ms(event.time),
            "asset": event.asset,
            "sensor": event.sensor,
            "value": event.value,
            "unit": event.unit,
            "quality": event.quality,
            **_context(event.context),
            "event_id": event.id,
        },
    )


def _second(event: SensorSecond) -> Iterator[tuple[str, Row]]:
    yield (
        "sensor_seconds",
        {
            "second": event.time // 1000,
            "asset": event.asset,
            "sensor": event.sensor,
            "samples": event.samples,
            "mean": event.mean,
            "min": event.minimum,
            "max": event.maximum,
            "rms": event.rms,
            "peak": event.peak,
            "crest_factor": event.crest_factor,
            "kurtosis": event.kurtosis,
            "band_low": event.band_low,
            "band_mid": event.band_mid,
            "band_high": event.band_high,
            "unit": event.unit,
            "event_id": event.batch_id,
        },
    )


def _machine(event: MachineState | ProductionCount | PlcCounter) -> Iterator[tuple[str, Row]]:
    row: Row = {
        "time": _ms(event.time),
        "asset": event.asset,
        "kind": event.kind,
        "state": 0,
        "state_name": "",
        "reason": "",
        "good": 0,
        "scrap": 0,
        "rework": 0,
        "counter": "",
        "counter_value": 0,
        **_context(event.context),
        "event_id": event.id,
    }
    if isinstance(event, MachineState):
        row.update(state=event.state, state_name=state_name(event.state), reason=event.reason or "")
    elif isinstance(event, ProductionCount):
        row.update(good=event.good, scrap=event.scrap, rework=event.rework)
    else:
        row.update(counter=event.counter, counter_value=event.value)
    yield "machine_events", row


def _mes(event: AnyEvent) -> Iterator[tuple[str, Row]]:
    data = event.model_dump(exclude={"schema_version", "id", "time", "asset", "context", "kind"})
    context = event.context or ProductionContext()
    yield (
        "mes_events",
        {
            "time": _ms(event.time),
            "asset": event.asset,
            "kind": event.kind,
            "work_order": data.get("work_order") or context.work_order or "",
            "product": data.get("product") or context.product or "",
            "ideal_cycle_time_s": event.ideal_cycle_time_s
            if isinstance(event, WorkOrderStarted)
            else None,
            "shift": data.get("shift") or context.shift or "",
            "vin": data.get("vin") or context.vin or "",
            "operator": data.get("operator") or context.operator or "",
            "detail": str(data),
            "event_id": event.id,
        },
    )


def _oee(event: OeeResult) -> Iterator[tuple[str, Row]]:
    row = event.model_dump(exclude={"schema_version", "id", "time", "context", "kind", "rollup"})
    row.update(
        level="machine" if event.asset.count("/") == 3 else "group",
        window_start=_ms(event.window_start),
        window_end=_ms(event.window_end),
        provisional=int(event.provisional),
        performance_over_one=int(event.performance_over_one),
        event_id=event.id,
    )
    yield ("oee_rollups" if event.rollup else "oee_windows"), row


def _score(event: AnomalyScore) -> Iterator[tuple[str, Row]]:
    yield (
        "anomaly_scores",
        {
            "time": _ms(event.time),
            "asset": event.asset,
            "sensor": event.sensor,
            "score": event.score,
            "threshold": event.threshold,
            "is_anomaly": int(event.is_anomaly),
            "warming_up": int(event.warming_up),
            "features": event.features,
            "event_id": event.id,
        },
    )


def _optional_ms(time_ms: int | None) -> float | None:
    return None if time_ms is None else _ms(time_ms)


def _vibration(event: VibrationSecond) -> Iterator[tuple[str, Row]]:
    yield (
        "vibration_seconds",
        {
            "second": event.time // 1000,
            "asset": event.asset,
            "sensor": event.sensor,
            "velocity_rms_mm_s": event.velocity_rms_mm_s,
            "zone": event.zone,
            "held_zone": event.held_zone,
            "shaft_rpm": event.shaft_rpm,
            "band_low_hz": event.band_low_hz,
            "band_high_hz": event.band_high_hz,
            "suspected": event.suspected or "",
            "bpfo_ratio": event.bpfo_ratio,
            "bpfi_ratio": event.bpfi_ratio,
            "bsf_ratio": event.bsf_ratio,
            "ftf_ratio": event.ftf_ratio,
            "predicted_limit": event.predicted_limit,
            "predicted_limit_at": _optional_ms(event.predicted_limit_at),
            "predicted_limit_low": _optional_ms(event.predicted_limit_low),
            "predicted_limit_high": _optional_ms(event.predicted_limit_high),
            **_context(event.context),
            "event_id": event.id,
        },
    )


def _alert(event: Alert) -> Iterator[tuple[str, Row]]:
    context = event.context or ProductionContext()
    yield (
        "alerts",
        {
            "time": _ms(event.time),
            "alert_id": event.alert_id,
            "alert_kind": event.alert_kind,
            "status": event.status,
            "severity": event.severity,
            "asset": event.asset,
            "source": event.source,
            "message": event.message,
            "value": event.value,
            "threshold": event.threshold,
            "raised_at": _ms(event.raised_at),
            "vin": context.vin or "",
            "station": context.station or "",
            "operator": context.operator or "",
            "work_order": context.work_order or "",
            "event_id": event.id,
            "zone": event.zone or "",
            "component": event.component or "",
            "evidence": dict(event.evidence),
            "predicted_limit": event.predicted_limit,
            "predicted_limit_at": _optional_ms(event.predicted_limit_at),
            "predicted_limit_low": _optional_ms(event.predicted_limit_low),
            "predicted_limit_high": _optional_ms(event.predicted_limit_high),
            "alarm_state": event.alarm_state or "",
            "version": event.version or 0,
            "actor": event.actor or "",
            "acknowledged_by": event.acknowledged_by or "",
            "acknowledged_at": _optional_ms(event.acknowledged_at),
            "assignee": event.assignee or "",
            "shelved_until": _optional_ms(event.shelved_until),
            "comment": event.comment or "",
            "shift": context.shift or "",
        },
    )


def _spec(event: SensorSpec) -> Iterator[tuple[str, Row]]:
    yield (
        "sensor_specs",
        {
            "time": _ms(event.time),
            "asset": event.asset,
            "sensor": event.sensor,
            "unit": event.unit,
            "expected_min": event.expected_min,
            "expected_max": event.expected_max,
            "interval_ms": event.interval_ms,
            "source": event.source,
            "event_id": event.id,
        },
    )


def _finding(event: QualityFinding) -> Iterator[tuple[str, Row]]:
    yield (
        "quality_findings",
        {
            "time": _ms(event.time),
            "asset": event.asset,
            "sensor": event.sensor,
            "rule": event.rule,
            "value": event.value,
            "detail": event.detail,
            **_context(event.context),
            "event_id": event.id,
            "reading_id": event.reading_id,
        },
    )


def _dead_letter(event: DeadLetter) -> Iterator[tuple[str, Row]]:
    yield (
        "dead_letters",
        {
            "time": _ms(event.time),
            "source_topic": event.source_topic,
            "partition": event.partition,
            "offset": event.offset,
            "error_type": event.error_type,
            "reason": event.reason,
            "key": event.key or "",
            "payload": event.payload,
            "event_id": event.id,
        },
    )


def rows_of(event: AnyEvent) -> Iterator[tuple[str, Row]]:
    """(fully qualified table, row) pairs to store for one event."""
    if isinstance(event, SensorReading):
        produced = _reading(event)
    elif isinstance(event, SensorBatch):
        return  # stored as the per-second summaries the anomaly agent derives from it
    elif isinstance(event, SensorSecond):
        produced = _second(event)
    elif isinstance(event, VibrationSecond):
        produced = _vibration(event)
    elif isinstance(event, MachineState | ProductionCount | PlcCounter):
        produced = _machine(event)
    elif isinstance(event, OeeResult):
        produced = _oee(event)
    elif isinstance(event, AnomalyScore):
        produced = _score(event)
    elif isinstance(event, Alert):
        produced = _alert(event)
    elif isinstance(event, DeadLetter):
        produced = _dead_letter(event)
    elif isinstance(event, SensorSpec):
        produced = _spec(event)
    elif isinstance(event, QualityFinding):
        produced = _finding(event)
    else:
        produced = _mes(event)
    for table, row in produced:
        yield TABLES[table].qualified, row
