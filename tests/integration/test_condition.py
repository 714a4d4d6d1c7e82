"""A simulated bearing fault through the real worker, Kafka and the embedded store: it raises
`bearing_defect` naming the outer race and a `vibration_severity` whose zone rises, with the
production context and a forecast, stored in ClickHouse; the sound machine raises neither."""

from __future__ import annotations

import time
import uuid

import pytest

from connectors.publisher import Publisher
from connectors.simulator.plant import PlantSimulator
from connectors.simulator.run import run_realtime
from schemas import topics
from schemas.events import SensorSpec
from streams.settings import SimulatorSettings
from tests.integration.conftest import FAST_WINDOWS, ONLY_NEW_EVENTS, WorkerProcess, consume

pytestmark = pytest.mark.integration

RUN_S = 85
# m2's own baseline: the machine's zones are declared tighter than the standard's, so that the
# fault's growth (0.9 mm/s, and as much again every minute) crosses B, C and D within the run
BOUNDARIES = (1.0, 1.3, 1.8)
CONDITION = {
    "vibration_hold_s": 5,
    "vibration_trend_step_s": 2,
    "vibration_trend_min_points": 10,
}


def _own_baseline(simulator: PlantSimulator) -> None:
    declared = simulator.specs

    def specs() -> list[SensorSpec]:
        return [
            spec.model_copy(
                update={
                    "vibration": spec.vibration.model_copy(
                        update={"zone_boundaries_mm_s": BOUNDARIES}
                    )
                }
            )
            if spec.sensor == "m2.vibration" and spec.vibration
            else spec
            for spec in declared()
        ]

    simulator.specs = specs  # type: ignore[method-assign]


def test_a_bearing_fault_raises_its_component_and_a_rising_zone_with_context(
    kafka_bootstrap, tmp_path, request
):
    worker = WorkerProcess(
        kafka_bootstrap, tmp_path, **FAST_WINDOWS, **CONDITION, **ONLY_NEW_EVENTS
    )
    request.addfinalizer(worker.stop)
    worker.start()
    plant = f"bearing{uuid.uuid4().hex[:6]}"
    t0 = int(time.time() * 1000)
    settings = SimulatorSettings(
        plant=plant, lines=1, machines=2, seed=8, vibration_rate_hz=5000, faults="bearing:m2:5"
    )
    simulator = PlantSimulator(settings, t0 - t0 % 1000)
    _own_baseline(simulator)
    run_realtime(simulator, Publisher({"bootstrap.servers": kafka_bootstrap}), RUN_S)

    def ours(alert: dict) -> bool:
        return alert["asset"].startswith(f"{plant}/") and alert["alert_kind"] in (
            "bearing_defect",
            "vibration_severity",
        )

    alerts = consume(kafka_bootstrap, topics.ALERTS, ours, 10_000, timeout_s=20)
    assert not [a for a in alerts if a["asset"].endswith("/m1")], alerts

    bearing = [a for a in alerts if a["alert_kind"] == "bearing_defect"]
    assert [(a["status"], a["component"]) for a in bearing][:1] == [("raised", "outer_race")]
    assert {a["component"] for a in bearing} == {"outer_race"}, bearing
    assert "outer race" in bearing[0]["message"]
    assert bearing[0]["evidence"]["line_1_ratio"] >= 6
    assert bearing[0]["context"]["work_order"]
    assert bearing[0]["context"]["station"] == f"{plant}/line1/st2"
    assert bearing[0]["context"]["vin"]

    severity = [a for a in alerts if a["alert_kind"] == "vibration_severity"]
    assert [a["status"] for a in severity].count("raised") == 1, severity
    zones = [a["zone"] for a in severity]
    assert zones[0] == "C"
    assert "D" in zones, severity
    assert {a["alert_id"] for a in severity} == {severity[0]["alert_id"]}
    critical = next(a for a in severity if a["zone"] == "D")
    assert critical["severity"] == "critical"
    assert severity[0]["context"]["operator"]
    forecasts = [a for a in severity if a.get("predicted_limit_at") is not None]
    assert forecasts, severity
    assert forecasts[0]["predicted_limit"] == BOUNDARIES[2]
    assert forecasts[0]["predicted_limit_low"] <= forecasts[0]["predicted_limit_at"]
    assert forecasts[0]["predicted_limit_at"] <= forecasts[0]["predicted_limit_high"]

    m2 = f"{plant}/line1/st2/m2"
    stored = worker.wait_rows(
        "SELECT alert_kind, status, zone, component FROM linepulse.alerts FINAL "
        f"WHERE asset = '{m2}' ORDER BY time",
        lambda rows: len(rows) >= len([a for a in alerts if a["asset"] == m2]),
    )
    assert ("bearing_defect", "raised", "", "outer_race") in [tuple(r.values()) for r in stored]
    assert ("vibration_severity", "raised", "C", "") in [tuple(r.values()) for r in stored]
    now = worker.wait_rows(
        "SELECT asset, zone, suspected FROM linepulse.vibration_condition_now "
        f"WHERE asset LIKE '{plant}/%' ORDER BY asset",
        lambda rows: len(rows) == 2 and rows[1]["zone"] == "D",
    )
    assert [(r["zone"], r["suspected"]) for r in now] == [("A", ""), ("D", "outer_race")]
