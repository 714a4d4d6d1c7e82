"""Condition monitoring in the sensor processor, without a broker: a bearing fault on a binary
batch stream raises `bearing_defect` naming the component, a velocity that rises and holds
raises `vibration_severity` with its zone, both with the production context, and neither is
raised twice or left open across a restart."""

from __future__ import annotations

import numpy as np

from connectors.simulator.vibration import MachineVibration, vibration
from schemas import topics
from schemas.binary import encode_batch
from schemas.events import (
    Alert,
    BatchHeader,
    ProductionContext,
    SensorReading,
    SensorSpec,
    VibrationSecond,
)
from schemas.vibration import BearingGeometry, VibrationSpec
from streams.core.sensor_health import SpecBook
from streams.processors.sensors import SensorConfig, SensorProcessor
from streams.processors.testing import MemoryModels, ProcessorRun
from tests.factories import ASSET, T0

FS = 5000
SKF_6205 = BearingGeometry(rolling_elements=9, ball_diameter_mm=7.94, pitch_diameter_mm=39.04)
CONTEXT = ProductionContext(vin="WVWZZZ1JZXW000001", station="plant1/line1/st1", operator="op7")
MACHINE = MachineVibration(shaft_hz=25.0, resonance_hz=1500.0)


def _book(**vibration: object) -> SpecBook:
    book = SpecBook()
    spec = VibrationSpec(unit="g", shaft_rpm=1500, bearing=SKF_6205, **vibration)  # type: ignore[arg-type]
    book.put(SensorSpec(time=T0, asset=ASSET, sensor="m1.vibration", vibration=spec))
    return book


def _run(book: SpecBook, models: MemoryModels) -> ProcessorRun:
    config = SensorConfig(checkpoint_ms=1_000)
    return ProcessorRun(
        SensorProcessor(config, specs=book, models=models),
        factory=lambda: SensorProcessor(config, specs=book, models=models),
    )


def _batches(seconds: range, shaft_g: float, impact_g: float, seed: int) -> list[bytes]:
    machine = MachineVibration(shaft_hz=25.0, resonance_hz=1500.0, shaft_g=shaft_g)
    multipliers = SKF_6205.multipliers()
    rng = np.random.default_rng(seed)
    return [
        encode_batch(
            BatchHeader(
                id=f"b{s}",
                time=T0 + s * 1000,
                asset=ASSET,
                sensor="m1.vibration",
                sample_rate_hz=FS,
                unit="g",
                context=CONTEXT,
            ),
            vibration(machine, FS, s, FS, rng, "outer_race", multipliers, impact_g),
        )
        for s in seconds
    ]


def _feed(run: ProcessorRun, batches: list[bytes], first_s: int) -> tuple[list, list[Alert]]:
    seconds, alerts = [], []
    for i, raw in enumerate(batches):
        out = run.send(topics.SENSOR_BATCHES, [raw], now_ms=T0 + (first_s + i + 1) * 1000)
        seconds += [e.event for e in out.emits if isinstance(e.event, VibrationSecond)]
        alerts += out.alerts
    return seconds, alerts


def _of(alerts: list[Alert], kind: str) -> list[Alert]:
    return [a for a in alerts if a.alert_kind == kind]


def test_a_bearing_fault_and_a_rising_velocity_raise_their_alerts_once_across_a_restart():
    models = MemoryModels()
    run = _run(_book(), models)
    quiet, quiet_alerts = _feed(run, _batches(range(0, 15), 0.02, 0.25, 1), 0)
    assert [s.held_zone for s in quiet] == ["A"] * 15
    assert {s.suspected for s in quiet} == {"outer_race"}
    (bearing,) = _of(quiet_alerts, "bearing_defect")
    assert (bearing.status, bearing.component, bearing.source) == (
        "raised",
        "outer_race",
        "m1.vibration",
    )
    assert bearing.time == T0 + 2000  # the third window in a row
    assert bearing.context is not None
    assert bearing.context.vin == CONTEXT.vin
    assert bearing.evidence["line_1_ratio"] >= 6
    assert "outer race" in bearing.message
    assert not _of(quiet_alerts, "vibration_severity")

    rough, rough_alerts = _feed(run, _batches(range(15, 40), 0.07, 0.25, 2), 15)
    assert 2.8 < rough[0].velocity_rms_mm_s < 4.5  # zone C of group 2 rigid
    (severity,) = _of(rough_alerts, "vibration_severity")
    assert (severity.status, severity.zone, severity.severity) == ("raised", "C", "warning")
    assert severity.time == T0 + 25_000  # held 10 s from 15 s
    assert severity.context is not None
    assert severity.context.operator == "op7"
    assert not _of(rough_alerts, "bearing_defect")  # still raised, not raised again

    run.tick(T0 + 41_000)
    run.restart()
    calm, calm_alerts = _feed(run, _batches(range(40, 70), 0.02, 0.0, 3), 40)
    steps = [(a.alert_kind, a.status, a.alert_id) for a in calm_alerts]
    assert steps.count(("vibration_severity", "cleared", severity.alert_id)) == 1
    assert steps.count(("bearing_defect", "cleared", bearing.alert_id)) == 1
    assert not [s for s in steps if s[1] == "raised"]
    assert calm[-1].held_zone == "A"
    assert calm[-1].suspected is None


def test_a_velocity_transmitter_gets_zones_without_a_diagnosis():
    book = SpecBook()
    spec = VibrationSpec(unit="mm/s", machine_group=1, foundation="flexible")
    book.put(SensorSpec(time=T0, asset=ASSET, sensor="m1.velocity", vibration=spec))
    run = _run(book, MemoryModels())
    readings = [
        SensorReading(time=T0 + i * 1000, asset=ASSET, sensor="m1.velocity", value=v, unit="mm/s")
        for i, v in enumerate([2.0] * 5 + [12.0] * 15)
    ]
    out = run.send(topics.SENSOR_READINGS, readings, now_ms=T0 + 21_000)
    seconds = [e.event for e in out.emits if isinstance(e.event, VibrationSecond)]
    assert [s.zone for s in seconds[:5]] == ["A"] * 5  # group 1 flexible: A below 3.5 mm/s
    assert seconds[-1].held_zone == "D"  # above 11 mm/s
    (alert,) = [a for a in out.alerts if a.alert_kind == "vibration_severity"]
    assert (alert.zone, alert.severity) == ("D", "critical")
    assert all(s.suspected is None and s.bpfo_ratio is None for s in seconds)


def test_the_shaft_speed_may_come_from_another_sensor_of_the_asset():
    book = SpecBook()
    spec = VibrationSpec(unit="g", shaft_speed_sensor="m1.speed", bearing=SKF_6205)
    book.put(SensorSpec(time=T0, asset=ASSET, sensor="m1.vibration", vibration=spec))
    run = _run(book, MemoryModels())
    without, _ = _feed(run, _batches(range(0, 2), 0.02, 0.25, 4), 0)
    assert [s.suspected for s in without] == [None, None]  # no speed yet: no diagnosis
    speed = SensorReading(time=T0 + 2000, asset=ASSET, sensor="m1.speed", value=1500.0)
    run.send(topics.SENSOR_READINGS, [speed], now_ms=T0 + 2500)
    measured, _ = _feed(run, _batches(range(2, 5), 0.02, 0.25, 5), 2)
    assert [s.shaft_rpm for s in measured] == [1500.0] * 3
    assert {s.suspected for s in measured} == {"outer_race"}


def test_a_snapshot_from_before_condition_monitoring_restores_with_none_open():
    run = _run(_book(), MemoryModels())
    _feed(run, _batches(range(0, 2), 0.02, 0.25, 6), 0)
    old = run.snapshots()[0]
    del old["condition"]
    fresh = SensorProcessor(SensorConfig(), specs=_book(), models=MemoryModels())
    fresh.restore(0, old)
    assert fresh.snapshot(0)["condition"]["severity"] == {}


def _temperatures(first_s: int, seconds: int, start: float, per_hour: float, seed: int):
    rng = np.random.default_rng(seed)
    return [
        SensorReading(
            time=T0 + s * 1000,
            asset=ASSET,
            sensor="m1.bearing_temp",
            value=round(start + per_hour * (s - first_s) / 3600 + rng.normal(0, 0.3), 3),
            unit="degC",
            context=CONTEXT,
        )
        for s in range(first_s, first_s + seconds, 5)
    ]


def _limited_run() -> ProcessorRun:
    book = SpecBook()
    book.put(SensorSpec(time=T0, asset=ASSET, sensor="m1.bearing_temp", unit="degC", limit=90.0))
    return _run(book, MemoryModels())


def _send_all(run: ProcessorRun, readings: list[SensorReading]) -> list[Alert]:
    alerts = []
    for reading in readings:
        out = run.send(topics.SENSOR_READINGS, [reading], now_ms=reading.time + 100)
        alerts += [a for a in out.alerts if a.alert_kind == "limit_forecast"]
    return alerts


def test_a_temperature_heading_for_its_declared_limit_raises_a_forecast_and_clears():
    run = _limited_run()
    rising = _send_all(run, _temperatures(0, 2 * 3600, 60.0, 6.0, 7))  # 90 degC at 5 h
    raised = [a for a in rising if a.status == "raised"]
    assert len(raised) == 1
    (alert,) = raised
    assert (alert.threshold, alert.predicted_limit, alert.severity) == (90.0, 90.0, "warning")
    true_ms = T0 + 5 * 3_600_000
    assert abs(alert.predicted_limit_at - true_ms) <= 0.1 * (true_ms - alert.time)
    assert alert.predicted_limit_low <= true_ms <= alert.predicted_limit_high
    assert alert.context is not None
    assert alert.context.vin == CONTEXT.vin
    assert "reaches its limit 90 degC" in alert.message
    assert [a.status for a in rising].count("updated") >= 1
    run.restart()
    cooled = _send_all(run, _temperatures(2 * 3600, 3600, 45.0, 0.0, 8))  # repaired
    assert [(a.status, a.alert_id) for a in cooled] == [("cleared", alert.alert_id)]


def test_a_temperature_that_only_wanders_forecasts_nothing():
    run = _limited_run()
    assert _send_all(run, _temperatures(0, 4 * 3600, 70.0, 0.0, 9)) == []


def test_a_growing_defect_forecasts_when_its_envelope_line_reaches_the_declared_limit():
    from streams.core.condition import ConditionSettings
    from streams.core.trend import TrendRules

    book = _book(envelope_limit=400.0)
    quick = ConditionSettings(trend=TrendRules(step_s=2, min_points=10))
    config = SensorConfig(checkpoint_ms=1_000, condition=quick)
    run = ProcessorRun(SensorProcessor(config, specs=book, models=MemoryModels()))
    multipliers = SKF_6205.multipliers()
    rng = np.random.default_rng(11)
    alerts = []
    for s in range(130):  # impacts growing by 0.01 g a second
        header = BatchHeader(
            id=f"g{s}", time=T0 + s * 1000, asset=ASSET, sensor="m1.vibration",
            sample_rate_hz=FS, unit="g", context=CONTEXT,
        )  # fmt: skip
        samples = vibration(MACHINE, FS, s, FS, rng, "outer_race", multipliers, 0.05 + 0.01 * s)
        out = run.send(topics.SENSOR_BATCHES, [encode_batch(header, samples)], T0 + s * 1000)
        alerts += [a for a in out.alerts if a.alert_kind == "bearing_defect"]
    assert [a.status for a in alerts] == ["raised", "updated", "updated"]
    forecasts = [a for a in alerts if a.predicted_limit_at is not None]
    assert forecasts
    assert forecasts[0].predicted_limit == 400.0
    assert forecasts[0].predicted_limit_at > forecasts[0].time
