"""Factories for events in tests."""

from __future__ import annotations

from typing import Any

from schemas.events import (
    Alert,
    MachineState,
    PlannedStopEnded,
    PlannedStopStarted,
    PlcCounter,
    ProductionCount,
    SensorReading,
    WorkOrderStarted,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ASSET = "plant1/line1/st1/m1"


def state(at_s: float, code: int, asset: str = ASSET, **kw: Any) -> MachineState:
    return MachineState(time=T0 + round(at_s * 1000), asset=asset, state=code, **kw)


def count(at_s: float, good: int = 1, scrap: int = 0, asset: str = ASSET) -> ProductionCount:
    return ProductionCount(time=T0 + round(at_s * 1000), asset=asset, good=good, scrap=scrap)


def counter(at_s: float, name: str, value: int, asset: str = ASSET) -> PlcCounter:
    return PlcCounter(time=T0 + round(at_s * 1000), asset=asset, counter=name, value=value)


def order(at_s: float, cycle_s: float, asset: str = ASSET, wo: str = "WO-1") -> WorkOrderStarted:
    return WorkOrderStarted(
        time=T0 + round(at_s * 1000),
        asset=asset,
        work_order=wo,
        product="sedan",
        ideal_cycle_time_s=cycle_s,
    )


def stop(
    start_s: float, end_s: float, reason: str = "break", asset: str = ASSET
) -> tuple[PlannedStopStarted, PlannedStopEnded]:
    return (
        PlannedStopStarted(time=T0 + round(start_s * 1000), asset=asset, reason=reason),
        PlannedStopEnded(time=T0 + round(end_s * 1000), asset=asset, reason=reason),
    )


def reading(
    at_s: float, value: float, sensor: str = "m1.temperature", asset: str = ASSET
) -> SensorReading:
    return SensorReading(time=T0 + round(at_s * 1000), asset=asset, sensor=sensor, value=value)


def alert_step(
    status: str,
    at: int,
    *,
    asset: str = ASSET,
    alert_id: str = "a1",
    kind: str = "anomaly",
    severity: str = "warning",
) -> Alert:
    """A processor's alert step (raised, updated, cleared) at epoch ms `at`."""
    return Alert(
        time=at,
        asset=asset,
        alert_id=alert_id,
        alert_kind=kind,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        source=asset if kind == "machine_down" else "vibration",
        message=f"{kind} on {asset}",
        raised_at=at,
    )
